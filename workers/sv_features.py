"""The speaker-verification front end of v2Pro / v2ProPlus in numpy: 32 kHz clip -> 16 kHz -> Kaldi fbank.

Upstream (``TTS_infer_pack/TTS.py`` + ``sv.py``) feeds ERes2NetV2 with

1. the 32 kHz reference (already peak-limited) resampled by ``torchaudio.transforms.Resample(32000, 16000)``
   with its defaults: windowed-sinc (Hann) interpolation, ``lowpass_filter_width`` 6, ``rolloff`` 0.99.
   This is *not* the soxr/librosa 16 kHz signal HuBERT gets; the two differ enough to matter, so the
   same polyphase kernel is rebuilt here (``resample_sinc``);
2. ``kaldi.fbank(wav, num_mel_bins=80, sample_frequency=16000, dither=0)`` with every other option at its
   Kaldi default: 25 ms / 10 ms frames with snip_edges, per-frame DC removal, pre-emphasis 0.97, Povey
   window, 512-point power spectrum, 80 triangular mel bins 20 Hz..8 kHz, natural log floored at float32
   eps, no energy column and no mean normalisation (``kaldi_fbank``).

Computed in float64 and returned as float32, so the result sits within the float32 noise of upstream's
own output (its fp64-vs-fp32 spread is ~6e-5, in the near-empty lowest mel bins). No torch at run time.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Final

import numpy as np

__all__ = [
    "FBANK_BINS",
    "SV_RATE_HZ",
    "fbank_frames",
    "kaldi_fbank",
    "resample_sinc",
    "sv_fbank",
]

SV_RATE_HZ: Final = 16000
"""Sample rate of the speaker-verification input."""
FBANK_BINS: Final = 80
FRAME_SAMPLES: Final = 400
"""25 ms at 16 kHz."""
SHIFT_SAMPLES: Final = 160
"""10 ms at 16 kHz."""
FFT_SIZE: Final = 512
"""Frame zero-padded to the next power of two (Kaldi's round_to_power_of_two)."""
PREEMPHASIS: Final = 0.97
LOW_HZ: Final = 20.0
"""Kaldi's default low edge of the mel bank; the high edge is Nyquist."""
FLOAT32_EPS: Final = float(np.finfo(np.float32).eps)
"""Kaldi floors mel energies at float32 epsilon before the log (upstream computes in float32)."""


@lru_cache(maxsize=8)
def _sinc_kernel(orig: int, new: int, lowpass_filter_width: int, rolloff: float) -> tuple[np.ndarray, int]:
    """torchaudio's ``_get_sinc_resample_kernel`` (sinc_interp_hann): ``[new, 2 * width + orig]`` taps, width.

    torchaudio builds the kernel in float64 and stores it as float32 (the transform's buffer); the same
    rounding is kept so the filter is bit-identical to upstream's.
    """
    base = min(orig, new) * rolloff
    width = math.ceil(lowpass_filter_width * orig / base)
    idx = np.arange(-width, width + orig, dtype=np.float64)[None, :] / orig
    t = np.arange(0, -new, -1, dtype=np.float64)[:, None] / new + idx
    t = np.clip(t * base, -lowpass_filter_width, lowpass_filter_width)
    window = np.cos(t * math.pi / lowpass_filter_width / 2) ** 2
    t = t * math.pi
    with np.errstate(invalid="ignore", divide="ignore"):
        sinc = np.where(t == 0, 1.0, np.sin(t) / np.where(t == 0, 1.0, t))
    kernel = (sinc * window * (base / orig)).astype(np.float32)
    return kernel, width


def resample_sinc(
    wav: np.ndarray, orig_hz: int, new_hz: int, lowpass_filter_width: int = 6, rolloff: float = 0.99
) -> np.ndarray:
    """``wav`` [N] at ``orig_hz`` -> float32 [ceil(N * new / orig)] as ``torchaudio.transforms.Resample`` gives it."""
    wav = np.asarray(wav, np.float32)
    if orig_hz == new_hz:
        return wav.copy()
    gcd = math.gcd(int(orig_hz), int(new_hz))
    orig, new = int(orig_hz) // gcd, int(new_hz) // gcd
    kernel, width = _sinc_kernel(orig, new, lowpass_filter_width, float(rolloff))
    length = len(wav)
    padded = np.concatenate([np.zeros(width, np.float64), wav.astype(np.float64), np.zeros(width + orig, np.float64)])
    taps = kernel.shape[1]
    steps = (len(padded) - taps) // orig + 1
    # Strided conv1d, as torchaudio does it: output step s, phase p reads padded[s*orig : s*orig + taps].
    frames = np.lib.stride_tricks.as_strided(padded, (steps, taps), (orig * padded.strides[0], padded.strides[0]))
    out = (frames @ kernel.astype(np.float64).T).reshape(-1)  # [steps, new] -> time-major interleave
    target = math.ceil(new * length / orig)
    return out[:target].astype(np.float32)


def fbank_frames(samples: int) -> int:
    """Frames of the fbank of ``samples`` 16 kHz samples (snip_edges): 0 when shorter than one frame."""
    return 0 if samples < FRAME_SAMPLES else 1 + (samples - FRAME_SAMPLES) // SHIFT_SAMPLES


def _mel(hz: np.ndarray | float) -> np.ndarray | float:
    return 1127.0 * np.log(1.0 + np.asarray(hz) / 700.0)


@lru_cache(maxsize=4)
def _mel_banks(bins: int, rate: int) -> np.ndarray:
    """Kaldi's triangular mel bank ``[bins, FFT_SIZE // 2 + 1]`` (the Nyquist column is zero).

    Built in float32 with upstream's operation order: the bank's float32 rounding shows up as ~1e-4 in the
    log of the near-empty low bins, so it is reproduced rather than improved on.
    """
    f32 = np.float32
    low = f32(_mel(LOW_HZ))
    delta = f32((float(_mel(0.5 * rate)) - float(_mel(LOW_HZ))) / (bins + 1))
    b = np.arange(bins, dtype=f32)[:, None]
    left, center, right = low + b * delta, low + (b + f32(1)) * delta, low + (b + f32(2)) * delta
    freqs = f32(rate / FFT_SIZE) * np.arange(FFT_SIZE // 2, dtype=f32)
    mel = (f32(1127.0) * np.log(f32(1.0) + freqs / f32(700.0)))[None, :]
    up = (mel - left) / (center - left)
    down = (right - mel) / (right - center)
    banks = np.maximum(f32(0), np.minimum(up, down))
    return np.pad(banks, ((0, 0), (0, 1))).astype(np.float64)


@lru_cache(maxsize=1)
def _povey_window() -> np.ndarray:
    n = np.arange(FRAME_SAMPLES, dtype=np.float64)
    return (0.5 - 0.5 * np.cos(2 * math.pi * n / (FRAME_SAMPLES - 1))) ** 0.85  # symmetric Hann ^ 0.85


def kaldi_fbank(wav16k: np.ndarray, bins: int = FBANK_BINS) -> np.ndarray:
    """16 kHz float waveform [N] (no x32768 scaling) -> float32 log-mel fbank ``[T, bins]``, T = 1 + (N-400)//160.

    Raises ``ValueError`` for a clip shorter than one 25 ms frame.
    """
    x = np.asarray(wav16k, np.float64).reshape(-1)
    frames = fbank_frames(len(x))
    if frames < 1:
        raise ValueError(f"audio of {len(x)} samples is shorter than one {FRAME_SAMPLES}-sample fbank frame")
    x = np.ascontiguousarray(x)
    strided = np.lib.stride_tricks.as_strided(x, (frames, FRAME_SAMPLES), (SHIFT_SAMPLES * x.strides[0], x.strides[0]))
    framed = strided - strided.mean(axis=1, keepdims=True)
    previous = np.concatenate([framed[:, :1], framed[:, :-1]], axis=1)  # the first sample pre-emphasises itself
    framed = (framed - PREEMPHASIS * previous) * _povey_window()
    power = np.abs(np.fft.rfft(framed, n=FFT_SIZE, axis=1)) ** 2
    energies = power @ _mel_banks(bins, SV_RATE_HZ).T
    return np.log(np.maximum(energies, FLOAT32_EPS)).astype(np.float32)


def sv_fbank(wav32k: np.ndarray, rate: int = 32000) -> np.ndarray:
    """The speaker-verification net's input for a (peak-limited) reference clip: float32 ``[1, T, 80]``."""
    wav16k = resample_sinc(wav32k, rate, SV_RATE_HZ)
    return kaldi_fbank(wav16k)[None]
