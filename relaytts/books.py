"""Book jobs: the vocabulary the gateway, the batch workers and the edge share (docs/books.md).

A book job lives in Redis under the keys of ``relaytts.keys`` (``book_*``): a hash of the job
(``BOOK_FIELDS``), the chapters (``book_plan_key``), one hash holding every segment's fields as
``{chapter}.{segment}.{field}`` (``SEGMENT_FIELDS``), a stream of progress events and a cancel key.
Each *take* of a segment (the first run, then one per re-roll) is a one-segment job in the live
format: ``job_key(take_id)`` holds its epoch fence and ``job_stream_key(take_id)`` its LatentChunks,
so the chunk publisher, the relay and the edge's chunk assembler serve books unchanged.

The dataclasses here own the protobuf conversion (``to_pb``/``from_pb``); protos are imported inside
those methods, so this module stays stdlib-only at import.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from relaytts.jobs import JobStatus

__all__ = [
    "BOOK_FIELDS",
    "EVENTS_MAXLEN",
    "SEGMENT_FIELDS",
    "BookChapterState",
    "BookFormat",
    "BookSegmentState",
    "BookState",
    "EventKind",
    "JobEventState",
    "SegmentTask",
    "chapter_status",
    "progress_rate",
    "segment_field",
    "segment_prefix",
]

EVENTS_MAXLEN: Final = 100_000
"""Approximate cap on a book's events stream (one entry per plan, segment end, re-roll and cancel)."""
BOOK_FIELDS: Final = (
    "tenant", "title", "filename", "format", "voice", "language", "sampling", "seed", "noise_scale", "status",
    "error", "last_error", "created_at", "started_at", "finished_at", "planned", "chapters_total",
    "segments_total", "segments_done", "segments_failed", "chars_total", "chars_done", "tokens_done",
    "audio_seconds_done", "run_started_at", "run_chars", "run_audio",
)
"""Fields of the book hash. ``run_*``: where the current run started (the first segment's start, or the
first start after a re-roll reopened a finished book), the base of the measured speed and the ETA."""
SEGMENT_FIELDS: Final = (
    "text", "language", "spans", "chars", "seed", "take", "take_id", "status", "tokens", "seconds",
    "stop_reason", "error", "enqueued",
)
"""Fields of one segment in the segments hash. ``spans``: JSON ``[[text, language], ...]`` as the frontend
split the segment, so the task phonemizes exactly what live synthesis would have."""


def segment_prefix(chapter: int, segment: int) -> str:
    """``"{chapter}.{segment}."``: the prefix of one segment's fields in the segments hash."""
    return f"{chapter}.{segment}."


def segment_field(chapter: int, segment: int, name: str) -> str:
    return f"{segment_prefix(chapter, segment)}{name}"


class BookFormat(enum.StrEnum):
    TEXT = "text"
    MARKDOWN = "markdown"
    EPUB = "epub"

    def to_pb(self) -> int:
        from protos import relaytts_v1_pb2 as pb

        return pb.BookFormat.Value(f"BOOK_FORMAT_{self.name}")

    @classmethod
    def from_pb(cls, value: int) -> BookFormat | None:
        """None for ``BOOK_FORMAT_UNSPECIFIED`` (detect)."""
        from protos import relaytts_v1_pb2 as pb

        name = pb.BookFormat.Name(value).removeprefix("BOOK_FORMAT_")
        return None if name == "UNSPECIFIED" else cls[name]


class EventKind(enum.StrEnum):
    """What a progress event reports (the ``kind`` field of an events-stream entry)."""

    SNAPSHOT = "snapshot"
    PLANNED = "planned"
    SEGMENT = "segment"
    REROLLED = "rerolled"
    CANCELLED = "cancelled"
    FAILED = "failed"

    def to_pb(self) -> int:
        from protos import relaytts_v1_pb2 as pb

        return pb.JobEventKind.Value(f"JOB_EVENT_KIND_{self.name}")

    @classmethod
    def from_pb(cls, value: int) -> EventKind:
        from protos import relaytts_v1_pb2 as pb

        return cls[pb.JobEventKind.Name(value).removeprefix("JOB_EVENT_KIND_")]


def _status(value: str | None) -> JobStatus:
    try:
        return JobStatus(value or "queued")
    except ValueError:
        return JobStatus.RUNNING


