"""Voice conditioning: a reference clip and its transcript -> what T2S and the vocoder need for a voice.

Upstream's reference handling (spec §1.2), step by step:

1. **Decode** the uploaded file (WAV, FLAC, OGG or MP3, read by libsndfile), mix to mono.
2. **Resample** with soxr (HQ, librosa's default resampler, which upstream calls) to 16 kHz for HuBERT
   and to 32 kHz for the spectrogram; the 32 kHz copy is scaled down like upstream's when its peak
   exceeds 1 (divided by min(2, peak)).
3. **Check**: 3-10 s at 16 kHz (48 000-160 000 samples, upstream's bounds), and not silent.
4. **Prompt text**: the transcript through the worker's frontend, every segment's phone ids and BERT
   features joined (upstream phonemizes the prompt text in one piece).
5. **Prompt tokens**: the 16 kHz clip with 9600 zeros appended (``int(0.3 * 32000)``: upstream's 0.6 s,
   not 0.3 s) -> ``hubert`` graph -> ``prompt_extractor`` graph.
6. **Speaker embedding** (v2Pro / v2ProPlus only): the same 32 kHz clip resampled to 16 kHz the way
   torchaudio's ``Resample`` does it, its Kaldi fbank (``workers.sv_features``) -> ``sv`` graph ->
   ``sv_emb`` [20480]. Stored with the voice; the edge never needs it.
7. **Style**: the 32 kHz clip's linear spectrogram (+ ``sv_emb`` for Pro) -> ``style_encoder`` graph -> ``ge``.

A Pro bundle exported without ``--sv`` cannot register voices; conditioning says which flag is missing.

Every problem with the clip or the transcript is an ``InvalidArgument`` whose message names what to fix.
"""

from __future__ import annotations

import io
import logging
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import numpy as np

from bundle import Bundle, Role, SessionOptions
from relaytts.errors import BundleError, InvalidArgument
from workers.spectrogram import linear_spectrogram
from workers.sv_features import sv_fbank

if TYPE_CHECKING:
    from workers.frontend import Frontend

__all__ = [
    "ACCEPTED_CONTAINERS",
    "HUBERT_PAD_SAMPLES",
    "MAX_CLIP_SAMPLES_16K",
    "MIN_CLIP_SAMPLES_16K",
    "Clip",
    "Conditioner",
    "Conditioning",
    "check_clip",
    "decode_clip",
    "style_vector",
]

log = logging.getLogger(__name__)

HUBERT_RATE: Final = 16000
MIN_CLIP_SAMPLES_16K: Final = 48_000
"""3 s at 16 kHz: upstream's shortest reference."""
MAX_CLIP_SAMPLES_16K: Final = 160_000
"""10 s at 16 kHz: upstream's longest reference."""
HUBERT_PAD_SAMPLES: Final = 9600
"""Zeros appended to the 16 kHz clip before HuBERT: upstream's ``int(sampling_rate * 0.3)`` with its 32 kHz rate."""
MIN_SOURCE_RATE: Final = 8000
ACCEPTED_CONTAINERS: Final = {"WAV": "WAV", "WAVEX": "WAV", "RF64": "WAV", "FLAC": "FLAC", "OGG": "OGG",
                              "MP3": "MP3"}
"""libsndfile major formats accepted, and the name each is reported under."""
SILENCE_FRAME_SAMPLES: Final = 320
"""20 ms frames at 16 kHz for the silence check."""
SILENCE_FLOOR_DBFS: Final = -50.0
"""A frame whose RMS is below this is silence."""
MIN_SOUND_SECONDS: Final = 0.5
"""A clip needs at least this much sound above the floor."""


@dataclass(frozen=True)
class Clip:
    """A decoded, resampled reference clip."""

    container: str
    """WAV, FLAC, OGG or MP3."""
    source_rate: int
    wav16k: np.ndarray
    """float32 mono at 16 kHz, as decoded (HuBERT's input before the silence padding)."""
    wav32k: np.ndarray
    """float32 mono at 32 kHz, peak-limited like upstream (the spectrogram's input)."""

    @property
    def seconds(self) -> float:
        return len(self.wav16k) / HUBERT_RATE


