"""The edge vocoder: semantic tokens -> 32 kHz audio, whole segments or streamed as tokens arrive.

Streaming decodes one window per batch of new tokens. The vocoder graph is two parts of very different
cost: the encoder (token/phoneme transformers, MRTE, flow: ~10% of the time) and the HiFi-GAN generator
(~90%). A window therefore re-encodes ``left_context_tokens`` of already-played tokens (the encoder's
attention needs them for the new tokens to sound the same as offline), but the graph's ``dec_frames``
input crops the latent so the generator synthesises only the new tokens plus ``margin_tokens`` before
them (its convolutions' reach; that audio is discarded). Streamed vocoding thus costs the generator
``margin + holdback`` extra tokens per window instead of the whole left context again.

The last ``holdback_tokens`` of each window are held back (they lack right context and will change
once more tokens arrive); the next window re-synthesises them and the join is crossfaded over the
held-back span. At the segment end the remainder is emitted with no holdback, so the streamed audio
has exactly the offline decode's length. Bundles exported before ``dec_frames`` existed still stream:
their generator runs over the whole window, as it always did.

At a speed other than 1 the graph resamples each window's latent to ``int(frames / speed) + 1``
frames, so a token boundary no longer falls on a whole sample count and two windows place it a
little differently. Each join is then aligned first (the shift, within half a latent frame, that best
matches the held-back audio, as upstream's SOLA does), and the end is padded or trimmed to the
offline length.

Noise is a pure function of (seed, absolute latent frame), drawn in fixed blocks, so overlapping
windows see the same noise wherever they cut the segment, and a stream equals an offline decode
made with the same seed up to window effects.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from bundle import Bundle, Precision, Role, SessionOptions

__all__ = ["AudioChunk", "SegmentStream", "StreamingConfig", "Vocoder", "segment_noise"]

NOISE_BLOCK_FRAMES = 256
FRAMES_PER_TOKEN = 2
SPEED_EXTRA_HOLDBACK_TOKENS = 2
"""Added to the holdback at speed != 1: windows stretched on their own grids need a longer overlap for
the join alignment (spectral SNR vs offline on the fixture model: 14 dB without, 17-23 dB with)."""


def speed_frames(frames: int, speed: float) -> int:
    """Latent frames after the graph's speed change (upstream's formula): unchanged at speed 1."""
    return frames if speed == 1 else int(frames / speed) + 1


@dataclass(frozen=True)
class AudioChunk:
    """Float32 mono samples in [-1, 1] at ``sample_rate``."""

    samples: np.ndarray
    sample_rate: int = 32000

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.sample_rate

    @cached_property
    def pcm16(self) -> bytes:
        """Little-endian int16 PCM (computed once, on first use)."""
        return (np.clip(self.samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()


@dataclass(frozen=True)
class StreamingConfig:
    """How a segment is cut into vocoder windows (defaults measured in docs/benchmarks.md)."""

    left_context_tokens: int = 16
    """Already-played tokens each window re-encodes, so the encoder's attention sees what came before."""
    margin_tokens: int = 1
    """Tokens before the new ones the generator synthesises and discards (its convolutions reach back
    this far); graphs without ``dec_frames`` synthesise the whole left context instead."""
    holdback_tokens: int = 3
    """Tokens at a window's right edge that are not emitted until more tokens (or the end) arrive."""
    min_new_tokens: int = 4
    """A window is decoded only once this many tokens can be emitted (bounds the cost of tiny chunks)."""
    bucket_tokens: int = 1
    """Round each window's encoder and generator lengths up to a multiple of this (taking more left
    context) so a GPU sees a few shapes instead of one per window; 1 = exact lengths (best on CPU)."""

    def __post_init__(self) -> None:
        if (
            min(self.left_context_tokens, self.margin_tokens) < 0
            or self.holdback_tokens < 1
            or self.min_new_tokens < 1
            or self.bucket_tokens < 1
        ):
            raise ValueError(
                "left_context_tokens and margin_tokens must be >= 0; holdback_tokens, "
                "min_new_tokens and bucket_tokens >= 1"
            )


