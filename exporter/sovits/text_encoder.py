"""``quantizer`` (single-codebook VQ) and ``enc_p`` (SSL/text encoders + MRTE + projection)."""

from __future__ import annotations

import torch
from torch import nn

from .attentions import MRTE, Encoder
from .config import SoVITSConfig

__all__ = ["Quantizer", "TextEncoder", "linear_resize", "speed_length"]


class _Codebook(nn.Module):
    """Holds ``embed`` [codebook_size, dim]; upstream's EMA/k-means buffers are training-only."""

    def __init__(self, codebook_size: int, dim: int) -> None:
        super().__init__()
        self.register_buffer("embed", torch.zeros(codebook_size, dim))


class _VQLayer(nn.Module):
    def __init__(self, codebook_size: int, dim: int) -> None:
        super().__init__()
        self._codebook = _Codebook(codebook_size, dim)


class _LayerStack(nn.Module):
    def __init__(self, codebook_size: int, dim: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList([_VQLayer(codebook_size, dim)])


class Quantizer(nn.Module):
    """Upstream's ResidualVectorQuantizer with n_q = 1 and no projection (codebook dim = SSL dim)."""

    def __init__(self, codebook_size: int, dim: int) -> None:
        super().__init__()
        self.vq = _LayerStack(codebook_size, dim)

    @property
    def embed(self) -> torch.Tensor:
        return self.vq.layers[0]._codebook.embed

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` [B, D, T] -> nearest codebook row per frame, int64 [B, T] (squared Euclidean)."""
        flat = x.transpose(1, 2)  # [B, T, D]
        embed = self.embed
        # Same expansion as upstream (-(|x|^2 - 2 x.e + |e|^2), argmax) so ties break identically.
        dist = -(flat.pow(2).sum(-1, keepdim=True) - 2 * flat @ embed.t() + embed.pow(2).sum(-1))
        return dist.argmax(dim=-1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """``codes`` [n_q=1, B, T] -> quantized latent [B, D, T]."""
        return nn.functional.embedding(codes[0], self.embed).transpose(1, 2)


def speed_length(length: int | torch.Tensor, speed: float | torch.Tensor) -> int | torch.Tensor:
    """Frames after upstream's speed change: ``length`` at speed 1, else ``int(length / speed) + 1``.

    With Python numbers this is exactly upstream's arithmetic (double precision). Under tracing
    (``length`` is a traced size) or with a tensor ``speed`` (an export input) the same formula is
    built from float64 tensor ops with no Python branch on the value. A float32 ``speed`` input is
    not the Python double upstream uses, so for speeds where ``length / speed`` lands within
    rounding of an integer the frame count can differ by one from upstream.
    """
    if not isinstance(speed, torch.Tensor) and not isinstance(length, torch.Tensor):
        return int(length) if speed == 1 else int(length / speed) + 1
    length_t = (
        length.to(torch.float64)
        if isinstance(length, torch.Tensor)
        else torch.full(
            (), length, dtype=torch.float64, device=speed.device if isinstance(speed, torch.Tensor) else None
        )
    )
    if not isinstance(speed, torch.Tensor):
        return length_t.to(torch.int64) if speed == 1 else (torch.floor(length_t / speed) + 1).to(torch.int64)
    speed_t = speed.to(torch.float64)
    changed = torch.floor(length_t / speed_t) + 1
    return torch.where(speed_t == 1, length_t, changed).to(torch.int64)


def linear_resize(x: torch.Tensor, size: int | torch.Tensor) -> torch.Tensor:
    """Linear interpolation of ``x`` [B, C, T] to ``size`` frames, as ``F.interpolate(mode="linear")``.

    (align_corners=False, scale = T / size.) Written with ``index_select`` so ``size`` may be a
    traced tensor; when ``size == T`` it is exactly the identity.
    """
    out_pos = torch.arange(size, device=x.device, dtype=torch.float32)
    t_in = x.shape[-1]
    # float32 scale T / size, as F.interpolate computes it (a traced size is already a tensor).
    t_in_f = t_in.to(torch.float32) if isinstance(t_in, torch.Tensor) else torch.tensor(float(t_in), device=x.device)
    scale = t_in_f / out_pos.shape[0]
    src = ((out_pos + 0.5) * scale - 0.5).clamp(min=0)
    # src < T - 0.5, so floor(src) <= T - 1; the right neighbour of the last frame is the last
    # frame itself (as in F.interpolate), which one replicated frame provides without a clamp.
    i0 = src.floor().to(torch.int64)
    lam = (src - i0.to(torch.float32)).to(x.dtype)
    padded = torch.cat([x, x[:, :, -1:]], dim=2)
    return padded.index_select(2, i0) * (1 - lam) + padded.index_select(2, i0 + 1) * lam


class TextEncoder(nn.Module):
    """``enc_p``: SSL latent + phonemes + style -> prior mean / log-std [B, inter, T]."""

    def __init__(self, cfg: SoVITSConfig) -> None:
        super().__init__()
        hc = cfg.hidden_channels
        self.out_channels = cfg.inter_channels

        def encoder(n_layers: int) -> Encoder:
            return Encoder(hc, cfg.filter_channels, cfg.n_heads, n_layers, cfg.kernel_size, cfg.window_size)

        self.ssl_proj = nn.Conv1d(cfg.ssl_dim, hc, 1)
        self.encoder_ssl = encoder(cfg.n_layers // 2)
        self.text_embedding = nn.Embedding(cfg.n_symbols, hc)
        self.encoder_text = encoder(cfg.n_layers)
        self.mrte = MRTE(hc, cfg.mrte_hidden, cfg.mrte_heads)
        self.encoder2 = encoder(cfg.n_layers // 2)
        self.proj = nn.Conv1d(hc, 2 * cfg.inter_channels, 1)

    def forward(
        self,
        y: torch.Tensor,
        phones: torch.Tensor,
        ge: torch.Tensor,
        speed: float | torch.Tensor = 1.0,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``y`` [B, 768, Ty] (50 Hz), ``phones`` [B, Tt], ``ge`` [B, 512, 1] -> (m_p, logs_p)."""
        y = self.encoder_ssl(self.ssl_proj(y))
        text = self.encoder_text(self.text_embedding(phones).transpose(1, 2))
        y = self.encoder2(self.mrte(y, text, ge))
        if isinstance(speed, torch.Tensor) or speed != 1:
            y = linear_resize(y, speed_length(y.shape[-1], speed))
        m_p, logs_p = torch.split(self.proj(y), self.out_channels, dim=1)
        return m_p, logs_p
