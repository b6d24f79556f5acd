"""Sans-IO assembly of a job's latent chunks into audio, shared by the sync and the asyncio client.

``ChunkAssembler.feed(chunk)`` takes ``relaytts.v1.LatentChunk`` messages in arrival order (over one
or several connections) and returns the audio they make playable, applying docs/protocol.md §4:

- **seq**: a chunk with ``seq <=`` the last one applied is a duplicate (a resume overlap) and is dropped.
- **epoch**: a chunk of a lower epoch than the job's highest is from a superseded worker and is dropped.
  A chunk whose epoch is higher than that of the segment being decoded restarts that segment: its
  vocoder stream is rebuilt from the new epoch's chunks and the first N samples it produces are
  skipped, N being what was already emitted of that segment. Finished segments are never replayed.
- **segments**: each segment is vocoded with the ``phones``, ``noise_seed`` and ``noise_scale`` of its
  first chunk and the job's style vector, exactly as the worker sent them; ``SEGMENT_GAP_SECONDS`` of
  silence goes between two segments.
- **ge**: the job's first chunk of an epoch names the style vector by ``voice_hash`` and carries it in
  ``ge`` unless the request listed the hash as cached. ``StyleCache`` is the bounded LRU of style
  vectors a client keeps across jobs; an assembler pins the entries it announced, so a concurrent job
  evicting one cannot leave this job without it.

``PlaybackStats`` is the sans-IO bookkeeping behind ``ReportPlayback`` (see its docstring for the
definitions of time to first audio, real-time factor and underruns).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from edge_client.vocoder import AudioChunk, SegmentStream, StreamingConfig, Vocoder
from protos import relaytts_v1_pb2 as pb
from relaytts.errors import RelayError
from relaytts.local import SEGMENT_GAP_SECONDS

__all__ = ["DEFAULT_STYLE_CACHE_ENTRIES", "ChunkAssembler", "PlaybackStats", "StyleCache"]

DEFAULT_STYLE_CACHE_ENTRIES = 32
"""Style vectors (``ge``, 2 KB each for 512 channels) a client keeps by voice hash."""


class StyleCache:
    """Bounded LRU of style vectors (float32 ``ge``) by voice hash; safe to share between threads."""

    def __init__(self, max_entries: int = DEFAULT_STYLE_CACHE_ENTRIES) -> None:
        if max_entries < 0:
            raise ValueError(f"`max_entries` must be >= 0; given {max_entries}")
        self.max_entries = max_entries
        self._entries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, voice_hash: object) -> bool:
        return voice_hash in self._entries

    def get(self, voice_hash: str) -> np.ndarray | None:
        with self._lock:
            ge = self._entries.get(voice_hash)
            if ge is not None:
                self._entries.move_to_end(voice_hash)
            return ge

    def put(self, voice_hash: str, ge: np.ndarray) -> None:
        with self._lock:
            if self.max_entries == 0:
                return
            self._entries[voice_hash] = ge
            self._entries.move_to_end(voice_hash)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def snapshot(self) -> dict[str, np.ndarray]:
        """The entries now held (what a request may announce in ``cached_voice_hashes``)."""
        with self._lock:
            return dict(self._entries)


@dataclass
class _Segment:
    index: int
    epoch: int
    stream: SegmentStream
    position: int = 0
    """Samples of this segment already emitted (never emitted twice)."""
    skip: int = 0
    """Samples the rebuilt stream still has to produce before it reaches ``position``."""
    finished: bool = False


class ChunkAssembler:
    """Turns one job's LatentChunk messages into AudioChunks (no I/O, no clock)."""

    def __init__(self, vocoder: Vocoder, styles: StyleCache | None = None, *,
                 gap_seconds: float = SEGMENT_GAP_SECONDS, config: StreamingConfig | None = None,
                 speed: float = 1.0) -> None:
        self.vocoder = vocoder
        self.speed = speed
        """Speaking rate the vocoder renders at (an edge choice: the tokens do not depend on it)."""
        self.styles = styles if styles is not None else StyleCache()
        self.pinned: dict[str, np.ndarray] = self.styles.snapshot()
        """Style vectors this job may rely on: what it announced, plus what its chunks carried."""
        self.gap = np.zeros(int(round(gap_seconds * vocoder.sample_rate)), np.float32)
        self.config = config
        self.job_id = ""
        self.last_seq = 0
        """The highest seq applied: what ``Resume(job_id, after_seq)`` asks to continue after."""
        self.epoch = 0
        """The highest epoch seen; chunks of older epochs are dropped."""
        self.segment_count = 0
        self.done = False
        """True once the final chunk was applied."""
        self.status = pb.JOB_STATUS_UNSPECIFIED
        self.stop_reason = pb.STOP_REASON_UNSPECIFIED
        self.error = ""
        self.dropped = 0
        """Chunks ignored: duplicates, stale epochs, finished segments."""
        self.restarts = 0
        """Segments rebuilt because a new epoch took over."""
        self._ge: np.ndarray | None = None
        self._segment: _Segment | None = None
        self._finished: set[int] = set()

    @property
    def announced_voice_hashes(self) -> list[str]:
        """What the request sends as ``cached_voice_hashes``."""
        return sorted(self.pinned)

    def feed(self, chunk: pb.LatentChunk) -> list[AudioChunk]:
        """Apply one chunk; returns the audio that became playable (possibly none)."""
        if chunk.seq <= self.last_seq or self.done:
            self.dropped += 1
            return []
        if self.job_id and chunk.job_id and chunk.job_id != self.job_id:
            raise RelayError(f"chunk seq {chunk.seq} belongs to job {chunk.job_id}, not {self.job_id}")
        self.job_id = self.job_id or chunk.job_id
        self.last_seq = chunk.seq
        if chunk.epoch < self.epoch:
            self.dropped += 1
            return []
        self.epoch = chunk.epoch
        if chunk.segment_count:
            self.segment_count = chunk.segment_count
        if chunk.voice_hash:
            self._ge = self._style(chunk)
        pieces: list[np.ndarray] = []
        if chunk.final:
            self._finish_segment(pieces)
            self.done = True
            self.status, self.stop_reason, self.error = chunk.status, chunk.stop_reason, chunk.error
        else:
            self._apply(chunk, pieces)
        rate = self.vocoder.sample_rate
        return [AudioChunk(p, rate) for p in pieces if len(p)]

    def _style(self, chunk: pb.LatentChunk) -> np.ndarray:
        if chunk.ge:
            ge = np.frombuffer(chunk.ge, "<f4").astype(np.float32)
            self.styles.put(chunk.voice_hash, ge)
            self.pinned[chunk.voice_hash] = ge
            return ge
        ge = self.pinned.get(chunk.voice_hash)
        if ge is None:
            ge = self.styles.get(chunk.voice_hash)
        if ge is None:
            raise RelayError(f"job {self.job_id}: chunk seq {chunk.seq} names voice {chunk.voice_hash} without "
                             "its style vector, and this client does not hold it")
        return ge

    def _apply(self, chunk: pb.LatentChunk, pieces: list[np.ndarray]) -> None:
        index = chunk.segment_index
        current = self._segment
        if index in self._finished:
            self.dropped += 1  # a finished segment is never replayed
            return
        if current is not None and current.index == index and chunk.epoch > current.epoch:
            fresh = self._start(chunk)
            fresh.skip = fresh.position = current.position
            self._segment = current = fresh
            self.restarts += 1
        elif current is None or current.index != index:
            if current is not None:
                self._finish_segment(pieces)  # defensive: the previous segment never said segment_final
                pieces.append(self.gap)
            elif self._finished:
                pieces.append(self.gap)
            self._segment = current = self._start(chunk)
        audio = current.stream.push(np.asarray(chunk.tokens, np.int64)) if chunk.tokens else np.zeros(0, np.float32)
        if chunk.segment_final:
            audio = np.concatenate((audio, current.stream.finish()))
        self._emit(current, audio, pieces)
        if chunk.segment_final:
            current.finished = True
            self._finished.add(index)

    def _start(self, chunk: pb.LatentChunk) -> _Segment:
        if not chunk.phones:
            raise RelayError(f"job {self.job_id}: segment {chunk.segment_index} (epoch {chunk.epoch}) starts at "
                             f"seq {chunk.seq} without phones")
        if self._ge is None:
            raise RelayError(f"job {self.job_id}: segment {chunk.segment_index} starts before any voice_hash")
        stream = self.vocoder.stream(np.asarray(chunk.phones, np.int64), self._ge, noise_scale=chunk.noise_scale,
                                     seed=chunk.noise_seed, config=self.config, speed=self.speed)
        return _Segment(chunk.segment_index, chunk.epoch, stream)

    def _finish_segment(self, pieces: list[np.ndarray]) -> None:
        current = self._segment
        if current is None or current.finished:
            return
        self._emit(current, current.stream.finish(), pieces)
        current.finished = True
        self._finished.add(current.index)

    @staticmethod
    def _emit(segment: _Segment, audio: np.ndarray, pieces: list[np.ndarray]) -> None:
        if segment.skip:
            dropped = min(segment.skip, len(audio))
            segment.skip -= dropped
            audio = audio[dropped:]
        segment.position += len(audio)
        if len(audio):
            pieces.append(audio)