def _status_from_pb(value: int) -> JobStatus:
    from protos import relaytts_v1_pb2 as pb

    name = pb.JobStatus.Name(value).removeprefix("JOB_STATUS_")
    return JobStatus.QUEUED if name == "UNSPECIFIED" else JobStatus[name]


def _stop_reason_to_pb(value: str) -> int:
    from protos import relaytts_v1_pb2 as pb

    try:
        return pb.StopReason.Value(value) if value else pb.STOP_REASON_UNSPECIFIED
    except ValueError:
        return pb.STOP_REASON_UNSPECIFIED


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return int(float(value))  # type: ignore[arg-type]


def _float(value: str | None) -> float:
    return float(value or 0.0)


def progress_rate(chars_total: int, chars_done: int, run_chars: int, run_audio: float, audio_done: float,
                  run_started_at: float, now: float, finished: bool) -> tuple[float | None, float]:
    """(ETA seconds or None, audio seconds per second) from what the current run did since it started.

    The ETA is the text still to speak over the characters per second measured in this run; None before
    the run has finished a segment, and once the job has ended.
    """
    elapsed = now - run_started_at if run_started_at else 0.0
    if elapsed <= 0:
        return None, 0.0
    speed = max(0.0, audio_done - run_audio) / elapsed
    done_in_run = chars_done - run_chars
    if finished or done_in_run <= 0:
        return None, speed
    remaining = max(0, chars_total - chars_done)
    return remaining * elapsed / done_in_run, speed


@dataclass(frozen=True)
class SegmentTask:
    """The payload of ``relaytts.synthesize_segment`` (JSON): everything else is read from Redis."""

    book_id: str
    chapter: int
    segment: int
    take_id: str

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> SegmentTask:
        return cls(**json.loads(text))


@dataclass
class BookSegmentState:
    chapter: int
    index: int
    status: JobStatus = JobStatus.QUEUED
    text: str = ""
    seed: int = 0
    take: int = 0
    take_id: str = ""
    tokens: int = 0
    audio_seconds: float = 0.0
    stop_reason: str = ""
    """The proto ``StopReason`` name (``STOP_REASON_EOS``...), empty until the take ends."""
    error: str = ""

    @classmethod
    def from_fields(cls, chapter: int, index: int, fields: Mapping[str, str]) -> BookSegmentState:
        """From ``{field: value}`` of this segment (names without the prefix)."""
        return cls(chapter, index, _status(fields.get("status")), fields.get("text", ""), _int(fields.get("seed")),
                   _int(fields.get("take")), fields.get("take_id", ""), _int(fields.get("tokens")),
                   _float(fields.get("seconds")), fields.get("stop_reason", ""), fields.get("error", ""))

    def to_pb(self) -> Any:  # noqa: ANN401 - relaytts_v1_pb2.BookSegment
        from protos import relaytts_v1_pb2 as pb

        return pb.BookSegment(chapter_index=self.chapter, segment_index=self.index, status=self.status.to_pb(),
                              text=self.text, seed=self.seed, take=self.take, take_id=self.take_id,
                              tokens=self.tokens, audio_seconds=self.audio_seconds,
                              stop_reason=_stop_reason_to_pb(self.stop_reason), error=self.error)

    @classmethod
    def from_pb(cls, msg: Any) -> BookSegmentState:  # noqa: ANN401
        from protos import relaytts_v1_pb2 as pb

        return cls(msg.chapter_index, msg.segment_index, _status_from_pb(msg.status), msg.text, msg.seed, msg.take,
                   msg.take_id, msg.tokens, msg.audio_seconds,
                   "" if not msg.stop_reason else pb.StopReason.Name(msg.stop_reason), msg.error)


def chapter_status(statuses: list[JobStatus], book: JobStatus) -> JobStatus:
    """A chapter's status from its segments' (and the book's, for a cancelled book)."""
    if statuses and all(s is JobStatus.DONE for s in statuses):
        return JobStatus.DONE
    if statuses and all(s.finished for s in statuses) and JobStatus.FAILED in statuses:
        return JobStatus.FAILED
    if book is JobStatus.CANCELLED:
        return JobStatus.CANCELLED
    if any(s in (JobStatus.RUNNING, JobStatus.DONE, JobStatus.FAILED) for s in statuses):
        return JobStatus.RUNNING
    return JobStatus.QUEUED


