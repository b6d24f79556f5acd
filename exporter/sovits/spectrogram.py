"""Linear-magnitude spectrogram of the reference audio (input of the style encoder).

Matches upstream's ``spectrogram_torch``: reflect padding of ``(n_fft - hop) / 2`` on both sides,
``center=False`` STFT with a periodic Hann window, one-sided, magnitude ``sqrt(re^2 + im^2 + 1e-8)``
(no log, no mel). Frames: ``(N + n_fft - hop - n_fft) // hop + 1``, i.e. about ``N / hop``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .config import SoVITSConfig

__all__ = ["linear_spectrogram"]

#: Added under the square root, as upstream's PyTorch path does (its ONNX variant uses 1e-6).
MAGNITUDE_EPS = 1e-8


def linear_spectrogram(wav: torch.Tensor, config: SoVITSConfig | None = None) -> torch.Tensor:
    """``wav`` [B, N] float at ``config.sampling_rate`` -> linear magnitude [B, n_fft//2+1, T] (float32).

    STFT sizes come from the config's data section (``filter_length``, ``hop_length``,
    ``win_length``); the default config has upstream's 2048 / 640 / 2048.
    """
    cfg = config or SoVITSConfig()
    if wav.dim() != 2:
        raise ValueError(f"wav must be [batch, samples], got shape {tuple(wav.shape)}")
    n_fft, hop, win = cfg.filter_length, cfg.hop_length, cfg.win_length
    pad = (n_fft - hop) // 2
    if wav.shape[1] <= pad:
        raise ValueError(f"reference audio of {wav.shape[1]} samples is too short for a {n_fft}-point STFT")
    x = F.pad(wav.float().unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
    window = torch.hann_window(win, periodic=True, dtype=x.dtype, device=x.device)
    spec = torch.stft(
        x,
        n_fft,
        hop_length=hop,
        win_length=win,
        window=window,
        center=False,
        normalized=False,
        onesided=True,
        return_complex=True,
    )
    return torch.sqrt(torch.view_as_real(spec).pow(2).sum(-1) + MAGNITUDE_EPS)
