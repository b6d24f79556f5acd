"""``ref_enc``: MelStyleEncoder, reference linear spectrogram -> global style vector ``ge``.

Works time-major inside (``[B, T, C]``). Inference uses the whole reference (upstream's mask is all
ones), so the final temporal average is a plain mean.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MelStyleEncoder"]


def mish(x: torch.Tensor) -> torch.Tensor:
    """x * tanh(softplus(x)), spelled out so every exporter opset has the pieces."""
    return x * torch.tanh(F.softplus(x))


class _LinearNorm(nn.Module):
    """Upstream's LinearNorm wrapper (state-dict key ``<name>.fc``)."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.fc = nn.Linear(in_features, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


class _ConvNorm(nn.Module):
    """Upstream's ConvNorm wrapper (key ``<name>.conv``), "same" padding."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, padding=(kernel_size - 1) // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class _Conv1dGLU(nn.Module):
    """Conv1d to 2C, gated linear unit ``a * sigmoid(b)``, residual add."""

    def __init__(self, channels: int, kernel_size: int) -> None:
        super().__init__()
        self.channels = channels
        self.conv1 = _ConvNorm(channels, 2 * channels, kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = torch.split(self.conv1(x), self.channels, dim=1)
        return x + a * torch.sigmoid(b)


class _StyleSelfAttention(nn.Module):
    """Multi-head self-attention with Linear projections; temperature sqrt(d_model), not sqrt(d_k)."""

    def __init__(self, d_model: int, n_heads: int) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.temperature = math.sqrt(d_model)
        self.w_qs = nn.Linear(d_model, d_model)
        self.w_ks = nn.Linear(d_model, d_model)
        self.w_vs = nn.Linear(d_model, d_model)
        self.fc = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        h = self.n_heads

        def heads(y: torch.Tensor) -> torch.Tensor:  # [B, T, C] -> [B, H, T, C/H]; channel c -> head c // (C/H)
            return y.reshape(b, t, h, c // h).transpose(1, 2)

        q, k, v = heads(self.w_qs(x)), heads(self.w_ks(x)), heads(self.w_vs(x))
        p = torch.softmax(torch.matmul(q, k.transpose(-2, -1)) / self.temperature, dim=-1)
        out = torch.matmul(p, v).transpose(1, 2).reshape(b, t, c)
        return self.fc(out) + x


class MelStyleEncoder(nn.Module):
    """spectral MLP (Mish) -> 2 temporal GLU convs -> self-attention -> Linear -> mean over time."""

    def __init__(
        self,
        in_bins: int = 704,
        hidden: int = 128,
        out_dim: int = 512,
        kernel_size: int = 5,
        n_heads: int = 2,
    ) -> None:
        super().__init__()
        # Upstream is an nn.Sequential(Linear, Mish, Dropout, Linear, Mish, Dropout): keep indices 0 and 3.
        self.spectral = nn.ModuleList(
            [
                _LinearNorm(in_bins, hidden),
                nn.Identity(),
                nn.Identity(),
                _LinearNorm(hidden, hidden),
                nn.Identity(),
                nn.Identity(),
            ]
        )
        self.temporal = nn.ModuleList(_Conv1dGLU(hidden, kernel_size) for _ in range(2))
        self.slf_attn = _StyleSelfAttention(hidden, n_heads)
        self.fc = _LinearNorm(hidden, out_dim)

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        """``spec`` [B, in_bins, T] -> ``ge`` [B, out_dim, 1]."""
        x = spec.transpose(1, 2)
        x = mish(self.spectral[0](x))
        x = mish(self.spectral[3](x))
        x = x.transpose(1, 2)
        for glu in self.temporal:
            x = glu(x)
        x = self.slf_attn(x.transpose(1, 2))
        return self.fc(x).mean(dim=1).unsqueeze(-1)
