"""The gateway's view of book jobs in Redis (docs/books.md): create, read, list, cancel, re-roll.

Keys come from ``relaytts.keys``, field names and the state dataclasses from ``relaytts.books``, and the
atomic changes are the Lua scripts of ``relaytts.book_scripts`` (the same ones the workers run). A job
of another tenant and an expired or unknown one give the same ``NotFound``, as for live jobs.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections import defaultdict
from typing import Any, Final

from redis.asyncio import Redis

from orchestrator.bookfile import ParsedBook
from orchestrator.jobs import check_job_id
from orchestrator.streams import xread_entries
from relaytts import book_scripts, keys
from relaytts.books import (
    EVENTS_MAXLEN,
    BookChapterState,
    BookSegmentState,
    BookState,
    SegmentTask,
    chapter_status,
    segment_field,
    segment_prefix,
)
from relaytts.errors import JobCancelled, NotFound, Unavailable
from relaytts.jobs import JobStatus
from relaytts.settings import BooksSettings

__all__ = ["OLD_TAKE_TTL_SECONDS", "BookStore"]

OLD_TAKE_TTL_SECONDS: Final = 300
"""A re-rolled take's chunks stay this long, so a client reading them when the re-roll came can finish."""
SEED_BITS: Final = 31


def _decode(raw: dict[bytes, bytes]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in raw.items()}


def _not_found(book_id: str) -> NotFound:
    return NotFound(f"job {book_id} not found (unknown, expired, or not yours)")


