"""The Voices service: register, list, get, update, delete, export and import a tenant's voices.

Cheap checks happen here, before anything is written or enqueued (docs/protocol.md §5.1): the first
message, name, language and transcript, the clip's size against ``max_voice_upload_bytes`` (as soon
as the pieces exceed it, without reading on), the tenant (every key is the caller's tenant's). The
clip itself is judged by the worker: decodable, 3-10 s, not silent. Conditioning runs on a worker;
this servicer parks the upload in Redis, enqueues ``relaytts.register_voice`` by name on the
``voices`` queue and waits on the registration's result stream. If no outcome comes within
``queue_timeout_seconds`` (or the caller goes away) it decides the registration as abandoned, so a
worker finishing later writes nothing: an answer that never reached the caller leaves no voice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import grpc

from orchestrator.auth import current_tenant
from orchestrator.background import BackgroundWrites
from orchestrator.imports import ImportSlots, read_bounded_archive
from orchestrator.metrics import GatewayMetrics
from orchestrator.models import EdgeFiles
from orchestrator.quotas import StoredQuotas
from orchestrator.voice_archive import MAX_ARCHIVE_BYTES, write_archive
from orchestrator.voice_store import VoiceStore
from protos import relaytts_v1_pb2 as pb
from protos import relaytts_v1_pb2_grpc as pb_grpc
from relaytts.errors import (
    BundleError,
    BundleMismatch,
    InvalidArgument,
    Overloaded,
    PermissionDenied,
    RelayError,
    Unavailable,
    VoiceNotFound,
)
from relaytts.settings import GatewaySettings
from relaytts.voices import (
    DEFAULT_VOICE_IDS,
    MAX_NAME_CHARS,
    MAX_TRANSCRIPT_CHARS,
    REGISTER_VOICE_TASK,
    TRANSCRIPT_LANGUAGES,
    VOICES_QUEUE,
    RegistrationStatus,
    VoiceInfo,
    VoiceTask,
    check_voice_id,
    new_id,
)

__all__ = ["VoiceSender", "VoicesServicer", "error_for", "validate_language", "validate_name", "validate_transcript"]

log = logging.getLogger(__name__)

PIECE_BYTES: Final = 1 << 20
"""ExportVoices piece size."""
DEFAULT_PAGE_SIZE: Final = 100
MAX_PAGE_SIZE: Final = 1000
_CODES: Final = (InvalidArgument, VoiceNotFound, BundleError, Unavailable, PermissionDenied, Overloaded)


def error_for(code: str, message: str) -> RelayError:
    """The ``RelayError`` a worker's outcome code names (anything unknown is INTERNAL)."""
    kind = next((cls for cls in _CODES if cls.code == code), RelayError)
    return kind(message or "the worker gave no reason")


def validate_name(name: str) -> str:
    if len(name) > MAX_NAME_CHARS:
        raise InvalidArgument(f"`name` must be at most {MAX_NAME_CHARS} characters; given {len(name)}")
    return name.strip()


def validate_language(language: str) -> str:
    language = language or "auto"
    if language not in TRANSCRIPT_LANGUAGES:
        raise InvalidArgument(f"`language` must be one of {', '.join(TRANSCRIPT_LANGUAGES)}; given {language[:40]!r}")
    return language


def validate_transcript(transcript: str) -> str:
    if not transcript.strip():
        raise InvalidArgument(f"`transcript` must be non-empty after stripping whitespace; given {transcript[:40]!r}")
    if len(transcript) > MAX_TRANSCRIPT_CHARS:
        raise InvalidArgument(f"`transcript` must be at most {MAX_TRANSCRIPT_CHARS} characters; given "
                              f"{len(transcript)}")
    return transcript.strip()