GPU_STREAMING = StreamingConfig(bucket_tokens=16)
"""GPU default: window lengths in 16-token buckets, the shapes ``Vocoder.warm_up`` runs at load
(unmeasured on a GPU so far: no GPU was available when this was written)."""


def segment_noise(seed: int, start_frame: int, frames: int, channels: int) -> np.ndarray:
    """Standard normal noise ``[1, channels, frames]`` for absolute frames ``start_frame..``."""
    first, last = start_frame // NOISE_BLOCK_FRAMES, (start_frame + frames - 1) // NOISE_BLOCK_FRAMES
    blocks = [
        np.random.default_rng([seed, b]).standard_normal((channels, NOISE_BLOCK_FRAMES), np.float32)
        for b in range(first, last + 1)
    ]
    joined = np.concatenate(blocks, axis=1)
    offset = start_frame - first * NOISE_BLOCK_FRAMES
    return joined[None, :, offset : offset + frames]


class Vocoder:
    """One loaded vocoder graph."""

    def __init__(self, session, sample_rate: int, samples_per_token: int, latent_channels: int) -> None:  # noqa: ANN001
        self.session = session
        self.sample_rate = sample_rate
        self.samples_per_token = samples_per_token
        self.latent_channels = latent_channels
        inputs = {i.name: i for i in session.get_inputs()} if session is not None else {}
        self.crops = "dec_frames" in inputs
        """The graph synthesises only a crop of each window (bundles exported before it did not)."""
        gin = inputs["ge"].shape[1] if "ge" in inputs else None
        self.gin = gin if isinstance(gin, int) else 0
        self.on_gpu = session is not None and session.get_providers()[0] != "CPUExecutionProvider"
        """GPU sessions stream with shape buckets and are warmed up at load (see ``warm_up``)."""

    @classmethod
    def load(
        cls, bundle: Bundle, precision: Precision = Precision.FP32, options: SessionOptions | None = None
    ) -> Vocoder:
        m = bundle.manifest
        vocoder = cls(
            bundle.session(Role.VOCODER, precision, options),
            m.sample_rate,
            m.samples_per_token,
            m.sovits["latent_channels"],
        )
        if vocoder.on_gpu:
            vocoder.warm_up(GPU_STREAMING)
        return vocoder

    def window_frame(self, skip_tokens: int, speed: float = 1.0) -> int:
        """The latent frame where the audio of a window that skips ``skip_tokens`` tokens starts."""
        return FRAMES_PER_TOKEN * skip_tokens if speed == 1 else int(FRAMES_PER_TOKEN * skip_tokens / speed)

    def decode_window(
        self,
        tokens: np.ndarray,
        phones: np.ndarray,
        ge: np.ndarray,
        start_token: int,
        noise_scale: float,
        seed: int,
        speed: float = 1.0,
        skip_tokens: int = 0,
    ) -> np.ndarray:
        """Audio of ``tokens`` (which start at ``start_token`` of their segment), float32 ``[samples]``.

        The first ``window_frame(skip_tokens, speed)`` latent frames are encoded (context) but not
        synthesised: the result starts that many frames into the window.
        """
        frames = speed_frames(FRAMES_PER_TOKEN * len(tokens), speed) + (0 if speed == 1 else 1)
        noise = segment_noise(seed, int(FRAMES_PER_TOKEN * start_token / speed), frames, self.latent_channels)
        begin = self.window_frame(skip_tokens, speed)
        feeds = {
            "codes": np.asarray(tokens, np.int64).reshape(1, -1),
            "phones": np.asarray(phones, np.int64).reshape(1, -1),
            "ge": np.asarray(ge, np.float32).reshape(1, -1, 1),
            "noise": noise,
            "noise_scale": np.array([noise_scale], np.float32),
            "speed": np.array([speed], np.float32),
        }
        if self.crops:
            feeds["dec_frames"] = np.array([begin, frames + 1], np.int64)  # an end past the latent = to its end
            return self._run(feeds)
        return self._run(feeds)[begin * (self.samples_per_token // FRAMES_PER_TOKEN) :]

    def _run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """One graph run through an I/O binding: the inputs are bound once from host memory and the
        waveform is written straight to host memory (on CUDA: one copy each way on the compute stream,
        no device-side output buffer handed back to Python). The same path runs on CPU."""
        binding = self.session.io_binding()
        for name, value in feeds.items():
            binding.bind_cpu_input(name, np.ascontiguousarray(value))
        binding.bind_output(self.session.get_outputs()[0].name, "cpu")
        self.session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()[0][0]

    def warm_up(self, config: StreamingConfig | None = None, phones: int = 32, max_tokens: int = 64) -> int:
        """Run the window shapes streaming with ``config`` produces (bucket multiples up to ``max_tokens``),
        so a GPU picks its kernels at load time, not mid-stream. Returns the number of runs."""
        config = config or StreamingConfig()
        step = max(config.bucket_tokens, config.min_new_tokens)
        ge, ids = np.zeros(self.gin, np.float32), np.zeros(phones, np.int64)
        runs = 0
        for tokens in range(step, max_tokens + 1, step):
            self.decode_window(np.zeros(tokens, np.int64), ids, ge, 0, 0.5, 0, 1.0, max(0, tokens - step))
            runs += 1
        return runs

    def decode(
        self,
        tokens: np.ndarray,
        phones: np.ndarray,
        ge: np.ndarray,
        noise_scale: float = 0.5,
        seed: int = 0,
        speed: float = 1.0,
    ) -> np.ndarray:
        """A whole segment at once. No tokens -> no audio (never decode an empty sequence)."""
        if len(tokens) == 0:
            return np.zeros(0, np.float32)
        return self.decode_window(tokens, phones, ge, 0, noise_scale, seed, speed)

    def offline_samples(self, tokens: int, speed: float = 1.0) -> int:
        """Length of ``decode`` for ``tokens`` tokens at ``speed``."""
        frame = self.samples_per_token // FRAMES_PER_TOKEN
        return speed_frames(FRAMES_PER_TOKEN * tokens, speed) * frame if tokens else 0

    def stream(
        self,
        phones: np.ndarray,
        ge: np.ndarray,
        noise_scale: float = 0.5,
        seed: int = 0,
        config: StreamingConfig | None = None,
        speed: float = 1.0,
    ) -> SegmentStream:
        """Start streaming one segment; feed it token chunks with ``push`` and end with ``finish``."""
        default = GPU_STREAMING if self.on_gpu else StreamingConfig()
        return SegmentStream(self, phones, ge, noise_scale, seed, config or default, speed)


class SegmentStream:
    """Incremental decode of one segment."""

    def __init__(
        self,
        vocoder: Vocoder,
        phones: np.ndarray,
        ge: np.ndarray,
        noise_scale: float,
        seed: int,
        config: StreamingConfig,
        speed: float = 1.0,
    ) -> None:
        self.vocoder = vocoder
        self.phones = np.asarray(phones, np.int64)
        self.ge = ge
        self.noise_scale = noise_scale
        self.seed = seed
        self.config = config
        self.speed = float(speed)
        self.holdback = config.holdback_tokens + (0 if self.speed == 1 else SPEED_EXTRA_HOLDBACK_TOKENS)
        """Tokens held back per window: longer at speed != 1, where each window stretches on its own grid."""
        self.tokens = np.zeros(0, np.int64)
        self.emitted_tokens = 0
        self.emitted_samples = 0
        self._tail = np.zeros(0, np.float32)  # audio already decoded beyond what was emitted
        self._tail_end_tokens = 0
        self.windows_decoded = 0
        self.tokens_encoded = 0
        """Tokens the encoder ran over, all windows together (offline: the segment's length)."""
        self.tokens_synthesised = 0
        """Tokens the generator (the graph's costly part) synthesised, all windows together."""

    def _samples(self, tokens: int) -> int:
        """Where a token boundary ``tokens`` into a window falls, in samples (exact at speed 1; at other
        speeds the window's own stretch moves it by a fraction of a frame, which ``_align`` finds)."""
        return round(tokens * self.vocoder.samples_per_token / self.speed)

    def push(self, tokens: np.ndarray) -> np.ndarray:
        """Add tokens; returns the audio that can be played now (possibly empty)."""
        self.tokens = np.concatenate((self.tokens, np.asarray(tokens, np.int64)))
        until = len(self.tokens) - self.holdback
        if until - self.emitted_tokens < self.config.min_new_tokens:
            return np.zeros(0, np.float32)
        out = self._emit(until)
        self.emitted_samples += len(out)
        return out

    def finish(self) -> np.ndarray:
        """The rest of the segment's audio."""
        if self._tail_end_tokens == len(self.tokens):
            # the last window already reached the end: its held-back part is final
            out, self._tail = self._tail, np.zeros(0, np.float32)
            self.emitted_tokens = len(self.tokens)
        else:
            out = self._emit(len(self.tokens))
        # at speed != 1 the windows' rounding and join shifts leave the total a few samples off the
        # offline length: settle it on the last piece
        missing = self.vocoder.offline_samples(len(self.tokens), self.speed) - (self.emitted_samples + len(out))
        if missing > 0:
            out = np.concatenate((out, np.zeros(missing, np.float32)))
        elif missing < 0:
            out = out[: max(0, len(out) + missing)]
        self.emitted_samples += len(out)
        return out

    def _align(self, wav: np.ndarray, begin: int, overlap: int) -> int:
        """The start near ``begin`` where ``wav`` best continues the held-back tail (speed != 1 only)."""
        reach = self.vocoder.samples_per_token // (2 * FRAMES_PER_TOKEN)  # half a latent frame
        lo, hi = max(0, begin - reach), min(begin + reach, len(wav) - overlap)
        if self.speed == 1 or overlap == 0 or hi <= lo:
            return begin
        tail = self._tail[:overlap]
        windows = np.lib.stride_tricks.sliding_window_view(wav[lo : hi + overlap], overlap)
        energy = np.sqrt(np.einsum("ij,ij->i", windows, windows)) + 1e-9
        return lo + int(np.argmax(windows @ tail / energy))

    def _emit(self, until: int) -> np.ndarray:
        if until <= self.emitted_tokens:
            return np.zeros(0, np.float32)
        cfg, total = self.config, len(self.tokens)
        start = _bucketed(total, max(0, self.emitted_tokens - cfg.left_context_tokens), 0, cfg.bucket_tokens)
        synth = _bucketed(total, max(start, self.emitted_tokens - cfg.margin_tokens), start, cfg.bucket_tokens)
        skip = synth - start
        wav = self.vocoder.decode_window(
            self.tokens[start:], self.phones, self.ge, start, self.noise_scale, self.seed, self.speed, skip
        )
        self.windows_decoded += 1
        self.tokens_encoded += total - start
        self.tokens_synthesised += total - synth
        offset = self.vocoder.window_frame(skip, self.speed) * (self.vocoder.samples_per_token // FRAMES_PER_TOKEN)
        end = self._samples(until - start) - offset if until < total else len(wav)
        begin = self._align(wav, self._samples(self.emitted_tokens - start) - offset, len(self._tail))
        out = wav[begin:end].copy()
        overlap = min(len(self._tail), len(out))
        if overlap:
            # raised-cosine, amplitude-complementary: both sides estimate the same signal
            fade_in = 0.5 - 0.5 * np.cos(np.pi * (np.arange(overlap) + 0.5) / overlap)
            out[:overlap] = fade_in * out[:overlap] + (1 - fade_in) * self._tail[:overlap]
        self._tail = wav[end:].copy()
        self._tail_end_tokens = total
        self.emitted_tokens = until
        return out.astype(np.float32, copy=False)


def _bucketed(total: int, first: int, floor: int, bucket: int) -> int:
    """Move ``first`` back (not below ``floor``) so ``total - first`` is a multiple of ``bucket``."""
    length = -(-(total - first) // bucket) * bucket
    return max(floor, total - length)
