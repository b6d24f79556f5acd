"""``SoVITS``: inference half of upstream's ``SynthesizerTrn`` (v2, v2Pro, v2ProPlus).

State-dict keys equal upstream's, minus ``enc_q.*`` (training only), minus the quantizer's EMA /
k-means buffers (``embed_avg``, ``cluster_size``, ``inited``: training only, and 3 MB of dead
weight in an export), and with every weight-norm pair ``weight_g``/``weight_v`` folded into one
plain ``weight`` (see :func:`exporter.sovits.loader.fold_weight_norm`).

All methods are float32, batch-first, no dropout, and assume un-padded batches (every item has the
same length), as upstream's ``decode`` does.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import SoVITSConfig
from .flow import ResidualCouplingBlock
from .generator import Generator
from .style import MelStyleEncoder
from .text_encoder import Quantizer, TextEncoder

__all__ = ["SoVITS"]


class SoVITS(nn.Module):
    """Semantic tokens + phonemes + reference style -> 32 kHz waveform."""

    def __init__(self, config: SoVITSConfig) -> None:
        super().__init__()
        cfg = config
        self.config = cfg
        # 25 Hz tokens come from 50 Hz HuBERT frames through a stride-2 conv.
        self.ssl_proj = nn.Conv1d(cfg.ssl_dim, cfg.ssl_dim, 2, stride=2)
        self.quantizer = Quantizer(cfg.codebook_size, cfg.ssl_dim)
        self.enc_p = TextEncoder(cfg)
        self.ref_enc = MelStyleEncoder(
            cfg.style_bins, cfg.style_hidden, cfg.gin_channels, cfg.style_kernel, cfg.style_heads
        )
        self.flow = ResidualCouplingBlock(
            cfg.inter_channels,
            cfg.hidden_channels,
            cfg.flow_kernel,
            cfg.flow_wn_layers,
            cfg.n_flows,
            cfg.gin_channels,
        )
        self.dec = Generator(
            cfg.inter_channels,
            cfg.resblock_kernel_sizes,
            cfg.resblock_dilation_sizes,
            cfg.upsample_rates,
            cfg.upsample_initial_channel,
            cfg.upsample_kernel_sizes,
            cfg.gin_channels,
        )
        if cfg.is_pro:
            self.sv_emb = nn.Linear(cfg.sv_dim, cfg.gin_channels)
            self.prelu = nn.PReLU(cfg.gin_channels)
            self.ge_to512 = nn.Linear(cfg.gin_channels, cfg.mrte_hidden)

    @property
    def version(self) -> str:
        """``v2``, ``v2Pro`` or ``v2ProPlus``."""
        return self.config.version

    # ---- reference side ------------------------------------------------------------------------

    def extract_latent(self, ssl: torch.Tensor) -> torch.Tensor:
        """HuBERT features ``ssl`` [B, 768, T50] -> prompt codes int64 [B, 1, T50 // 2]."""
        return self.quantizer.encode(self.ssl_proj(ssl)).unsqueeze(1)

    def style(self, spec: torch.Tensor, sv_emb: torch.Tensor | None = None) -> torch.Tensor:
        """Reference linear spectrogram [B, 1025, T] (+ sv_emb [B, 20480] for Pro) -> ``ge`` [B, gin, 1].

        Several references: call once per reference and average the ``ge`` results (upstream).
        """
        ge = self.ref_enc(spec[:, : self.config.style_bins])
        if self.config.is_pro:
            if sv_emb is None:
                raise ValueError(
                    f"SoVITS {self.version} needs sv_emb (the [B, {self.config.sv_dim}] ERes2NetV2 "
                    "speaker embedding of the reference) to compute the style vector"
                )
            ge = self.prelu(ge + self.sv_emb(sv_emb).unsqueeze(-1))
        return ge

    # ---- synthesis side ------------------------------------------------------------------------

    def mrte_style(self, ge: torch.Tensor) -> torch.Tensor:
        """The 512-d style the MRTE adds: ``ge`` itself (v2) or ``ge_to512(ge)`` (Pro)."""
        if self.config.is_pro:
            return self.ge_to512(ge.transpose(1, 2)).transpose(1, 2)
        return ge

    def encode(
        self,
        codes: torch.Tensor,
        phones: torch.Tensor,
        ge: torch.Tensor,
        speed: float | torch.Tensor = 1.0,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Prior statistics.

        ``codes`` [n_q=1, B, Tg] (upstream layout), ``phones`` [B, Nt], ``ge`` [B, gin, 1] ->
        ``(m_p, logs_p)`` each [B, inter, T] with T = 2*Tg (speed 1) or int(2*Tg / speed) + 1.
        The mask upstream also returns is all ones at inference and is therefore omitted.
        """
        quantized = self.quantizer.decode(codes)  # [B, 768, Tg] at 25 Hz
        # Nearest x2 (each token becomes two 50 Hz frames); stack+flatten exports with dynamic length.
        quantized = torch.stack([quantized, quantized], dim=-1).flatten(2)
        return self.enc_p(quantized, phones, self.mrte_style(ge), speed)

    def flow_reverse(self, z_p: torch.Tensor, ge: torch.Tensor) -> torch.Tensor:
        """Prior sample ``z_p`` [B, inter, T] -> latent ``z`` [B, inter, T] through the inverse flow."""
        return self.flow.reverse(z_p, ge)

    def vocode(self, z: torch.Tensor, ge: torch.Tensor) -> torch.Tensor:
        """Latent ``z`` [B, inter, T] -> waveform [B, 1, T * 640]."""
        return self.dec(z, ge)

    def decode(
        self,
        codes: torch.Tensor,
        phones: torch.Tensor,
        ge: torch.Tensor,
        noise_scale: float | torch.Tensor = 0.5,
        speed: float | torch.Tensor = 1.0,
        noise: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Semantic ``codes`` [1, B, Tg] + target ``phones`` [B, Nt] + ``ge`` -> wav [B, 1, T * 640].

        ``z_p = m_p + noise * exp(logs_p) * noise_scale``; ``noise`` (same shape as ``m_p``) is
        drawn with ``torch.randn(generator=generator)`` when not given. Pass it explicitly for
        deterministic runs and for export.
        """
        m_p, logs_p = self.encode(codes, phones, ge, speed)
        if noise is None:
            noise = torch.randn(m_p.shape, generator=generator, dtype=m_p.dtype, device=m_p.device)
        z_p = m_p + noise * torch.exp(logs_p) * noise_scale
        return self.vocode(self.flow_reverse(z_p, ge), ge)

    def forward(
        self,
        codes: torch.Tensor,
        phones: torch.Tensor,
        ge: torch.Tensor,
        noise: torch.Tensor,
        noise_scale: float | torch.Tensor = 0.5,
    ) -> torch.Tensor:
        """Export entry point: :meth:`decode` at speed 1 with explicit ``noise`` [B, inter, 2*Tg]."""
        return self.decode(codes, phones, ge, noise_scale=noise_scale, noise=noise)