@dataclass
class BookChapterState:
    index: int
    title: str
    status: JobStatus = JobStatus.QUEUED
    segments_total: int = 0
    segments_done: int = 0
    segments_failed: int = 0
    audio_seconds: float = 0.0
    segments: list[BookSegmentState] = field(default_factory=list)

    def to_pb(self, include_segments: bool = True) -> Any:  # noqa: ANN401
        from protos import relaytts_v1_pb2 as pb

        msg = pb.BookChapter(index=self.index, title=self.title, status=self.status.to_pb(),
                             segments_total=self.segments_total, segments_done=self.segments_done,
                             segments_failed=self.segments_failed, audio_seconds=self.audio_seconds)
        if include_segments:
            msg.segments.extend(s.to_pb() for s in self.segments)
        return msg

    @classmethod
    def from_pb(cls, msg: Any) -> BookChapterState:  # noqa: ANN401
        return cls(msg.index, msg.title, _status_from_pb(msg.status), msg.segments_total, msg.segments_done,
                   msg.segments_failed, msg.audio_seconds, [BookSegmentState.from_pb(s) for s in msg.segments])


@dataclass
class BookState:
    """A book job as ``GetJob`` describes it."""

    job_id: str
    title: str = ""
    format: BookFormat = BookFormat.TEXT
    voice: str = ""
    language: str = "auto"
    status: JobStatus = JobStatus.QUEUED
    error: str = ""
    seed: int = 0
    noise_scale: float = 0.5
    created_at: float = 0.0
    started_at: float = 0.0
    finished_at: float = 0.0
    planned: bool = False
    chapters_total: int = 0
    segments_total: int = 0
    segments_done: int = 0
    segments_failed: int = 0
    tokens_done: int = 0
    audio_seconds_done: float = 0.0
    eta_seconds: float | None = None
    audio_seconds_per_second: float = 0.0
    chapters: list[BookChapterState] = field(default_factory=list)

    @classmethod
    def from_fields(cls, job_id: str, fields: Mapping[str, str], now: float) -> BookState:
        """From the book hash (decoded); the ETA and speed as of ``now``."""
        status = _status(fields.get("status"))
        eta, speed = progress_rate(
            _int(fields.get("chars_total")), _int(fields.get("chars_done")), _int(fields.get("run_chars")),
            _float(fields.get("run_audio")), _float(fields.get("audio_seconds_done")),
            _float(fields.get("run_started_at")), now, status.finished)
        try:
            fmt = BookFormat(fields.get("format", "text"))
        except ValueError:
            fmt = BookFormat.TEXT
        return cls(job_id, fields.get("title", ""), fmt, fields.get("voice", ""), fields.get("language", "auto"),
                   status, fields.get("error", ""), _int(fields.get("seed")), _float(fields.get("noise_scale")),
                   _float(fields.get("created_at")), _float(fields.get("started_at")),
                   _float(fields.get("finished_at")), fields.get("planned") == "1", _int(fields.get("chapters_total")),
                   _int(fields.get("segments_total")), _int(fields.get("segments_done")),
                   _int(fields.get("segments_failed")), _int(fields.get("tokens_done")),
                   max(0.0, round(_float(fields.get("audio_seconds_done")), 6)), eta, speed)

    @property
    def segments(self) -> list[BookSegmentState]:
        return [s for chapter in self.chapters for s in chapter.segments]

    def to_pb(self, include_segments: bool = True) -> Any:  # noqa: ANN401
        from protos import relaytts_v1_pb2 as pb

        msg = pb.BookJob(
            job_id=self.job_id, title=self.title, format=self.format.to_pb(), voice=self.voice,
            language=self.language, status=self.status.to_pb(), error=self.error, seed=self.seed,
            noise_scale=self.noise_scale, created_at_unix_seconds=self.created_at,
            started_at_unix_seconds=self.started_at, finished_at_unix_seconds=self.finished_at, planned=self.planned,
            chapters_total=self.chapters_total, segments_total=self.segments_total,
            segments_done=self.segments_done, segments_failed=self.segments_failed, tokens_done=self.tokens_done,
            audio_seconds_done=self.audio_seconds_done, audio_seconds_per_second=self.audio_seconds_per_second)
        if self.eta_seconds is not None and math.isfinite(self.eta_seconds):
            msg.eta_seconds = self.eta_seconds
        msg.chapters.extend(c.to_pb(include_segments) for c in self.chapters)
        return msg

    @classmethod
    def from_pb(cls, msg: Any) -> BookState:  # noqa: ANN401
        fmt = BookFormat.from_pb(msg.format) or BookFormat.TEXT
        return cls(msg.job_id, msg.title, fmt, msg.voice, msg.language, _status_from_pb(msg.status), msg.error,
                   msg.seed, msg.noise_scale, msg.created_at_unix_seconds, msg.started_at_unix_seconds,
                   msg.finished_at_unix_seconds, msg.planned, msg.chapters_total, msg.segments_total,
                   msg.segments_done, msg.segments_failed, msg.tokens_done, msg.audio_seconds_done,
                   msg.eta_seconds if msg.HasField("eta_seconds") else None, msg.audio_seconds_per_second,
                   [BookChapterState.from_pb(c) for c in msg.chapters])


