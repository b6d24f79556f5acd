"""Voice conditioning the T2S engine and the edge vocoder need, and the bundle's default voice.

Every bundle has one ``default`` voice: no prompt (upstream's reference-free mode) and a style vector
computed by the bundle's own style encoder from a reference recording, or from a synthetic harmonic
tone when none is given (arbitrary timbre). Registered voices (``workers.conditioning``,
``workers.voice_store``) carry a prompt: the transcript's phones and BERT features and the clip's tokens.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bundle import Bundle, Role, SessionOptions
from relaytts.errors import InvalidArgument

__all__ = ["DEFAULT_VOICE", "Voice", "read_audio", "reference_voice"]

DEFAULT_VOICE = "default"


@dataclass(frozen=True)
class Voice:
    name: str
    ge: np.ndarray
    """float32 ``[gin]`` style vector (what the edge vocoder needs)."""
    prompt_phones: np.ndarray
    """int64 phone ids of the reference transcript (empty: reference-free)."""
    prompt_tokens: np.ndarray
    """int64 semantic tokens of the reference (empty: reference-free)."""
    prompt_bert: np.ndarray = field(default_factory=lambda: np.zeros((1024, 0), np.float32))
    """float32 [1024, len(prompt_phones)] BERT features of the reference transcript."""
    bundle_id: str = ""
    """The bundle a registered voice was computed with (empty: the serving bundle's own default voice)."""

    @property
    def voice_hash(self) -> str:
        """Content hash of the style vector: the edge caches ``ge`` under it."""
        return hashlib.sha256(np.ascontiguousarray(self.ge, "<f4").tobytes()).hexdigest()[:16]


def read_audio(path: Path, rate: int) -> np.ndarray:
    """Mono float32 at ``rate`` (mixed down, resampled with soxr, hot files scaled like upstream)."""
    import soundfile
    import soxr

    try:
        data, source_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, OSError) as exc:
        raise InvalidArgument(f"{path}: cannot read as audio ({exc})") from None
    mono = data.mean(axis=1)
    if source_rate != rate:
        mono = soxr.resample(mono, source_rate, rate)
    peak = float(np.abs(mono).max()) if len(mono) else 0.0
    return mono / min(2.0, peak) if peak > 1 else mono


def synthetic_reference(rate: int, seconds: float = 3.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return sum(0.2 / k * np.sin(2 * np.pi * 140 * k * t) for k in range(1, 6)).astype(np.float32)


def reference_voice(bundle: Bundle, wav_path: str | Path | None = None, options: SessionOptions | None = None,
                    name: str = DEFAULT_VOICE) -> Voice:
    """A reference-free voice whose style comes from ``wav_path`` (or the synthetic tone)."""
    from workers.conditioning import check_sv_graph, style_vector

    manifest = bundle.manifest
    sv = None
    if manifest.sovits.get("needs_sv_emb"):
        check_sv_graph(bundle)  # names the missing `--sv` export flag
        sv = bundle.session(Role.SV, options=options)
    rate = manifest.sample_rate
    wav = synthetic_reference(rate) if wav_path is None else read_audio(Path(wav_path), rate)
    ge, _ = style_vector(bundle, wav, bundle.session(Role.STYLE_ENCODER, options=options), sv)
    return Voice(name=name, ge=ge, prompt_phones=np.zeros(0, np.int64), prompt_tokens=np.zeros(0, np.int64))