class BookStore:
    """Book jobs on ``redis.asyncio``; every key lives ``settings.ttl_seconds`` after the job's last change."""

    def __init__(self, redis: Redis, settings: BooksSettings) -> None:
        self.redis = redis
        self.settings = settings
        self._reroll = redis.register_script(book_scripts.REROLL_SEGMENT)
        self._cancel = redis.register_script(book_scripts.CANCEL_BOOK)
        self._end = redis.register_script(book_scripts.END_BOOK)

    @property
    def ttl(self) -> int:
        return self.settings.ttl_seconds

    async def create(self, book_id: str, tenant: str, book: ParsedBook, filename: str,
                     job: dict[str, Any]) -> dict[str, str]:
        """Write the job (queued, unplanned), its chapters and its place in the tenant's list, atomically."""
        now = time.time()
        fields = {
            "tenant": tenant, "title": book.title, "filename": filename[:200], "format": book.format.value,
            "voice": job["voice"], "language": job["language"], "sampling": json.dumps(job["sampling"]),
            "seed": str(job["seed"]), "noise_scale": repr(job["noise_scale"]), "status": JobStatus.QUEUED.value,
            "created_at": repr(now), "planned": "0", "chapters_total": str(len(book.chapters)),
            "segments_total": "0", "segments_done": "0", "segments_failed": "0", "chars_total": str(book.chars),
            "chars_done": "0", "tokens_done": "0", "audio_seconds_done": "0",
        }
        source = json.dumps([{"title": c.title, "text": c.text} for c in book.chapters], ensure_ascii=False)
        plan = json.dumps([{"title": c.title, "chars": len(c.text)} for c in book.chapters], ensure_ascii=False)
        index = keys.tenant_books_key(tenant)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.book_key(book_id), mapping=fields)
            pipe.expire(keys.book_key(book_id), self.ttl)
            pipe.set(keys.book_source_key(book_id), source, ex=self.ttl)
            pipe.set(keys.book_plan_key(book_id), plan, ex=self.ttl)
            pipe.zadd(index, {book_id: now})
            pipe.expire(index, self.ttl)
            pipe.zadd(keys.open_books_key(), {book_id: now})
            await pipe.execute()
        return fields

    async def owned(self, book_id: str, tenant: str) -> dict[str, str]:
        """The book hash of ``tenant``'s job; ``NotFound`` (one message) for anything else."""
        check_job_id(book_id)
        fields = _decode(await self.redis.hgetall(keys.book_key(book_id)))
        if fields.get("tenant") != tenant:
            raise _not_found(book_id)
        return fields

    async def state(self, book_id: str, tenant: str, include_segments: bool = False) -> BookState:
        """The job with its chapters (counts and status per chapter) and, on request, every segment."""
        fields = await self.owned(book_id, tenant)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(keys.book_plan_key(book_id))
            pipe.hgetall(keys.book_segments_key(book_id))
            raw_plan, raw_segments = await pipe.execute()
        state = BookState.from_fields(book_id, fields, time.time())
        plan = json.loads(raw_plan) if raw_plan else []
        by_chapter: dict[int, dict[int, dict[str, str]]] = defaultdict(lambda: defaultdict(dict))
        for name, value in _decode(raw_segments).items():
            chapter, segment, field = name.split(".", 2)
            by_chapter[int(chapter)][int(segment)][field] = value
        for index, entry in enumerate(plan):
            segments = [BookSegmentState.from_fields(index, s, by_chapter[index][s])
                        for s in sorted(by_chapter.get(index, {}))]
            chapter = BookChapterState(
                index, entry.get("title", ""), chapter_status([s.status for s in segments], state.status),
                len(segments), sum(s.status is JobStatus.DONE for s in segments),
                sum(s.status is JobStatus.FAILED for s in segments),
                round(sum(s.audio_seconds for s in segments if s.status is JobStatus.DONE), 6),
                segments if include_segments else [])
            state.chapters.append(chapter)
        return state

    async def list(self, tenant: str, limit: int) -> list[BookState]:
        """The tenant's jobs, newest first; ids whose job has expired are dropped from the list."""
        index = keys.tenant_books_key(tenant)
        ids = [i.decode() for i in await self.redis.zrevrange(index, 0, max(0, limit - 1))]
        async with self.redis.pipeline(transaction=False) as pipe:
            for book_id in ids:
                pipe.hgetall(keys.book_key(book_id))
            replies = await pipe.execute() if ids else []
        now, out, gone = time.time(), [], []
        for book_id, raw in zip(ids, replies, strict=True):
            fields = _decode(raw)
            if fields.get("tenant") != tenant:
                gone.append(book_id)
                continue
            out.append(BookState.from_fields(book_id, fields, now))
        if gone:
            await self.redis.zrem(index, *gone)
        return out

    async def cancel(self, book_id: str, tenant: str) -> bool:
        """Cancel ``tenant``'s job; False when it had already ended."""
        await self.owned(book_id, tenant)
        result = await self._cancel(
            keys=[keys.book_key(book_id), keys.book_cancel_key(book_id), keys.book_events_key(book_id),
                  keys.open_books_key()],
            args=[repr(time.time()), self.ttl, EVENTS_MAXLEN, book_id])
        if int(result) < 0:
            raise _not_found(book_id)
        return int(result) == 1

    async def fail(self, book_id: str, error: str) -> None:
        """End a job that will never run (it could not be enqueued)."""
        await self._end(keys=[keys.book_key(book_id), keys.book_events_key(book_id), keys.open_books_key()],
                        args=[error[:500], repr(time.time()), self.ttl, EVENTS_MAXLEN, book_id])

    async def _segment(self, book_id: str, chapter: int, segment: int, fields: dict[str, str]) -> dict[str, str]:
        if fields.get("planned") != "1":
            raise Unavailable(f"job {book_id} is not planned yet (its segments do not exist until a batch worker "
                              "has split it); try again shortly")
        names = ("status", "take", "take_id", "seed", "text", "tokens", "seconds", "stop_reason", "error")
        values = await self.redis.hmget(keys.book_segments_key(book_id),
                                        [segment_field(chapter, segment, n) for n in names])
        if values[0] is None:
            raise NotFound(f"job {book_id} has no segment {segment} in chapter {chapter} (indexes count from 0)")
        return {n: (v or b"").decode() for n, v in zip(names, values, strict=True)}

    async def segment(self, book_id: str, tenant: str, chapter: int, segment: int) -> BookSegmentState:
        fields = await self.owned(book_id, tenant)
        return BookSegmentState.from_fields(chapter, segment, await self._segment(book_id, chapter, segment, fields))

    async def reroll(self, book_id: str, tenant: str, chapter: int, segment: int,
                     seed: int | None) -> tuple[BookSegmentState, str, SegmentTask]:
        """Make a new take of one segment current (queued); returns it, the old take id and the task to send."""
        fields = await self.owned(book_id, tenant)
        current = await self._segment(book_id, chapter, segment, fields)
        if seed is None:
            seed = secrets.randbits(SEED_BITS)
            while str(seed) == current["seed"]:
                seed = secrets.randbits(SEED_BITS)
        take_id = uuid.uuid4().hex
        code, old = await self._reroll(
            keys=[keys.book_key(book_id), keys.book_segments_key(book_id), keys.book_events_key(book_id),
                  keys.open_books_key()],
            args=[segment_prefix(chapter, segment), take_id, str(seed), repr(time.time()), self.ttl, EVENTS_MAXLEN,
                  chapter, segment, book_id])
        code, old = code.decode(), old.decode()
        if code == "cancelled":
            raise JobCancelled(f"job {book_id} was cancelled; a cancelled job's segments cannot be re-rolled")
        if code == "unplanned":
            raise Unavailable(f"job {book_id} is not planned yet; try again shortly")
        if code != "ok":
            raise _not_found(book_id)
        if old:  # a task still running the old take stops within one decode step; its chunks expire soon
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.set(keys.job_cancel_key(old), 1, ex=OLD_TAKE_TTL_SECONDS)
                pipe.expire(keys.job_key(old), OLD_TAKE_TTL_SECONDS)
                pipe.expire(keys.job_stream_key(old), OLD_TAKE_TTL_SECONDS)
                await pipe.execute()
        state = BookSegmentState.from_fields(chapter, segment, await self._segment(book_id, chapter, segment, fields))
        return state, old, SegmentTask(book_id, chapter, segment, take_id)

    async def last_event_id(self, book_id: str) -> str:
        """The id of the newest event ("0-0" when there is none): a watch reads strictly after it."""
        newest = await self.redis.xrevrange(keys.book_events_key(book_id), "+", "-", count=1)
        return newest[0][0].decode() if newest else "0-0"

    async def events(self, book_id: str, after: str, block_ms: int) -> list[tuple[str, dict[str, str]]]:
        """Events after ``after``, waiting up to ``block_ms`` for the first."""
        reply = await self.redis.xread({keys.book_events_key(book_id): after}, count=256, block=block_ms)
        return [(entry_id.decode(), _decode(fields)) for entry_id, fields in xread_entries(reply)]
