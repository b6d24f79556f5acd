"""The worker task ``relaytts.synthesize``: one job, text to a stream of semantic-token chunks.

It implements docs/protocol.md §2. A delivery claims an epoch, finds its resume point, checks the
cancel key, runs the frontend, then decodes each remaining segment (segment i samples with
``seed + i``, so a redelivery redoes an unfinished segment with the same tokens) and ends with one
final chunk. The cancel key is also checked between decode steps.

Failures. An expected failure (``RelayError``: bad sampling values, nothing to speak, a bad bundle)
and an unexpected one (a bug, an ONNX Runtime error) both end the job: a final chunk with status
failed and the error text, ``status=failed`` on the job hash. Neither is retried: the final chunk has
been written, the gateway has stopped relaying, and a retry would publish after "nothing follows" —
and a deterministic failure would only fail again. The one retried case is Redis itself failing
(connection or timeout): nothing, not even the failure, could be written, so the task is retried
with backoff; the retry is a new epoch and continues from the resume point. A child killed mid-job
(OOM, SIGKILL) is redelivered by Celery (``reject_on_worker_lost``) and continues the same way; a
job that has started ``MAX_DELIVERIES`` times is failed instead of run again, so a job that kills
its worker every time cannot loop forever. With continuous batching the decode runs in a separate
decode process (``workers.decode_client``): if that process dies, the stream raises ``DecodeLost`` and
the task rejects its message with requeue — the same redelivery, at once, under a new epoch.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import redis

from protos import relaytts_v1_pb2 as pb
from relaytts.errors import InvalidArgument, RelayError
from relaytts.jobs import SYNTHESIZE_TASK, JobStatus, SynthesisJob
from relaytts.sampling import SamplingParams, StopReason
from relaytts.settings import Settings
from workers.decode_client import DecodeLost
from workers.metrics import WorkerMetrics, worker_metrics
from workers.ownership import deliveries, leases
from workers.publisher import ChunkPublisher, ResumePoint, Superseded
from workers.voice_store import resolve_voice

if TYPE_CHECKING:
    from celery import Task

    from workers.app import Runtime, WorkerApp
    from workers.frontend import PhonemizedSegment
    from workers.t2s import TokenChunk
    from workers.voice import Voice

__all__ = ["MAX_DELIVERIES", "JobRun", "register", "requeue_lost", "segment_params", "stop_reason_to_pb"]

log = logging.getLogger(__name__)

MAX_DELIVERIES: Final = 3
"""Epochs a job may start; the next delivery fails it ("the worker was lost ... times") instead of running it."""
REDIS_RETRIES: Final = 5
"""Retries of a delivery that could not reach Redis (exponential backoff, at most ``REDIS_RETRY_MAX_SECONDS``)."""
REDIS_RETRY_MAX_SECONDS: Final = 30
US: Final = 1_000_000


def stop_reason_to_pb(reason: StopReason | None) -> int:
    """``StopReason`` -> ``relaytts.v1.StopReason`` (None -> unspecified)."""
    return pb.STOP_REASON_UNSPECIFIED if reason is None else reason.to_pb()


def segment_params(sampling: dict[str, Any], seed: int, index: int, phone_count: int) -> SamplingParams:
    """Sampling of segment ``index``: the job's values over the defaults, seed ``seed + index``, and the
    per-segment cap (``SamplingParams.for_segment``, the same rule ``relaytts synth`` applies)."""
    try:
        params = SamplingParams(**sampling)
    except TypeError:
        known = ", ".join(SamplingParams.__dataclass_fields__)
        raise InvalidArgument(f"`sampling` holds unknown fields: given {sorted(sampling)}; known: {known}") from None
    return dataclasses.replace(params, seed=seed).for_segment(index, phone_count).validate()


class _StepClock:
    """The engine's ``cancelled`` callable: checks the cancel key and times the work between calls.

    The engine asks it once after the prefill and then before every further step, so the time from
    the start of a segment to the first call is the prefill and each later interval is one decode step.
    Time the caller spends outside the engine (publishing) is excluded with ``pause``.
    """

    def __init__(self, check: Callable[[], bool], on_step: Callable[[float], None]) -> None:
        self.check = check
        self.on_step = on_step
        self.prefill: float | None = None
        self.last = time.perf_counter()

    def __call__(self) -> bool:
        now = time.perf_counter()
        if self.prefill is None:
            self.prefill = now - self.last
        else:
            self.on_step(now - self.last)
        self.last = now
        return self.check()

    def pause(self, seconds: float) -> None:
        self.last += seconds


class JobRun:
    """One delivery of one job (``run()``); ``runtime`` is the worker process's models and client."""

    def __init__(self, job: SynthesisJob, runtime: Runtime, settings: Settings,
                 metrics: WorkerMetrics | None = None) -> None:
        self.job = job
        self.runtime = runtime
        self.settings = settings
        self.metrics = metrics or worker_metrics()
        self.publisher = ChunkPublisher(runtime.redis, settings.redis, job.job_id)
        self.first_of_epoch = True
        self.queue_wait = 0.0
        self.voice: Voice = runtime.voice
        """The job's voice: the bundle's default, or the tenant's registered voice (resolved in ``_produce``)."""

    def run(self) -> None:
        """Produce the job from its resume point to its final chunk (protocol §2.1-2.6)."""
        job, pub = self.job, self.publisher
        resume = pub.begin()
        if resume.final is not None:  # ended before (a redelivery after the final chunk): nothing to add
            log.info("job %s already ended (%s); delivery %d does nothing", job.job_id,
                     pb.JobStatus.Name(resume.final.status), pub.epoch)
            return
        if pub.epoch == 1 and job.enqueued_at > 0:
            self.queue_wait = max(0.0, time.time() - job.enqueued_at)
            self.metrics.queue_wait.observe(self.queue_wait)
        elif pub.epoch > 1:
            self.metrics.count_error("redelivered")
            log.warning("job %s: delivery %d resumes at seq %d, segment %d", job.job_id, pub.epoch,
                        resume.next_seq, resume.first_segment)
        delivered = deliveries(self.runtime.redis, job.job_id, pub.epoch)
        with leases(self.runtime.redis, self.settings.worker.lease_seconds).hold(job.job_id, pub.epoch):
            self._run(resume, delivered)

    def _run(self, resume: ResumePoint, delivered: int) -> None:
        job, pub = self.job, self.publisher
        try:
            if delivered > MAX_DELIVERIES:
                self.metrics.count_error("worker_lost")
                self._finish(JobStatus.FAILED, resume.last_stop_reason,
                             f"the worker was lost {delivered - 1} times running this job; not trying again")
            elif pub.cancelled():
                self._finish(JobStatus.CANCELLED, pb.STOP_REASON_CANCELLED)
            else:
                pub.update(status=JobStatus.RUNNING.value, started_at=time.time())
                reason = self._produce(resume)
                status = JobStatus.CANCELLED if reason == pb.STOP_REASON_CANCELLED else JobStatus.DONE
                self._finish(status, reason)
        except Superseded as exc:
            log.warning("%s; leaving the job to the newer delivery", exc)
        except DecodeLost:
            raise  # the decode process died: the task requeues the message (see requeue_lost)
        except (redis.ConnectionError, redis.TimeoutError):
            raise  # nothing can be written, not even the failure: the task retries (see register)
        except RelayError as exc:
            log.warning("job %s failed: %s", job.job_id, exc)
            self._fail(exc, str(exc))
        except Exception as exc:
            log.exception("job %s failed unexpectedly", job.job_id)
            self._fail(exc, f"internal error: {type(exc).__name__}: {exc}")

    def _fail(self, exc: Exception, message: str) -> None:
        self.metrics.count_error(exc)
        try:
            self._finish(JobStatus.FAILED, pb.STOP_REASON_UNSPECIFIED, message)
        except Superseded as superseded:
            log.warning("%s; leaving the job to the newer delivery", superseded)

    def _finish(self, status: JobStatus, stop_reason: int, error: str = "") -> None:
        final = pb.LatentChunk(final=True, status=status.to_pb(), stop_reason=stop_reason, error=error)
        fields: dict[str, str | float] = {"status": status.value, "finished_at": time.time()}
        if error:
            fields["error"] = error
        self.publisher.publish(final, **fields)
        self.metrics.jobs.labels(status=status.value).inc()
        log.info("job %s %s (delivery %d, %d chunks)%s", self.job.job_id, status.value, self.publisher.epoch,
                 self.publisher.next_seq - 1, f": {error}" if error else "")

    def _produce(self, resume: ResumePoint) -> int:
        """Frontend, then every segment from the resume point; the proto stop reason of the last one."""
        job, frontend, runtime = self.job, self.runtime.frontend, self.runtime
        self.voice = resolve_voice(runtime.redis, runtime.voice, runtime.bundle.manifest, job.tenant, job.voice)
        started = time.perf_counter()
        segments = frontend.phonemize(job.text, job.language)
        phonemize_seconds = time.perf_counter() - started
        if not segments:
            raise InvalidArgument(f"`text` has nothing to speak: {job.text[:60]!r}")
        self.publisher.update(segments=len(segments))
        reason = resume.last_stop_reason
        for index in range(resume.first_segment, len(segments)):
            if self.publisher.cancelled():
                return pb.STOP_REASON_CANCELLED
            reason = self._segment(index, segments, phonemize_seconds)
            phonemize_seconds = 0.0
            if reason == pb.STOP_REASON_CANCELLED:
                break
        return reason

    def _segment(self, index: int, segments: list[PhonemizedSegment], phonemize_seconds: float) -> int:
        """Decode and publish one segment; its proto stop reason."""
        job, runtime, metrics = self.job, self.runtime, self.metrics
        segment = segments[index]
        started = time.perf_counter()
        bert = runtime.frontend.bert_features(segment)
        frontend_seconds = phonemize_seconds + time.perf_counter() - started
        metrics.observe_stage("frontend", frontend_seconds)
        params = segment_params(job.sampling, job.seed, index, len(segment.ids))
        clock = _StepClock(self.publisher.cancelled, lambda s: metrics.observe_stage("decode_step", s))
        voice = self.voice
        phones = np.asarray(segment.ids, np.int64)
        if len(voice.prompt_phones):  # upstream: T2S reads [prompt text ; target text], then the prompt tokens
            phones = np.concatenate([voice.prompt_phones, phones])
            bert = np.concatenate([voice.prompt_bert, bert], axis=1)
        chunks: Iterator[TokenChunk] = runtime.engine.stream(phones, bert, voice.prompt_tokens, params,
                                                             runtime.policy, clock, self.publisher.cancel_keys)
        first = True
        while True:
            started = time.perf_counter()
            piece = next(chunks, None)
            if piece is None:
                break
            decode_seconds = time.perf_counter() - started
            chunk = pb.LatentChunk(segment_index=index, tokens=piece.tokens.tolist())
            if first:
                prefill = clock.prefill or 0.0
                decode_seconds -= prefill
                metrics.observe_stage("prefill", prefill)
                chunk.phones.extend(np.asarray(segment.ids).tolist())
                chunk.noise_seed = job.seed + index
                chunk.noise_scale = job.noise_scale
                chunk.timings.frontend_us = round(frontend_seconds * US)
                chunk.timings.prefill_us = round(prefill * US)
            chunk.timings.decode_us = round(max(0.0, decode_seconds) * US)
            if self.first_of_epoch:
                self._describe_job(chunk, len(segments))
            if piece.final:
                chunk.segment_final = True
                chunk.stop_reason = stop_reason_to_pb(piece.stop_reason)
            started = time.perf_counter()
            self.publisher.publish(chunk)
            clock.pause(time.perf_counter() - started)
            metrics.tokens.inc(len(piece.tokens))
            manifest = runtime.bundle.manifest
            metrics.audio_seconds.inc(len(piece.tokens) * manifest.samples_per_token / manifest.sample_rate)
            first = False
            if piece.final:
                return chunk.stop_reason
        raise RuntimeError("the T2S engine ended a segment without a final chunk")

    def _describe_job(self, chunk: pb.LatentChunk, segment_count: int) -> None:
        """The fields of an epoch's first chunk: voice hash, ge (unless cached), segment count, queue wait."""
        voice = self.voice
        chunk.voice_hash = voice.voice_hash
        if voice.voice_hash not in self.job.cached_voice_hashes:
            chunk.ge = np.ascontiguousarray(voice.ge, "<f4").tobytes()
        chunk.segment_count = segment_count
        chunk.timings.queue_wait_us = round(self.queue_wait * US)
        self.first_of_epoch = False


