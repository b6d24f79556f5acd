"""The Synthesis service: validate -> create and enqueue the job -> relay its chunks.

Validation happens before anything is written (docs/protocol.md §1.2); each message names the
field, the limit and the value given. Admission is try-acquire: past ``max_active_streams`` the
call fails with RESOURCE_EXHAUSTED at once. A client that cancels the RPC or goes away leaves the job
running for ``resume_grace_seconds`` so it can ``Resume``; then its cancel key is set and the worker
stops within one decode step. A gateway shutting down cancels nothing, so clients can resume on
another gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import grpc

from orchestrator.auth import current_tenant
from orchestrator.background import BackgroundWrites, finish_or_cancel
from orchestrator.jobs import JobStore
from orchestrator.metrics import GatewayMetrics
from orchestrator.streams import relay_chunks
from protos import relaytts_v1_pb2 as pb
from protos import relaytts_v1_pb2_grpc as pb_grpc
from relaytts.errors import BundleMismatch, InvalidArgument, Overloaded, RelayError, VoiceNotFound
from relaytts.jobs import JOB_ID_METADATA, SynthesisJob
from relaytts.sampling import SamplingParams
from relaytts.settings import GatewaySettings
from relaytts.voices import DEFAULT_VOICE_IDS, MAX_CACHED_VOICE_HASHES, voice_not_found_message

__all__ = ["Admission", "SynthesisServicer", "validate_request"]

log = logging.getLogger(__name__)

LANGUAGES: Final = ("auto", "zh", "en", "ja")
VOICE_ID: Final = re.compile(r"[0-9a-f]{32}")
"""A registered voice's id (``relaytts.voices``); ``""``/``default`` name the bundle's default voice."""
REQUEST_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""A client's idempotency key (``SynthesizeRequest.request_id``)."""
SAMPLING_FIELDS: Final = ("top_k", "top_p", "temperature", "repetition_penalty", "max_new_tokens")
"""SamplingParams fields a request may set (the seed travels as ``SynthesisJob.seed``)."""
NOISE_SCALE_DEFAULT: Final = 0.5
NOISE_SCALE_MAX: Final = 2.0
SEED_BITS: Final = 31
"""A random job seed when the request sets none."""
"""Initial metadata of Synthesize: the job id, sent before the first chunk (resume needs it)."""