@dataclass(eq=False)
class VoicesServicer(pb_grpc.VoicesServicer):
    """Thin handlers over ``VoiceStore``, an ``enqueue`` coroutine and the archive codec."""

    settings: GatewaySettings
    store: VoiceStore
    enqueue: Callable[[VoiceTask], Awaitable[None]]
    metrics: GatewayMetrics
    edge: EdgeFiles | None = None
    imports: ImportSlots = field(default_factory=ImportSlots)
    """Shared with Books.SubmitBook: uploads held in memory at once."""
    quotas: StoredQuotas | None = None
    """Per-tenant cap on registered voices (None: none)."""

    def __post_init__(self) -> None:
        self.active = 0
        """Registrations waiting on a worker now (at most ``max_active_streams``)."""
        self._background = BackgroundWrites()

    # ---- RPCs ----

    async def RegisterVoice(self, requests: AsyncIterator[pb.RegisterVoiceRequest],
                            context: grpc.aio.ServicerContext) -> pb.VoiceInfo:
        tenant = current_tenant()
        first = await _first(requests, "metadata", "RegisterVoice")
        meta = first.metadata
        name, language = validate_name(meta.name), validate_language(meta.language)
        transcript = validate_transcript(meta.transcript)
        self._check_size(meta.size_bytes)
        if self.quotas is not None:
            await self.quotas.check_voices(tenant)
        audio = await self._read_clip(requests, required=True)
        task = VoiceTask(registration_id=new_id(), tenant=tenant, voice_id=new_id(), mode="create",
                         language=language, transcript=transcript, name=name, enqueued_at=time.time())
        return (await self._condition(task, audio)).to_pb()

    async def ListVoices(self, request: pb.ListVoicesRequest, context: grpc.aio.ServicerContext
                         ) -> pb.ListVoicesResponse:
        size = request.page_size or DEFAULT_PAGE_SIZE
        if size > MAX_PAGE_SIZE:
            raise InvalidArgument(f"`page_size` must be at most {MAX_PAGE_SIZE}; given {size}")
        token = request.page_token
        if token and not token.isdigit():
            raise InvalidArgument(f"`page_token` must come from a previous ListVoicesResponse; given {token[:40]!r}")
        infos, following = await self.store.page(current_tenant(), int(token or 0), size)
        return pb.ListVoicesResponse(voices=[i.to_pb() for i in infos],
                                     next_page_token="" if following is None else str(following))

    async def GetVoice(self, request: pb.GetVoiceRequest, context: grpc.aio.ServicerContext) -> pb.VoiceInfo:
        return (await self.store.get(current_tenant(), check_voice_id(request.voice_id))).to_pb()

    async def UpdateVoice(self, requests: AsyncIterator[pb.UpdateVoiceRequest],
                          context: grpc.aio.ServicerContext) -> pb.VoiceInfo:
        tenant = current_tenant()
        update = (await _first(requests, "update", "UpdateVoice")).update
        voice_id = check_voice_id(update.voice_id)
        current = await self.store.get(tenant, voice_id)
        name = validate_name(update.name) if update.HasField("name") else None
        transcript = validate_transcript(update.transcript) if update.HasField("transcript") else None
        language = validate_language(update.language) if update.HasField("language") else None
        self._check_size(update.size_bytes)
        audio = await self._read_clip(requests, required=False)
        if audio is None and transcript is None and language is None and not update.recompute:
            if name is None:
                raise InvalidArgument("nothing to update: give `name`, `transcript`, `language`, a new clip or "
                                      "`recompute`")
            return (await self.store.rename(tenant, voice_id, name)).to_pb()
        task = VoiceTask(registration_id=new_id(), tenant=tenant, voice_id=voice_id, mode="update",
                         language=language or current.language, transcript=transcript or current.transcript,
                         name=name, stored_audio=audio is None, enqueued_at=time.time())
        return (await self._condition(task, audio)).to_pb()

    async def DeleteVoice(self, request: pb.DeleteVoiceRequest, context: grpc.aio.ServicerContext
                          ) -> pb.DeleteVoiceResponse:
        tenant = current_tenant()
        await self.store.delete(tenant, check_voice_id(request.voice_id))
        log.info("voice %s (tenant %s) deleted", request.voice_id, tenant)
        return pb.DeleteVoiceResponse()

    async def ExportVoices(self, request: pb.ExportVoicesRequest, context: grpc.aio.ServicerContext) -> None:
        tenant = current_tenant()
        ids = list(dict.fromkeys(check_voice_id(v) for v in request.voice_ids)) or await self.store.all_ids(tenant)
        records = await self.store.records(tenant, ids)
        data = await asyncio.to_thread(write_archive, records)
        log.info("exported %d voices of tenant %s (%d bytes)", len(records), tenant, len(data))
        for offset in range(0, len(data), PIECE_BYTES):
            await context.write(pb.FileChunk(data=data[offset:offset + PIECE_BYTES], offset=offset,
                                             total_size_bytes=len(data)))

    async def ImportVoices(self, requests: AsyncIterator[pb.ImportVoicesRequest],
                           context: grpc.aio.ServicerContext) -> pb.ImportVoicesResponse:
        with self.imports.slot("ImportVoices"):  # the whole file is held in memory
            return await self._import_voices(requests)

    async def _import_voices(self, requests: AsyncIterator[pb.ImportVoicesRequest]) -> pb.ImportVoicesResponse:
        tenant = current_tenant()
        cap = min(self.settings.max_voice_archive_bytes, MAX_ARCHIVE_BYTES)
        options = (await _first(requests, "options", "ImportVoices")).options
        pieces, size = [], 0
        async for request in requests:
            if request.WhichOneof("part") != "data":
                raise InvalidArgument("ImportVoices: after `options`, every message must be a `data` piece")
            size += len(request.data)
            if size > cap:  # refused before the rest is received
                raise InvalidArgument(f"the voices file must be at most {cap} bytes (`max_voice_archive_bytes`); "
                                      "given more")
            pieces.append(request.data)
        records = await asyncio.to_thread(read_bounded_archive, b"".join(pieces), cap)
        if self.quotas is not None:  # new ids only: replacing a voice one already has adds nothing
            have = set(await self.store.all_ids(tenant))
            await self.quotas.check_voices(tenant, sum(r["voice_id"].decode() not in have for r in records))
        imported, skipped = await self.store.import_records(tenant, records, options.replace_existing)
        log.info("tenant %s imported %d voices (%d skipped)", tenant, len(imported), len(skipped))
        return pb.ImportVoicesResponse(imported_voice_ids=imported, skipped_voice_ids=skipped)

    # ---- synthesis support ----

    async def check_usable(self, tenant: str, voice: str) -> None:
        """For Synthesize: the voice exists for ``tenant`` and was computed with the served bundle (when known)."""
        if voice in DEFAULT_VOICE_IDS:
            return
        bundle_id = await self.store.bundle_of(tenant, voice)
        if self.edge is not None and bundle_id != self.edge.bundle_id:
            raise BundleMismatch(f"voice {voice} was computed with bundle {bundle_id}; this gateway serves bundle "
                                 f"{self.edge.bundle_id}: recompute it (`relaytts voices migrate`)")

    # ---- helpers ----

    def _check_size(self, declared: int) -> None:
        limit = self.settings.max_voice_upload_bytes
        if declared > limit:
            raise InvalidArgument(f"`audio` must be at most {limit} bytes; given {declared}")

    async def _read_clip(self, requests: AsyncIterator[Any], required: bool) -> bytes | None:
        limit = self.settings.max_voice_upload_bytes
        pieces, size = [], 0
        async for request in requests:
            if request.WhichOneof("part") != "audio":
                raise InvalidArgument("after the first message, every message must be an `audio` piece")
            size += len(request.audio)
            if size > limit:
                raise InvalidArgument(f"`audio` must be at most {limit} bytes; given more than {limit}")
            pieces.append(request.audio)
        if not size:
            if required:
                raise InvalidArgument("`audio` is empty: send the clip file's bytes after the metadata message")
            return None
        return b"".join(pieces)

    @contextlib.contextmanager
    def _slot(self) -> Iterator[None]:
        limit = self.settings.max_active_streams
        if self.active >= limit:
            raise Overloaded(f"`max_active_streams` is {limit} and {self.active} registrations are waiting on "
                             "workers; retry with backoff")
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1

    async def _condition(self, task: VoiceTask, audio: bytes | None) -> VoiceInfo:
        """Park, enqueue, wait for the outcome (docs/protocol.md §5.1); the stored voice or the worker's error."""
        started = time.perf_counter()
        with self._slot():
            try:
                # The cancel can land while the task is still being published (the message may already be on
                # the queue), so everything after parking the clip falls under the abandon.
                await self.store.start_registration(task, audio)
                await self.enqueue(task)
                log.info("registration %s: voice %s (%s) of tenant %s, %d bytes, enqueued", task.registration_id,
                         task.voice_id, task.mode, task.tenant, len(audio or b""))
                outcome = await self.store.wait_outcome(task.registration_id, self.settings.queue_timeout_seconds)
            except asyncio.CancelledError:
                self._background.start(self.store.abandon(task.registration_id, "the caller went away"))
                raise
            if outcome is None:
                reason = (f"no worker conditioned the clip within {self.settings.queue_timeout_seconds:g} s "
                          "(is a worker consuming the `voices` queue?)")
                outcome = await self.store.abandon(task.registration_id, reason)
                if outcome is None:
                    raise Unavailable(reason)
        self.metrics.stage.labels(stage="voice_registration").observe(time.perf_counter() - started)
        if outcome.status is not RegistrationStatus.DONE:
            raise error_for(outcome.get("code", "INTERNAL"), outcome.get("error", ""))
        return await self.store.get(task.tenant, task.voice_id)

    async def wait_closed(self, timeout: float = 5.0) -> None:
        """After ``server.stop``: finish the abandon writes of cancelled registrations."""
        await self._background.wait_closed(timeout)