@dataclass(frozen=True)
class Conditioning:
    """What a registered voice stores: the prompt (T2S) and the style vector (vocoder)."""

    prompt_phones: np.ndarray
    """int64 [Np] phone ids of the transcript."""
    prompt_bert: np.ndarray
    """float32 [1024, Np] BERT features of the transcript (zeros for non-Chinese text or without a bert graph)."""
    prompt_tokens: np.ndarray
    """int64 [Tp] semantic tokens of the clip (25 per second)."""
    ge: np.ndarray
    """float32 [gin] style vector."""
    clip: Clip
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds per stage: decode, frontend, hubert, prompt_extractor, sv (Pro only), style."""
    sv_emb: np.ndarray | None = None
    """float32 [20480] ERes2NetV2 speaker embedding the Pro style vector was computed from (None for v2)."""


_FILE_OBJECT: Final = re.compile(r"(?:Error opening )?<[^>]* object at 0x[0-9a-fA-F]+>:?")


def _mp3_bytes(data: bytes) -> bool:
    return data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0)


def decode_clip(data: bytes) -> Clip:
    """Decode an uploaded clip and resample it; ``InvalidArgument`` for anything that is not usable audio."""
    import soundfile
    import soxr

    if not data:
        raise InvalidArgument("`audio` is empty: send the clip file's bytes after the metadata message")
    if _mp3_bytes(data) and "MP3" not in soundfile.available_formats():
        raise InvalidArgument(f"`audio` looks like MP3, which this worker's libsndfile "
                              f"({soundfile.__libsndfile_version__}) cannot decode; send WAV, FLAC or OGG")
    try:
        with soundfile.SoundFile(io.BytesIO(data)) as handle:
            container, rate = handle.format, handle.samplerate
            if container not in ACCEPTED_CONTAINERS:
                raise InvalidArgument(f"`audio` is a {container} file; send WAV, FLAC, OGG or MP3")
            # Bounded before decoding: a small compressed file can declare hours of audio (issue 15).
            # At most 1 s more than the longest clip is decoded, whatever the header says.
            cap = (MAX_CLIP_SAMPLES_16K // HUBERT_RATE + 1) * rate
            if handle.frames > cap:
                raise InvalidArgument(f"`audio` must be {MIN_CLIP_SAMPLES_16K // HUBERT_RATE}-"
                                      f"{MAX_CLIP_SAMPLES_16K // HUBERT_RATE} s long; given "
                                      f"{handle.frames / rate:.2f} s (not decoded)")
            samples = handle.read(frames=cap + 1, dtype="float32", always_2d=True)
    except InvalidArgument:
        raise
    except (soundfile.LibsndfileError, RuntimeError, OSError, ValueError) as exc:
        # libsndfile's message names the file object (``<_io.BytesIO object at 0x...>``): keep only the why
        why = _FILE_OBJECT.sub("", getattr(exc, "error_string", "") or str(exc)).strip(" :")
        raise InvalidArgument(f"`audio` cannot be decoded as WAV, FLAC, OGG or MP3 ({why})") from None
    if rate < MIN_SOURCE_RATE:
        raise InvalidArgument(f"`audio` sample rate must be at least {MIN_SOURCE_RATE} Hz; given {rate} Hz")
    if not len(samples):
        raise InvalidArgument("`audio` holds no samples")
    if not np.isfinite(samples).all():
        raise InvalidArgument("`audio` holds non-finite samples (NaN or infinity)")
    mono = np.ascontiguousarray(samples.mean(axis=1), np.float32)
    wav16k = mono if rate == HUBERT_RATE else soxr.resample(mono, rate, HUBERT_RATE).astype(np.float32)
    wav32k = mono if rate == 32000 else soxr.resample(mono, rate, 32000).astype(np.float32)
    peak = float(np.abs(wav32k).max())
    if peak > 1:
        wav32k = (wav32k / min(2.0, peak)).astype(np.float32)
    return Clip(ACCEPTED_CONTAINERS[container], rate, wav16k, wav32k)


def check_clip(clip: Clip) -> None:
    """Length (3-10 s at 16 kHz) and sound (not silent); ``InvalidArgument`` naming the limit and the value."""
    n = len(clip.wav16k)
    if not MIN_CLIP_SAMPLES_16K <= n <= MAX_CLIP_SAMPLES_16K:
        low, high = MIN_CLIP_SAMPLES_16K // HUBERT_RATE, MAX_CLIP_SAMPLES_16K // HUBERT_RATE
        raise InvalidArgument(f"`audio` must be {low}-{high} s long; given {n / HUBERT_RATE:.2f} s")
    frames = clip.wav16k[: n - n % SILENCE_FRAME_SAMPLES].reshape(-1, SILENCE_FRAME_SAMPLES).astype(np.float64)
    rms = np.sqrt((frames**2).mean(axis=1))
    floor = 10 ** (SILENCE_FLOOR_DBFS / 20)
    sound = float((rms >= floor).sum()) * SILENCE_FRAME_SAMPLES / HUBERT_RATE
    if sound < MIN_SOUND_SECONDS:
        loudest = 20 * np.log10(max(float(rms.max()), 1e-12))
        raise InvalidArgument(f"`audio` is silent: {sound:.2f} s above {SILENCE_FLOOR_DBFS:g} dBFS (at least "
                              f"{MIN_SOUND_SECONDS:g} s needed; loudest 20 ms at {loudest:.0f} dBFS)")


def check_sv_graph(bundle: Bundle) -> None:
    """``BundleError`` naming the missing flag when a v2Pro/v2ProPlus ``bundle`` has no ``sv`` graph."""
    manifest = bundle.manifest
    if manifest.sovits.get("needs_sv_emb") and not any(f.role is Role.SV for f in manifest.files):
        raise BundleError(
            f"bundle {manifest.bundle_id} is {manifest.model_version}: its style vector needs a speaker-verification "
            "embedding, and the bundle has no sv graph; re-export it with `relaytts export ... --sv "
            "pretrained_eres2netv2w24s4ep4.ckpt` (upstream's ERes2NetV2 file)")


def style_vector(bundle: Bundle, wav32k: np.ndarray, style_encoder, sv=None) -> tuple[np.ndarray, np.ndarray | None]:  # noqa: ANN001
    """``ge`` float32 [gin] of a 32 kHz clip, and for Pro bundles the ``sv_emb`` [D] it was computed from.

    ``sv`` is the bundle's sv session (required for v2Pro / v2ProPlus, ignored for v2).
    """
    sovits = bundle.manifest.sovits
    spec = linear_spectrogram(wav32k, sovits["n_fft"], sovits["hop_length"], sovits["win_length"])
    feeds = {"spec": spec}
    emb = None
    if sovits.get("needs_sv_emb"):
        if sv is None:
            check_sv_graph(bundle)
            raise BundleError(f"bundle {bundle.manifest.bundle_id}: no sv session was opened for a Pro style vector")
        emb = sv.run(["sv_emb"], {"fbank": sv_fbank(wav32k, bundle.manifest.sample_rate)})[0]
        feeds["sv_emb"] = emb
    ge = style_encoder.run(None, feeds)[0]
    flat = None if emb is None else np.ascontiguousarray(emb.reshape(-1), np.float32)
    return np.ascontiguousarray(ge.reshape(-1), np.float32), flat


class Conditioner:
    """The bundle's hubert, prompt_extractor, style_encoder (and for Pro, sv) sessions plus the worker's frontend.

    ``Conditioner.load(bundle, frontend)`` fails (``BundleError``) for a bundle that cannot register
    voices: no ``hubert`` graph, or a v2Pro/v2ProPlus bundle without its ``sv`` graph.
    """

    def __init__(self, bundle: Bundle, frontend: Frontend, hubert, prompt_extractor, style_encoder,  # noqa: ANN001
                 sv=None) -> None:  # noqa: ANN001
        self.bundle = bundle
        self.frontend = frontend
        self.hubert = hubert
        self.prompt_extractor = prompt_extractor
        self.style_encoder = style_encoder
        self.sv = sv

    @classmethod
    def load(cls, bundle: Bundle, frontend: Frontend, options: SessionOptions | None = None) -> Conditioner:
        cls.check_bundle(bundle)
        sv = bundle.session(Role.SV, options=options) if bundle.manifest.sovits.get("needs_sv_emb") else None
        return cls(bundle, frontend, bundle.session(Role.HUBERT, options=options),
                   bundle.session(Role.PROMPT_EXTRACTOR, options=options),
                   bundle.session(Role.STYLE_ENCODER, options=options), sv)

    @staticmethod
    def check_bundle(bundle: Bundle) -> None:
        """``BundleError`` naming the reason (and the export flag) when ``bundle`` cannot register voices."""
        manifest = bundle.manifest
        check_sv_graph(bundle)
        if not any(f.role is Role.HUBERT for f in manifest.files):
            raise BundleError(f"bundle {manifest.bundle_id} has no hubert graph, which voice registration needs; "
                              "re-export it with `relaytts export ... --hubert DIR` (a chinese-hubert-base folder)")

    def condition(self, audio: bytes, transcript: str, language: str) -> Conditioning:
        """The whole pipeline (module docstring); ``InvalidArgument`` for a bad clip or transcript."""
        timings: dict[str, float] = {}
        started = time.perf_counter()
        clip = decode_clip(audio)
        check_clip(clip)
        timings["decode"] = time.perf_counter() - started
        started = time.perf_counter()
        phones, bert = self.prompt_text(transcript, language)
        timings["frontend"] = time.perf_counter() - started
        started = time.perf_counter()
        ssl = self.ssl_features(clip.wav16k)
        timings["hubert"] = time.perf_counter() - started
        started = time.perf_counter()
        tokens = self.prompt_tokens(ssl)
        timings["prompt_extractor"] = time.perf_counter() - started
        started = time.perf_counter()
        sovits = self.bundle.manifest.sovits
        spec = linear_spectrogram(clip.wav32k, sovits["n_fft"], sovits["hop_length"], sovits["win_length"])
        emb = None
        if self.sv is not None:
            emb = self.speaker_embedding(clip.wav32k)
            timings["sv"] = time.perf_counter() - started
            started = time.perf_counter()
        feeds = {"spec": spec} if emb is None else {"spec": spec, "sv_emb": emb[None]}
        ge = np.ascontiguousarray(self.style_encoder.run(None, feeds)[0].reshape(-1), np.float32)
        timings["style"] = time.perf_counter() - started
        return Conditioning(phones, bert, tokens, ge, clip, timings, emb)

    def prompt_text(self, transcript: str, language: str) -> tuple[np.ndarray, np.ndarray]:
        """Phone ids int64 [Np] and BERT features float32 [1024, Np] of the whole transcript."""
        if not transcript.strip():
            raise InvalidArgument("`transcript` must be non-empty: the words the clip says")
        segments = self.frontend.phonemize(transcript, language)
        if not segments:
            raise InvalidArgument(f"`transcript` has nothing to speak: {transcript[:60]!r}")
        phones = np.concatenate([np.asarray(s.ids, np.int64) for s in segments])
        bert = np.concatenate([self.frontend.bert_features(s) for s in segments], axis=1).astype(np.float32)
        return phones, np.ascontiguousarray(bert)

    def ssl_features(self, wav16k: np.ndarray) -> np.ndarray:
        """HuBERT features float32 [1, 768, T50] of the clip with upstream's silence appended."""
        padded = np.concatenate([np.asarray(wav16k, np.float32), np.zeros(HUBERT_PAD_SAMPLES, np.float32)])
        return self.hubert.run(["ssl"], {"wav": padded[None]})[0]

    def prompt_tokens(self, ssl: np.ndarray) -> np.ndarray:
        """Prompt semantic tokens int64 [T50 // 2]."""
        return np.ascontiguousarray(self.prompt_extractor.run(None, {"ssl": ssl})[0][0], np.int64)

    def speaker_embedding(self, wav32k: np.ndarray) -> np.ndarray:
        """The ERes2NetV2 embedding float32 [D] of the 32 kHz clip (v2Pro / v2ProPlus bundles only)."""
        if self.sv is None:
            raise BundleError(f"bundle {self.bundle.manifest.bundle_id} is {self.bundle.manifest.model_version}: "
                              "no speaker-verification graph is loaded")
        fbank = sv_fbank(wav32k, self.bundle.manifest.sample_rate)
        return np.ascontiguousarray(self.sv.run(["sv_emb"], {"fbank": fbank})[0].reshape(-1), np.float32)

    def style(self, wav32k: np.ndarray) -> np.ndarray:
        """The style vector ``ge`` float32 [gin] of the 32 kHz clip (with its speaker embedding for Pro bundles)."""
        return style_vector(self.bundle, wav32k, self.style_encoder, self.sv)[0]
