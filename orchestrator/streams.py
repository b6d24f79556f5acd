"""Replay-then-tail relay of a job's chunk stream (docs/protocol.md §3).

``relay_chunks`` is an async generator over ``LatentChunk``: ``XRANGE key (cursor +`` pages through
what is already there (``-`` at the start), then ``XREAD BLOCK`` tails the key with the same
exclusive cursor, so no entry is read twice or skipped, whether the worker wrote it before, during
or after the client attached. The key may not exist yet (the job is still queued): XREAD on a
missing key simply blocks. The caller writes each chunk and awaits the write before asking for the
next one, so HTTP/2 flow control paces the Redis reads.

The idle timeout (``queue_timeout_seconds``) applies to the wait for the first chunk, as the
contract says, and also to every later gap: a worker that died mid-job and has not been redelivered
yet ends the stream with UNAVAILABLE instead of holding it open; the client resumes later.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Final

from google.protobuf.message import DecodeError
from redis.asyncio import Redis

from protos import relaytts_v1_pb2 as pb
from relaytts import keys
from relaytts.errors import QueueTimeout, RelayError
from relaytts.jobs import CHUNK_FIELD

__all__ = ["relay_chunks"]

log = logging.getLogger(__name__)

REPLAY_PAGE: Final = 256
"""Entries per XRANGE page and per XREAD."""
MAX_BLOCK_MS: Final = 2000
"""Longest single XREAD BLOCK; the idle deadline is checked between blocks. It must stay well below
the Redis client's socket timeout (redis-py's default is 5 s), or a quiet stream reads as a dead server."""


async def relay_chunks(
    redis: Redis,
    job_id: str,
    *,
    after_seq: int = 0,
    idle_timeout: float,
    observe_relay: Callable[[float], None] | None = None,
) -> AsyncIterator[pb.LatentChunk]:
    """Yield the job's chunks with ``seq > after_seq`` in order, ending after the final chunk.

    ``observe_relay(seconds)`` gets, per chunk, the time from the Redis read that returned it to the
    moment the caller asks for the next one (that is: after the caller has written it). Raises ``QueueTimeout`` when no
    entry arrives for ``idle_timeout`` seconds. Close it with ``contextlib.aclosing``.
    """
    key = keys.job_stream_key(job_id)
    cursor: str | None = None  # id of the last entry read; every read starts strictly after it
    deadline = time.monotonic() + idle_timeout
    replaying = True
    seen = 0
    try:
        while True:
            if replaying:  # XRANGE pages until one comes back short
                entries = await redis.xrange(key, min="-" if cursor is None else f"({cursor}", max="+",
                                             count=REPLAY_PAGE)
                replaying = len(entries) == REPLAY_PAGE
            else:  # tail
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    what = "first chunk (is a worker consuming the queue?)" if seen == 0 else "new chunk"
                    raise QueueTimeout(f"job {job_id}: no {what} within `queue_timeout_seconds` = {idle_timeout:g} s; "
                                       f"call Resume(job_id, last_seq) to try again")
                block_ms = max(1, min(MAX_BLOCK_MS, int(remaining * 1000)))
                reply = await redis.xread({key: cursor or "0-0"}, count=REPLAY_PAGE, block=block_ms)
                entries = xread_entries(reply)
            read_at = time.perf_counter()
            if entries:
                deadline = time.monotonic() + idle_timeout
            for entry_id, fields in entries:
                cursor = entry_id.decode()
                seen += 1
                chunk = _parse(job_id, cursor, fields)
                if chunk is None:
                    continue
                if chunk.seq > after_seq:
                    yield chunk  # the caller writes it (and awaits the write) before resuming us
                    if observe_relay is not None:
                        observe_relay(time.perf_counter() - read_at)
                if chunk.final:
                    return
    finally:
        log.debug("relay of job %s ends after %d entries (cursor %s)", job_id, seen, cursor)


def xread_entries(reply: object) -> list:
    """The entries of a one-key XREAD reply, in any shape redis-py returns it.

    RESP2: ``[[key, entries]]``; RESP3: ``{key: [entries]}`` (or ``{key: entries}``); nothing: falsy.
    """
    if not reply:
        return []
    if isinstance(reply, dict):
        (value,) = reply.values()
        return value[0] if value and isinstance(value[0], list) else value
    return reply[0][1]


def _parse(job_id: str, entry_id: str, fields: dict[bytes, bytes]) -> pb.LatentChunk | None:
    data = fields.get(CHUNK_FIELD)
    if data is None:
        log.warning("job %s: stream entry %s has no %r field; skipped", job_id, entry_id, CHUNK_FIELD)
        return None
    try:
        return pb.LatentChunk.FromString(data)
    except DecodeError:
        raise RelayError(f"job {job_id}: stream entry {entry_id} is not a LatentChunk") from None