async def _first(requests: AsyncIterator[Any], part: str, method: str) -> Any:  # noqa: ANN401
    """The first message of a client stream, which must carry ``part`` (the rest stay unread)."""
    request = await anext(aiter(requests), None)
    if request is None:
        raise InvalidArgument(f"{method}: no messages; the first must be `{part}`")
    if request.WhichOneof("part") != part:
        raise InvalidArgument(f"{method}: the first message must be `{part}`")
    return request


class VoiceSender:
    """``await sender(task)`` sends ``relaytts.register_voice(task_json)`` to the ``voices`` queue by name.

    ``send_task`` blocks (kombu publishes synchronously), so it runs in the loop's default thread pool.
    """

    def __init__(self, app: Any) -> None:  # noqa: ANN401 - celery.Celery (the gateway's send-only app)
        self.app = app

    def _send(self, task: VoiceTask) -> None:
        self.app.send_task(REGISTER_VOICE_TASK, args=[task.to_json()], queue=VOICES_QUEUE, serializer="json",
                           task_id=task.registration_id)

    async def __call__(self, task: VoiceTask) -> None:
        try:
            await asyncio.to_thread(self._send, task)
        except Exception as exc:  # kombu/redis connection errors come in many classes
            log.warning("could not enqueue registration %s: %s: %s", task.registration_id, type(exc).__name__, exc)
            raise Unavailable(f"could not enqueue the registration: the broker is unreachable "
                              f"({type(exc).__name__})") from exc
