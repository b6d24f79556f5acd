"""Job vocabulary shared by the gateway and the workers: statuses, the task payload, chunk codec.

The Celery task receives a ``SynthesisJob`` as JSON (never pickle: tenant text crosses a trust
boundary). Chunks travel through the job's Redis stream as serialized ``relaytts.v1.LatentChunk``
messages in one field, so the gateway forwards them without re-encoding.
"""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Final

__all__ = [
    "BATCH_QUEUE",
    "BATCH_SEGMENT_PRIORITY",
    "CHUNK_FIELD",
    "INTERACTIVE_QUEUE",
    "JOB_ID_METADATA",
    "PLAN_BOOK_TASK",
    "SYNTHESIZE_SEGMENT_TASK",
    "SYNTHESIZE_TASK",
    "VISIBILITY_TIMEOUT_SECONDS",
    "JobStatus",
    "SynthesisJob",
]

SYNTHESIZE_TASK: Final = "relaytts.synthesize"
"""Celery task name; the gateway sends by name and never imports worker code."""
INTERACTIVE_QUEUE: Final = "t2s.interactive"
BATCH_QUEUE: Final = "t2s.batch"
"""Queue of book work (``PLAN_BOOK_TASK``, ``SYNTHESIZE_SEGMENT_TASK``), consumed by separate workers
that yield the CPU to live synthesis."""
PLAN_BOOK_TASK: Final = "relaytts.plan_book"
"""Celery task: split a submitted book's chapters into segments and enqueue one segment task each."""
SYNTHESIZE_SEGMENT_TASK: Final = "relaytts.synthesize_segment"
"""Celery task: one segment (one take) of a book, published to that take's chunk stream."""
BATCH_SEGMENT_PRIORITY: Final = 6
"""Redis-broker priority of a book's initial segment tasks (0 is served first). Plans and re-rolls go at 0,
so a new book is planned and a re-rolled segment redone without waiting behind a whole earlier book."""
JOB_ID_METADATA: Final = "relaytts-job-id"
"""Initial-metadata key under which the gateway names a new job before its first chunk."""
VISIBILITY_TIMEOUT_SECONDS: Final = 1800
"""Redis transport: an unacknowledged task is redelivered after this long. Every Celery app on the broker
must agree (the shortest wins); it must exceed the longest task (a 60 s segment takes well under this)."""
CHUNK_FIELD: Final = b"c"
"""The stream entry field holding one serialized LatentChunk."""


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.DONE, JobStatus.CANCELLED, JobStatus.FAILED)

    def to_pb(self) -> int:
        from protos import relaytts_v1_pb2 as pb

        return pb.JobStatus.Value(f"JOB_STATUS_{self.name}")


@dataclass(frozen=True)
class SynthesisJob:
    """What the gateway enqueues for a worker (validated before it is sent)."""

    job_id: str
    tenant: str
    text: str
    language: str = "auto"
    voice: str = ""
    sampling: dict[str, Any] = field(default_factory=dict)
    """Only the fields the client set; the worker fills the rest with defaults."""
    noise_scale: float = 0.5
    seed: int = 0
    """The job's seed; segment i samples with seed + i and its vocoder noise uses seed + i."""
    cached_voice_hashes: list[str] = field(default_factory=list)
    enqueued_at: float = 0.0
    """Unix time at enqueue, for the queue-wait histogram."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> SynthesisJob:
        return cls(**json.loads(text))
