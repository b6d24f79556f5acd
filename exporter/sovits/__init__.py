"""SoVITS v2 / v2Pro / v2ProPlus: a state-dict-compatible reimplementation of upstream's SynthesizerTrn.

>>> model = load_sovits("voice.pth")                      # doctest: +SKIP
>>> ge = model.style(linear_spectrogram(wav32k, model.config), sv_emb)   # doctest: +SKIP
>>> wav = model.decode(codes, phones, ge, noise_scale=0.5)              # doctest: +SKIP
"""

from .config import SUPPORTED_VERSIONS, SoVITSConfig
from .loader import detect_version, fold_weight_norm, load_sovits
from .model import SoVITS
from .spectrogram import linear_spectrogram

__all__ = [
    "SUPPORTED_VERSIONS",
    "SoVITS",
    "SoVITSConfig",
    "detect_version",
    "fold_weight_norm",
    "linear_spectrogram",
    "load_sovits",
]
