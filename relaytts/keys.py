"""Every Redis key relaytts uses, built from one prefix (never assembled by hand elsewhere)."""

from __future__ import annotations

from typing import Final

__all__ = [
    "PREFIX",
    "book_cancel_key",
    "book_events_key",
    "book_key",
    "book_plan_key",
    "book_segments_key",
    "book_source_key",
    "job_cancel_key",
    "job_key",
    "job_lease_key",
    "job_stream_key",
    "leased_jobs_key",
    "open_books_key",
    "request_key",
    "tenant_books_key",
    "tenant_voices_key",
    "voice_key",
    "voice_registration_key",
    "voice_registration_result_key",
    "worker_heartbeat_key",
]

PREFIX: Final = "relaytts"


def job_key(job_id: str) -> str:
    """Hash: tenant, status, timestamps, epoch, segment count, error."""
    return f"{PREFIX}:job:{job_id}"


def job_stream_key(job_id: str) -> str:
    """Stream of the job's chunks (field ``c``: a serialized LatentChunk)."""
    return f"{PREFIX}:job:{job_id}:chunks"


def job_cancel_key(job_id: str) -> str:
    """Exists (value "1") once the job is cancelled; workers check it between decode steps."""
    return f"{PREFIX}:job:{job_id}:cancel"


def job_lease_key(job_id: str) -> str:
    """The epoch of the delivery that owns the running job, with a TTL of a few seconds its worker
    process renews (``workers.ownership``); absent or another epoch: nobody live owns that epoch."""
    return f"{PREFIX}:job:{job_id}:lease"


def leased_jobs_key() -> str:
    """Sorted set of job ids that a worker has leased (by lease time): what a reaper scans
    (``orchestrator.reaper``); ended and expired jobs are removed by the reaper."""
    return f"{PREFIX}:jobs:leased"


def request_key(tenant: str, request_id: str) -> str:
    """The job id a tenant's idempotency key (``SynthesizeRequest.request_id``) started; lives the stream TTL."""
    return f"{PREFIX}:tenant:{tenant}:request:{request_id}"


def worker_heartbeat_key(hostname: str) -> str:
    """A one-line summary a live worker refreshes with a TTL (``relaytts worker --check``)."""
    return f"{PREFIX}:worker:{hostname}"


def book_key(book_id: str) -> str:
    """Hash of a book job: tenant, title, sampling, status, timestamps and the progress counters."""
    return f"{PREFIX}:book:{book_id}"


def book_source_key(book_id: str) -> str:
    """The parsed chapters (JSON ``[{"title", "text"}]``) until a worker has planned the book."""
    return f"{PREFIX}:book:{book_id}:source"


def book_plan_key(book_id: str) -> str:
    """JSON ``[{"title", "chars", "segments"}]``: the chapters (segment counts once planned)."""
    return f"{PREFIX}:book:{book_id}:plan"


def book_segments_key(book_id: str) -> str:
    """Hash of every segment's fields, named ``{chapter}.{segment}.{field}`` (``relaytts.books``)."""
    return f"{PREFIX}:book:{book_id}:segments"


def book_events_key(book_id: str) -> str:
    """Stream of the book's progress events (``WatchJob`` tails it)."""
    return f"{PREFIX}:book:{book_id}:events"


def book_cancel_key(book_id: str) -> str:
    """Exists (value "1") once the book is cancelled; segment tasks check it between decode steps."""
    return f"{PREFIX}:book:{book_id}:cancel"


def open_books_key() -> str:
    """Sorted set of every book id that may not have ended (by creation time), all tenants: the book-progress
    metrics read it. Submit and a re-roll that reopens a book add; the scripts that end a book remove it, and
    the metrics script drops any left over (a book that expired while open)."""
    return f"{PREFIX}:books:open"


def tenant_books_key(tenant: str) -> str:
    """Sorted set of a tenant's book ids by creation time (``ListJobs``)."""
    return f"{PREFIX}:tenant:{tenant}:books"


def voice_key(tenant: str, voice_id: str) -> str:
    """Hash of one registered voice: metadata, conditioning arrays (raw little-endian) and the clip
    (field list in ``relaytts.voices``). Scoped by tenant, so another tenant's id names no key at all."""
    return f"{PREFIX}:tenant:{tenant}:voice:{voice_id}"


def tenant_voices_key(tenant: str) -> str:
    """Sorted set of a tenant's voice ids by creation time (``ListVoices``)."""
    return f"{PREFIX}:tenant:{tenant}:voices"


def voice_registration_key(registration_id: str) -> str:
    """Hash of a pending registration: tenant, voice id, the uploaded clip, deliveries (deleted when decided)."""
    return f"{PREFIX}:voicereg:{registration_id}"


def voice_registration_result_key(registration_id: str) -> str:
    """Stream holding a registration's one outcome entry (first writer wins; the gateway waits on it)."""
    return f"{PREFIX}:voicereg:{registration_id}:result"
