"""Every Redis key relaytts uses, built from one prefix (never assembled by hand elsewhere)."""

from __future__ import annotations

from typing import Final

__all__ = ["PREFIX", "job_cancel_key", "job_key", "job_stream_key", "worker_heartbeat_key"]

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


def worker_heartbeat_key(hostname: str) -> str:
    """A one-line summary a live worker refreshes with a TTL (``relaytts worker --check``)."""
    return f"{PREFIX}:worker:{hostname}"