def redis_retry(task: Task, exc: Exception, what: str) -> Exception:
    """The retry to raise when a delivery could not reach Redis: counted, logged, exponential backoff."""
    worker_metrics().count_error("redis_unavailable")
    countdown = min(REDIS_RETRY_MAX_SECONDS, 2 ** task.request.retries)
    log.warning("%s: Redis failed (%s); retry %d in %d s", what, exc, task.request.retries + 1, countdown)
    return task.retry(exc=exc, countdown=countdown)


def requeue_lost(exc: DecodeLost, what: str) -> Exception:
    """What to raise when the decode process died under a delivery: a reject that puts the message back now."""
    from celery.exceptions import Reject

    log.warning("%s: %s; its message goes back to the queue", what, exc)
    return Reject(str(exc), requeue=True)


def register(app: WorkerApp) -> Task:
    """Register ``relaytts.synthesize`` on ``app``."""

    @app.task(name=SYNTHESIZE_TASK, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True,
              max_retries=REDIS_RETRIES)
    def synthesize(task: Task, job_json: str) -> None:
        """Run one job (a ``SynthesisJob`` as JSON) and publish its chunks to the job's stream."""
        job = SynthesisJob.from_json(job_json)
        try:
            JobRun(job, app.runtime, app.settings).run()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise redis_retry(task, exc, f"job {job.job_id}") from exc
        except DecodeLost as exc:
            raise requeue_lost(exc, f"job {job.job_id}") from exc

    return synthesize
