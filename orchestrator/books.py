"""The Books service: submit a book, follow it, cancel it, re-roll a segment, fetch a segment's chunks.

``SubmitBook`` receives the file (a header, then pieces, at most ``books.max_file_bytes``), validates
the synthesis fields exactly as ``Synthesize`` does, parses the file into chapters in a thread (a bad
file is INVALID_ARGUMENT and nothing is written), writes the job and sends ``relaytts.plan_book`` to
the ``t2s.batch`` queue; a batch worker splits the chapters into segments with the frontend's
segmenter and enqueues one ``relaytts.synthesize_segment`` task per segment. ``WatchJob`` tails the
book's events stream; ``StreamSegment`` relays a take's chunk stream like ``Resume`` relays a live
job's. Nothing lives in the gateway: a restarted gateway serves every job from Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final

import grpc
from celery import Celery

from orchestrator.auth import current_tenant
from orchestrator.book_store import BookStore
from orchestrator.bookfile import parse_book
from orchestrator.imports import ImportSlots
from orchestrator.metrics import GatewayMetrics
from orchestrator.quotas import StoredQuotas
from orchestrator.streams import relay_chunks
from orchestrator.synthesis import Admission, validate_request
from protos import relaytts_v1_pb2 as pb
from protos import relaytts_v1_pb2_grpc as pb_grpc
from relaytts.books import BookFormat, EventKind, JobEventState
from relaytts.errors import InvalidArgument, RelayError, Unavailable, VoiceNotFound
from relaytts.jobs import BATCH_QUEUE, PLAN_BOOK_TASK, SYNTHESIZE_SEGMENT_TASK
from relaytts.settings import Settings
from relaytts.voices import DEFAULT_VOICE_IDS, voice_not_found_message

__all__ = ["BatchSender", "BooksServicer"]

log = logging.getLogger(__name__)

WATCH_REFRESH_SECONDS: Final = 5.0
"""A watch with no event for this long gets a fresh snapshot (the ETA moves; the client sees a live stream)."""
WATCH_BLOCK_MS: Final = 2000
"""Longest single XREAD BLOCK of a watch (below the Redis client's socket timeout)."""
LIST_DEFAULT: Final = 50
LIST_MAX: Final = 500
PLACEHOLDER_TEXT: Final = "book"
"""Stands in for ``text`` when a book's synthesis fields are checked with ``validate_request``."""

Send = Callable[[str, str, int], Awaitable[None]]
"""``await send(task_name, json_argument, priority)`` on the ``t2s.batch`` queue."""


class BatchSender:
    """Sends book tasks by name to ``t2s.batch`` from a thread (kombu publishes synchronously)."""

    def __init__(self, app: Celery) -> None:
        self.app = app

    def _send(self, task: str, argument: str, priority: int) -> None:
        self.app.send_task(task, args=[argument], queue=BATCH_QUEUE, priority=priority, serializer="json")

    async def __call__(self, task: str, argument: str, priority: int) -> None:
        try:
            await asyncio.to_thread(self._send, task, argument, priority)
        except Exception as exc:  # kombu/redis connection errors come in many classes
            log.warning("could not enqueue %s: %s: %s", task, type(exc).__name__, exc)
            raise Unavailable(f"could not enqueue the book's work: the broker is unreachable "
                              f"({type(exc).__name__})") from exc


@dataclass(eq=False)
class BooksServicer(pb_grpc.BooksServicer):
    """Thin handlers over ``BookStore``, a ``send`` coroutine and ``relay_chunks``."""

    settings: Settings
    store: BookStore
    send: Send
    metrics: GatewayMetrics
    admission: Admission
    """Shared with Synthesis: WatchJob and StreamSegment count as streams."""
    bundle_ids: tuple[str, ...] = ()
    check_voice: Callable[[str, str], Awaitable[None]] | None = None
    """``(tenant, voice)``: the check ``Synthesize`` applies to a registered voice (None: only the default)."""
    imports: ImportSlots = field(default_factory=ImportSlots)
    """Shared with Voices.ImportVoices: uploads held in memory at once."""
    quotas: StoredQuotas | None = None
    """Per-tenant cap on book jobs (None: none)."""

    async def SubmitBook(self, request_iterator: AsyncIterator[pb.SubmitBookRequest],
                         context: grpc.aio.ServicerContext) -> pb.BookJob:
        with self.imports.slot("SubmitBook"):  # the whole file is held in memory
            return await self._submit_book(request_iterator)

    async def _submit_book(self, request_iterator: AsyncIterator[pb.SubmitBookRequest]) -> pb.BookJob:
        tenant = current_tenant()
        if self.quotas is not None:  # before the file is received
            await self.quotas.check_books(tenant)
        header, data = await self._receive(request_iterator)
        probe = pb.SynthesizeRequest(text=PLACEHOLDER_TEXT, language=header.language, voice=header.voice,
                                     sampling=header.sampling, bundle_id=header.bundle_id)
        if header.HasField("noise_scale"):
            probe.noise_scale = header.noise_scale
        job = validate_request(probe, self.settings.gateway, self.bundle_ids)
        if header.voice not in DEFAULT_VOICE_IDS:  # as Synthesize does
            if self.check_voice is None:
                raise VoiceNotFound(voice_not_found_message(header.voice))
            await self.check_voice(tenant, header.voice)
        # Off the event loop; the EPUB's ZIP directory is checked before anything is expanded.
        book = await asyncio.to_thread(parse_book, data, header.filename, BookFormat.from_pb(header.format),
                                       header.title, self.settings.books.max_text_chars,
                                       self.settings.books.max_expanded_bytes)
        book_id = uuid.uuid4().hex
        await self.store.create(book_id, tenant, book, header.filename, job)
        try:
            await self.send(PLAN_BOOK_TASK, book_id, 0)
        except RelayError as exc:
            await self.store.fail(book_id, exc.message)
            raise
        log.info("book %s: tenant %s, %s %r, %d chapters, %d characters", book_id, tenant, book.format.value,
                 book.title, len(book.chapters), book.chars)
        return (await self.store.state(book_id, tenant)).to_pb()

    async def _receive(self, requests: AsyncIterator[pb.SubmitBookRequest]) -> tuple[pb.BookHeader, bytes]:
        limit = self.settings.books.max_file_bytes
        header: pb.BookHeader | None = None
        parts: list[bytes] = []
        size = 0
        async for message in requests:
            if message.HasField("header"):
                if header is not None or parts:
                    raise InvalidArgument("`header` must be the first message of SubmitBook, and only the first")
                header = message.header
                if header.size_bytes > limit:
                    raise InvalidArgument(f"the book must be at most {limit} bytes; given {header.size_bytes}")
            elif message.HasField("data"):
                if header is None:
                    raise InvalidArgument("`header` must be the first message of SubmitBook; given `data` first")
                size += len(message.data)
                if size > limit:
                    raise InvalidArgument(f"the book must be at most {limit} bytes; given more than {limit}")
                parts.append(message.data)
        if header is None:
            raise InvalidArgument("SubmitBook needs a `header` message, then the file in `data` messages")
        return header, b"".join(parts)

    async def GetJob(self, request: pb.GetJobRequest, context: grpc.aio.ServicerContext) -> pb.BookJob:
        state = await self.store.state(request.job_id, current_tenant(), request.include_segments)
        return state.to_pb(request.include_segments)

    async def ListJobs(self, request: pb.ListJobsRequest, context: grpc.aio.ServicerContext) -> pb.ListJobsResponse:
        limit = request.limit or LIST_DEFAULT
        if limit > LIST_MAX:
            raise InvalidArgument(f"`limit` must be at most {LIST_MAX}; given {limit}")
        jobs = await self.store.list(current_tenant(), limit)
        return pb.ListJobsResponse(jobs=[job.to_pb(include_segments=False) for job in jobs])

    async def CancelJob(self, request: pb.CancelJobRequest, context: grpc.aio.ServicerContext) -> pb.CancelJobResponse:
        cancelled = await self.store.cancel(request.job_id, current_tenant())
        if cancelled:
            log.info("book %s: cancelled by CancelJob", request.job_id)
        return pb.CancelJobResponse(cancelled=cancelled)

    async def RerollSegment(self, request: pb.RerollSegmentRequest,
                            context: grpc.aio.ServicerContext) -> pb.BookSegment:
        seed = request.seed if request.HasField("seed") else None
        if seed is not None and seed >= 2**63:
            raise InvalidArgument(f"`seed` must be in [0, 2^63); given {seed}")
        state, old, task = await self.store.reroll(request.job_id, current_tenant(), request.chapter_index,
                                                   request.segment_index, seed)
        await self.send(SYNTHESIZE_SEGMENT_TASK, task.to_json(), 0)  # ahead of queued books: someone waits for it
        log.info("book %s: segment %d.%d re-rolled (take %d, seed %d; was take %s)", request.job_id,
                 request.chapter_index, request.segment_index, state.take, state.seed, old or "-")
        return state.to_pb()

    async def WatchJob(self, request: pb.WatchJobRequest, context: grpc.aio.ServicerContext) -> None:
        tenant = current_tenant()
        await self.store.owned(request.job_id, tenant)
        with self.admission.slot():
            last = await self.store.last_event_id(request.job_id)  # before the snapshot: nothing is missed
            if await self._snapshot(context, request.job_id, tenant):
                return
            written = time.monotonic()
            while True:
                for entry_id, fields in await self.store.events(request.job_id, last, WATCH_BLOCK_MS):
                    last = entry_id
                    event = JobEventState.from_entry(request.job_id, fields, time.time())
                    await context.write(event.to_pb())
                    written = time.monotonic()
                    if event.final:
                        return
                if time.monotonic() - written >= WATCH_REFRESH_SECONDS:
                    if await self._snapshot(context, request.job_id, tenant):
                        return
                    written = time.monotonic()

    async def _snapshot(self, context: grpc.aio.ServicerContext, book_id: str, tenant: str) -> bool:
        """Write the job's state as a SNAPSHOT event; True when the job has ended."""
        fields = await self.store.owned(book_id, tenant)
        event = JobEventState.from_entry(book_id, {**fields, "kind": EventKind.SNAPSHOT.value}, time.time())
        await context.write(event.to_pb())
        return event.final

    async def StreamSegment(self, request: pb.StreamSegmentRequest, context: grpc.aio.ServicerContext) -> None:
        segment = await self.store.segment(request.job_id, current_tenant(), request.chapter_index,
                                           request.segment_index)
        cached = set(request.cached_voice_hashes)
        with self.admission.slot():
            chunks = relay_chunks(self.store.redis, segment.take_id, after_seq=request.after_seq,
                                  idle_timeout=self.settings.gateway.queue_timeout_seconds)
            async with contextlib.aclosing(chunks):
                async for chunk in chunks:
                    if chunk.voice_hash and chunk.voice_hash in cached:
                        chunk.ClearField("ge")
                    await context.write(chunk)
