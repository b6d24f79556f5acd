"""``dec``: HiFi-GAN v1-style generator conditioned on ``ge`` (latent z at 50 Hz -> 32 kHz audio)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Generator"]

LRELU_SLOPE = 0.1


class ResBlock1(nn.Module):
    """Three (lrelu, dilated conv, lrelu, conv) residual units with "same" padding."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, dilation=d, padding=(kernel_size * d - d) // 2)
            for d in dilations
        )
        self.convs2 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, padding=(kernel_size - 1) // 2) for _ in dilations
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c1, c2 in zip(self.convs1, self.convs2, strict=True):
            t = c2(F.leaky_relu(c1(F.leaky_relu(x, LRELU_SLOPE)), LRELU_SLOPE))
            x = x + t
        return x


class Generator(nn.Module):
    """conv_pre + cond(ge) -> [lrelu, ConvTranspose1d, mean of ResBlock1s] per stage -> conv_post -> tanh."""

    def __init__(
        self,
        in_channels: int,
        resblock_kernel_sizes: tuple[int, ...],
        resblock_dilation_sizes: tuple[tuple[int, ...], ...],
        upsample_rates: tuple[int, ...],
        upsample_initial_channel: int,
        upsample_kernel_sizes: tuple[int, ...],
        gin_channels: int,
    ) -> None:
        super().__init__()
        ch = upsample_initial_channel
        self.num_kernels = len(resblock_kernel_sizes)
        self.conv_pre = nn.Conv1d(in_channels, ch, 7, padding=3)
        self.ups = nn.ModuleList(
            nn.ConvTranspose1d(ch >> i, ch >> (i + 1), k, u, padding=(k - u) // 2)
            for i, (u, k) in enumerate(zip(upsample_rates, upsample_kernel_sizes, strict=True))
        )
        self.resblocks = nn.ModuleList(
            ResBlock1(ch >> (i + 1), k, tuple(d))
            for i in range(len(upsample_rates))
            for k, d in zip(resblock_kernel_sizes, resblock_dilation_sizes, strict=True)
        )
        self.conv_post = nn.Conv1d(ch >> len(upsample_rates), 1, 7, padding=3, bias=False)
        self.cond = nn.Conv1d(gin_channels, ch, 1)

    def forward(self, z: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """``z`` [B, C, T], ``g`` [B, gin, 1] -> waveform [B, 1, T * prod(upsample_rates)] in [-1, 1]."""
        x = self.conv_pre(z) + self.cond(g)
        n = self.num_kernels
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, LRELU_SLOPE))
            xs = self.resblocks[i * n](x)
            for j in range(1, n):
                xs = xs + self.resblocks[i * n + j](x)
            x = xs / n
        # The final activation uses leaky_relu's default slope 0.01, unlike every other one (upstream).
        return torch.tanh(self.conv_post(F.leaky_relu(x, 0.01)))