def validate_request(
    request: pb.SynthesizeRequest, limits: GatewaySettings, bundle_ids: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The job fields of a valid request (no id, tenant or time yet); raises a ``RelayError`` otherwise.

    ``bundle_ids``: the ids the served bundle answers to, its own first (empty: no bundle served,
    nothing to compare ``request.bundle_id`` with).
    """
    text = request.text
    if not text.strip():
        raise InvalidArgument(f"`text` must be non-empty after stripping whitespace; given {text[:40]!r}")
    if not any(ch.isalnum() for ch in text):  # punctuation and symbols only: refused before any job exists
        raise InvalidArgument(f"`text` has nothing to speak (no letter or digit); given {text[:40]!r}")
    if len(text) > limits.max_text_chars:
        raise InvalidArgument(f"`text` must be at most {limits.max_text_chars} characters; given {len(text)}")
    language = request.language or "auto"
    if language not in LANGUAGES:
        raise InvalidArgument(f"`language` must be one of {', '.join(LANGUAGES)}; given {request.language[:40]!r}")
    if request.voice not in DEFAULT_VOICE_IDS and not VOICE_ID.fullmatch(request.voice):
        raise VoiceNotFound(f"`voice` must be `default` or a registered voice id (32 hex characters); given "
                            f"{request.voice[:80]!r}")
    sampling = {name: getattr(request.sampling, name) for name in SAMPLING_FIELDS if request.sampling.HasField(name)}
    seed = request.sampling.seed if request.sampling.HasField("seed") else None
    SamplingParams(**sampling, seed=seed).validate()
    noise_scale = request.noise_scale if request.HasField("noise_scale") else NOISE_SCALE_DEFAULT
    if not (math.isfinite(noise_scale) and 0.0 <= noise_scale <= NOISE_SCALE_MAX):
        raise InvalidArgument(f"`noise_scale` must be in [0, {NOISE_SCALE_MAX:g}]; given {noise_scale!r}")
    if bundle_ids and request.bundle_id and request.bundle_id not in bundle_ids:
        also = f" (or its edge subset's {', '.join(bundle_ids[1:])})" if len(bundle_ids) > 1 else ""
        raise BundleMismatch(f"`bundle_id` must be the served bundle {bundle_ids[0]}{also}; given "
                             f"{request.bundle_id[:40]!r}: fetch the served vocoder with GetModelInfo/FetchModelFile")
    cached = list(request.cached_voice_hashes)
    if len(cached) > MAX_CACHED_VOICE_HASHES:
        raise InvalidArgument(f"`cached_voice_hashes` must hold at most {MAX_CACHED_VOICE_HASHES} hashes; "
                              f"given {len(cached)}")
    return {
        "text": text, "language": language, "voice": request.voice, "sampling": sampling,
        "noise_scale": float(noise_scale), "cached_voice_hashes": cached,
        "seed": seed if seed is not None else secrets.randbits(SEED_BITS),
    }


def check_request_id(request_id: str) -> str:
    """``SynthesizeRequest.request_id``: empty, or 1-64 of ``A-Z a-z 0-9 _ -`` (it becomes part of a Redis key)."""
    if request_id and not REQUEST_ID.fullmatch(request_id):
        raise InvalidArgument(f"`request_id` must be 1-64 characters of A-Z a-z 0-9 _ -; given {request_id[:80]!r}")
    return request_id


class Admission:
    """Try-acquire stream slots: ``slot()`` raises ``Overloaded`` at once when all are taken."""

    def __init__(self, limit: int, metrics: GatewayMetrics) -> None:
        self.limit = limit
        self.active = 0
        self.metrics = metrics

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        if self.active >= self.limit:
            raise Overloaded(f"`max_active_streams` is {self.limit} and {self.active} streams are open; "
                             "retry with backoff")
        self.active += 1
        self.metrics.active_streams.inc()
        try:
            yield
        finally:
            self.active -= 1
            self.metrics.active_streams.dec()


@dataclass(eq=False)
class SynthesisServicer(pb_grpc.SynthesisServicer):
    """Thin handlers over ``JobStore``, an ``enqueue`` coroutine and ``relay_chunks``."""

    settings: GatewaySettings
    jobs: JobStore
    enqueue: Callable[[SynthesisJob], Awaitable[None]]
    metrics: GatewayMetrics
    admission: Admission
    bundle_ids: tuple[str, ...] = ()
    check_voice: Callable[[str, str], Awaitable[None]] | None = None
    """``(tenant, voice)``: raises unless a registered voice is the tenant's and fits the served bundle
    (``VoicesServicer.check_usable``). None: only the default voice exists."""
    draining: bool = False
    """Set while the gateway shuts down: streams it cancels are not client cancels."""

    def __post_init__(self) -> None:
        self._background = BackgroundWrites()
        self._streams: set[asyncio.Task] = set()

    async def wait_closed(self, timeout: float = 5.0) -> None:
        """After ``server.stop``: end the streams still unwinding and the cancel-key writes, so the
        Redis pool can close under nobody (grpc returns from ``stop`` before handler tasks finish)."""
        for task in self._streams:
            task.cancel()
        await finish_or_cancel(self._streams | self._background.tasks, timeout)

    async def Synthesize(self, request: pb.SynthesizeRequest, context: grpc.aio.ServicerContext) -> None:
        started = time.perf_counter()
        tenant = current_tenant()
        fields = validate_request(request, self.settings, self.bundle_ids)
        if request.voice not in DEFAULT_VOICE_IDS:
            if self.check_voice is None:
                raise VoiceNotFound(voice_not_found_message(request.voice))
            await self.check_voice(tenant, request.voice)
        request_id = check_request_id(request.request_id)
        with self.admission.slot():
            job = SynthesisJob(job_id=uuid.uuid4().hex, tenant=tenant, enqueued_at=time.time(), **fields)
            existing = await self.jobs.create(job, request_id)
            if existing is not None:  # a retry of a request whose stream was cut: the same job, from the start
                await self.jobs.check_resumable(existing, tenant)
                log.info("job %s: re-attached by request id %s", existing, request_id)
                async with self._stream_scope(existing):
                    await context.send_initial_metadata(((JOB_ID_METADATA, existing),))
                    await self._relay(context, existing, 0, started)
                return
            async with self._stream_scope(job.job_id):
                try:
                    await self.enqueue(job)
                except RelayError as exc:
                    await self.jobs.mark_failed(job.job_id, exc.message)
                    await self.jobs.forget_request(tenant, request_id)
                    raise
                self.metrics.jobs_submitted.inc()
                log.info("job %s: tenant %s, %d characters, language %s", job.job_id, tenant, len(job.text),
                         job.language)
                await context.send_initial_metadata(((JOB_ID_METADATA, job.job_id),))
                await self._relay(context, job.job_id, 0, started)

    async def Resume(self, request: pb.ResumeRequest, context: grpc.aio.ServicerContext) -> None:
        await self.jobs.check_resumable(request.job_id, current_tenant())
        with self.admission.slot():
            async with self._stream_scope(request.job_id):
                await self._relay(context, request.job_id, request.after_seq, None)

    async def Cancel(self, request: pb.CancelRequest, context: grpc.aio.ServicerContext) -> pb.CancelResponse:
        status = await self.jobs.owned_status(request.job_id, current_tenant())
        if status.finished:
            return pb.CancelResponse(cancelled=False)
        await self.jobs.cancel(request.job_id)
        log.info("job %s: cancelled by Cancel", request.job_id)
        return pb.CancelResponse(cancelled=True)

    async def ReportPlayback(self, request: pb.PlaybackReport, context: grpc.aio.ServicerContext) -> pb.PlaybackAck:
        await self.jobs.owned(request.job_id, current_tenant())
        for name in ("time_to_first_audio_seconds", "real_time_factor", "audio_seconds"):
            value = getattr(request, name)
            if not (math.isfinite(value) and value >= 0.0):
                raise InvalidArgument(f"`{name}` must be a finite number >= 0; given {value!r}")
        if request.time_to_first_audio_seconds > 0:
            self.metrics.edge_time_to_first_audio.observe(request.time_to_first_audio_seconds)
        if request.real_time_factor > 0:
            self.metrics.edge_rtf.observe(request.real_time_factor)
        if request.underruns:
            self.metrics.edge_underruns.inc(request.underruns)
        return pb.PlaybackAck()

    async def _relay(self, context: grpc.aio.ServicerContext, job_id: str, after_seq: int,
                     started: float | None) -> None:
        """Write the job's chunks, awaiting each write (HTTP/2 flow control paces the Redis reads)."""
        chunks = relay_chunks(self.jobs.redis, job_id, after_seq=after_seq,
                              idle_timeout=self.settings.queue_timeout_seconds,
                              observe_relay=self.metrics.relay.observe)
        async with contextlib.aclosing(chunks):
            async for chunk in chunks:
                await context.write(chunk)
                if started is not None:
                    self.metrics.time_to_first_chunk.observe(time.perf_counter() - started)
                    started = None

    @contextlib.asynccontextmanager
    async def _stream_scope(self, job_id: str) -> AsyncIterator[None]:
        """Count this stream as a reader of the job. When it is cut (client cancel, client gone,
        deadline) and the gateway is not shutting down, the job gets ``resume_grace_seconds`` for a
        ``Resume`` before its cancel key is set (docs/protocol.md §3)."""
        stream = asyncio.current_task()
        if stream is not None:
            self._streams.add(stream)
        await self.jobs.attach(job_id)
        try:
            yield
        except RelayError:
            await self.jobs.detach(job_id)  # a domain end (queue timeout, ...): the job is not abandoned
            raise
        except (asyncio.CancelledError, Exception):
            # The client is gone: grpc cancels the handler, or (under load) reports the vanished peer as a
            # failed write with its own error type. Either way the stream was cut, not ended.
            self._stream_cut(job_id)
            raise
        else:
            await self.jobs.detach(job_id)
        finally:
            self._streams.discard(stream)

    def _stream_cut(self, job_id: str) -> None:
        if self.draining:
            self._background.start(self.jobs.detach(job_id))
            return
        self.metrics.stream_cancellations.inc()
        log.info("job %s: the client cancelled or left; cancelling it unless it resumes within %.1f s",
                 job_id, self.settings.resume_grace_seconds)
        self._background.start(self.jobs.cancel_if_abandoned(job_id, self.settings.resume_grace_seconds))
