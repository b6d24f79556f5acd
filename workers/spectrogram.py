"""The reference linear spectrogram SoVITS' style encoder reads, in numpy (upstream's ``spectrogram_torch``).

Reflect-pad (n_fft - hop) / 2 on both sides, frames of n_fft every hop with a periodic Hann window,
no centring, one-sided magnitude sqrt(re^2 + im^2 + 1e-8) with no log and no mel.
"""

from __future__ import annotations

import numpy as np

__all__ = ["linear_spectrogram"]


def linear_spectrogram(wav: np.ndarray, n_fft: int = 2048, hop: int = 640, win: int = 2048) -> np.ndarray:
    """``wav`` float [N] at 32 kHz -> float32 ``[1, n_fft // 2 + 1, frames]``."""
    pad = (n_fft - hop) // 2
    x = np.pad(np.asarray(wav, np.float64), (pad, pad), mode="reflect")
    frames = 1 + (len(x) - n_fft) // hop
    if frames < 1:
        raise ValueError(f"audio of {len(wav)} samples is too short for a {n_fft}-point spectrogram")
    window = np.zeros(n_fft)
    offset = (n_fft - win) // 2
    window[offset : offset + win] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / win)  # periodic Hann
    index = np.arange(n_fft)[None, :] + hop * np.arange(frames)[:, None]
    spectrum = np.fft.rfft(x[index] * window, axis=1)
    magnitude = np.sqrt(spectrum.real**2 + spectrum.imag**2 + 1e-8)
    return magnitude.T[None].astype(np.float32)