@dataclass
class PlaybackStats:
    """What ``ReportPlayback`` tells the gateway about one job, measured on the edge.

    Times are ``time.monotonic()`` seconds given by the caller (this class reads no clock).

    - ``time_to_first_audio``: from sending the request to the first audio being handed to the sink.
    - ``real_time_factor``: the edge's busy time (wall time from the request to the last audio, minus the
      time the consumer held each chunk) divided by the audio's duration; below 1 is faster than real time.
      Excluding the consumer's time keeps a live sink that blocks while playing from pinning it at 1.
    - ``underruns`` (live sinks only; a file sink always reports 0): playback is modelled as starting when
      the first audio arrives and running at real time; a chunk arriving after everything before it would
      have finished playing is one underrun (the listener heard a gap), and playback restarts from then.
    """

    live: bool = False
    started_at: float = 0.0
    first_audio_at: float | None = None
    last_audio_at: float | None = None
    audio_seconds: float = 0.0
    underruns: int = 0
    consumer_seconds: float = 0.0
    """Time the consumer held yielded chunks (excluded from the real-time factor)."""
    _drains_at: float = field(default=0.0, repr=False)
    _consumer_before_last: float = field(default=0.0, repr=False)

    def on_audio(self, now: float, seconds: float) -> None:
        """``seconds`` of audio became playable at ``now``."""
        if self.first_audio_at is None:
            self.first_audio_at = now
            self._drains_at = now
        elif self.live and now > self._drains_at:
            self.underruns += 1
            self._drains_at = now
        self._drains_at += seconds
        self.audio_seconds += seconds
        self.last_audio_at = now
        self._consumer_before_last = self.consumer_seconds

    def on_consumer(self, seconds: float) -> None:
        self.consumer_seconds += seconds

    @property
    def time_to_first_audio(self) -> float:
        return 0.0 if self.first_audio_at is None else self.first_audio_at - self.started_at

    @property
    def real_time_factor(self) -> float:
        if not self.audio_seconds or self.last_audio_at is None:
            return 0.0
        busy = self.last_audio_at - self.started_at - self._consumer_before_last
        return max(busy, 0.0) / self.audio_seconds