@dataclass
class JobEventState:
    """One progress event of a book job (``WatchJob``)."""

    job_id: str
    kind: EventKind
    status: JobStatus
    segments_total: int = 0
    segments_done: int = 0
    segments_failed: int = 0
    audio_seconds_done: float = 0.0
    eta_seconds: float | None = None
    audio_seconds_per_second: float = 0.0
    segment: BookSegmentState | None = None
    error: str = ""
    at: float = 0.0

    @property
    def final(self) -> bool:
        """The job has ended: nothing follows on this watch."""
        return self.status.finished

    @classmethod
    def from_entry(cls, job_id: str, fields: Mapping[str, str], now: float) -> JobEventState:
        """From an events-stream entry (decoded), or from the book hash for a snapshot."""
        status = _status(fields.get("status"))
        eta, speed = progress_rate(
            _int(fields.get("chars_total")), _int(fields.get("chars_done")), _int(fields.get("run_chars")),
            _float(fields.get("run_audio")), _float(fields.get("audio_seconds_done")),
            _float(fields.get("run_started_at")), now, status.finished)
        segment = None
        if fields.get("chapter", "") != "":
            segment = BookSegmentState(
                _int(fields.get("chapter")), _int(fields.get("segment")), _status(fields.get("seg_status")),
                "", _int(fields.get("seed")), _int(fields.get("take")), fields.get("take_id", ""),
                _int(fields.get("tokens")), _float(fields.get("seconds")), fields.get("stop_reason", ""),
                fields.get("seg_error", ""))
        try:
            kind = EventKind(fields.get("kind", "snapshot"))
        except ValueError:
            kind = EventKind.SNAPSHOT
        return cls(job_id, kind, status, _int(fields.get("segments_total")), _int(fields.get("segments_done")),
                   _int(fields.get("segments_failed")), max(0.0, round(_float(fields.get("audio_seconds_done")), 6)),
                   eta, speed, segment, fields.get("error", ""), _float(fields.get("at")) or now)

    def to_pb(self) -> Any:  # noqa: ANN401
        from protos import relaytts_v1_pb2 as pb

        msg = pb.JobEvent(job_id=self.job_id, kind=self.kind.to_pb(), status=self.status.to_pb(),
                          segments_total=self.segments_total, segments_done=self.segments_done,
                          segments_failed=self.segments_failed, audio_seconds_done=self.audio_seconds_done,
                          audio_seconds_per_second=self.audio_seconds_per_second, final=self.final,
                          error=self.error, at_unix_seconds=self.at)
        if self.eta_seconds is not None and math.isfinite(self.eta_seconds):
            msg.eta_seconds = self.eta_seconds
        if self.segment is not None:
            msg.segment.CopyFrom(self.segment.to_pb())
        return msg

    @classmethod
    def from_pb(cls, msg: Any) -> JobEventState:  # noqa: ANN401
        return cls(msg.job_id, EventKind.from_pb(msg.kind), _status_from_pb(msg.status), msg.segments_total,
                   msg.segments_done, msg.segments_failed, msg.audio_seconds_done,
                   msg.eta_seconds if msg.HasField("eta_seconds") else None, msg.audio_seconds_per_second,
                   BookSegmentState.from_pb(msg.segment) if msg.HasField("segment") else None, msg.error,
                   msg.at_unix_seconds)
