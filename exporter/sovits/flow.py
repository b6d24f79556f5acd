"""``flow``: ResidualCouplingBlock of mean-only affine couplings with WaveNet conditioning.

Only the reverse direction (prior sample -> latent ``z``) runs at inference. Weight-normed convs
arrive already folded into plain ``weight`` tensors by the loader.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ResidualCouplingBlock"]


class WN(nn.Module):
    """Non-causal WaveNet: gated dilated convs conditioned on ``ge``, residual + skip sums."""

    def __init__(self, hidden: int, kernel_size: int, n_layers: int, gin_channels: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.n_layers = n_layers
        self.cond_layer = nn.Conv1d(gin_channels, 2 * hidden * n_layers, 1)
        self.in_layers = nn.ModuleList(
            nn.Conv1d(hidden, 2 * hidden, kernel_size, padding=(kernel_size - 1) // 2) for _ in range(n_layers)
        )
        # The last layer only feeds the skip sum, so it outputs `hidden` channels instead of 2*hidden.
        self.res_skip_layers = nn.ModuleList(
            nn.Conv1d(hidden, 2 * hidden if i < n_layers - 1 else hidden, 1) for i in range(n_layers)
        )

    def forward(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        hc = self.hidden
        cond = self.cond_layer(g)  # [B, 2*hidden*n_layers, 1]
        skip = torch.zeros_like(x)
        for i, (in_layer, res_skip) in enumerate(zip(self.in_layers, self.res_skip_layers, strict=True)):
            a = in_layer(x) + cond[:, 2 * hc * i : 2 * hc * (i + 1)]
            acts = torch.tanh(a[:, :hc]) * torch.sigmoid(a[:, hc:])
            rs = res_skip(acts)
            if i < self.n_layers - 1:
                x = x + rs[:, :hc]
                skip = skip + rs[:, hc:]
            else:
                skip = skip + rs
        return skip


class ResidualCouplingLayer(nn.Module):
    """Mean-only coupling: ``x1 -= post(WN(pre(x0), ge))`` in reverse."""

    def __init__(self, channels: int, hidden: int, kernel_size: int, wn_layers: int, gin_channels: int) -> None:
        super().__init__()
        self.half = channels // 2
        self.pre = nn.Conv1d(self.half, hidden, 1)
        self.enc = WN(hidden, kernel_size, wn_layers, gin_channels)
        self.post = nn.Conv1d(hidden, self.half, 1)

    def reverse(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        x0, x1 = torch.split(x, self.half, dim=1)
        mean = self.post(self.enc(self.pre(x0), g))
        return torch.cat([x0, x1 - mean], dim=1)


class Flip(nn.Module):
    """Reverses the channel order (its own inverse); no parameters."""

    def reverse(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        return torch.flip(x, [1])


class ResidualCouplingBlock(nn.Module):
    """``flows`` = [Coupling, Flip] x n_flows (state-dict indices 0, 2, 4, ... hold the couplings)."""

    def __init__(
        self,
        channels: int,
        hidden: int,
        kernel_size: int = 5,
        wn_layers: int = 4,
        n_flows: int = 4,
        gin_channels: int = 512,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(n_flows):
            layers.append(ResidualCouplingLayer(channels, hidden, kernel_size, wn_layers, gin_channels))
            layers.append(Flip())
        self.flows = nn.ModuleList(layers)

    def reverse(self, z_p: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """Prior sample ``z_p`` [B, C, T] and style ``g`` [B, gin, 1] -> latent ``z`` [B, C, T]."""
        x = z_p
        for flow in reversed(self.flows):
            x = flow.reverse(x, g)
        return x

    def forward(self, z_p: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """Same as :meth:`reverse` (inference only ever runs this direction)."""
        return self.reverse(z_p, g)
