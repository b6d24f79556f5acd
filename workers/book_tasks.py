"""The batch tasks of book jobs (docs/books.md): ``relaytts.plan_book`` and ``relaytts.synthesize_segment``.

**Plan.** The gateway parsed the file into chapters; ``plan_book`` splits each chapter with the
frontend's own segmenter (``Frontend.segments``, the very split ``Synthesize`` uses), so one book
segment is exactly one T2S run. Doing it here rather than in the gateway keeps a single segmenter
(the gateway never imports ``workers``) and keeps that CPU work off the gateway's event loop. Segment
k of the book (counted over all chapters) gets seed ``job seed + k``. The plan is written in one
transaction, then one task per segment is sent to ``t2s.batch`` (below plans and re-rolls in
priority); a redelivered plan sends only the tasks not yet marked sent.

**Segment.** A take of a segment is a one-segment job in the live format: ``SegmentRun`` is a
``workers.tasks.JobRun`` whose job id is the take id, so epochs, the resume point, the fenced publish,
the cancel checks between decode steps and the final chunk all behave as for live jobs. A child
killed mid-segment is redelivered (late ack, reject on worker lost) and redoes the segment under a
new epoch with the same seed: the same tokens, and nothing else of the book is touched. When the
take has ended, ``FINISH_SEGMENT`` counts it once in the book (atomically, fenced by the take id) and
ends the book with its last segment.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any, Final

import redis

from protos import relaytts_v1_pb2 as pb
from relaytts import book_scripts, keys
from relaytts.books import EVENTS_MAXLEN, SegmentTask, segment_prefix
from relaytts.jobs import (
    BATCH_QUEUE,
    BATCH_SEGMENT_PRIORITY,
    CHUNK_FIELD,
    PLAN_BOOK_TASK,
    SYNTHESIZE_SEGMENT_TASK,
    JobStatus,
    SynthesisJob,
)
from relaytts.settings import Settings
from workers.decode_client import DecodeLost
from workers.metrics import worker_metrics
from workers.publisher import ChunkPublisher, ResumePoint
from workers.tasks import REDIS_RETRIES, JobRun, redis_retry, requeue_lost
from workers.voice_store import resolve_voice

if TYPE_CHECKING:
    from celery import Task

    from workers.app import Runtime, WorkerApp
    from workers.metrics import WorkerMetrics

__all__ = ["BookPlanner", "SegmentRun", "finish_segment", "register"]

log = logging.getLogger(__name__)

SEND_BATCH: Final = 200
"""Segment tasks sent between two writes of their ``enqueued`` marks (and two cancel checks)."""
SEED_LIMIT: Final = 2**63


def _decode(raw: dict[bytes, bytes]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in raw.items()}


def book_settings(settings: Settings) -> Settings:
    """``settings`` with the stream TTL of books: a take's chunks live as long as its book."""
    redis_settings = dataclasses.replace(settings.redis, stream_ttl_seconds=settings.books.ttl_seconds)
    return dataclasses.replace(settings, redis=redis_settings)


def refresh_ttl(client: redis.Redis, book_id: str, ttl: int) -> None:
    """Every key of the book (and of its current takes) lives ``ttl`` from now (at the book's end)."""
    fields = _decode(client.hgetall(keys.book_segments_key(book_id)))
    takes = [v for k, v in fields.items() if k.endswith(".take_id") and v]
    with client.pipeline(transaction=False) as pipe:
        for key in (keys.book_key(book_id), keys.book_segments_key(book_id), keys.book_plan_key(book_id),
                    keys.book_events_key(book_id), keys.book_cancel_key(book_id)):
            pipe.expire(key, ttl)
        for take in takes:
            pipe.expire(keys.job_key(take), ttl)
            pipe.expire(keys.job_stream_key(take), ttl)
        pipe.execute()


class BookPlanner:
    """One delivery of ``relaytts.plan_book``: plan (once), then send the segment tasks not yet sent."""

    def __init__(self, book_id: str, app: WorkerApp) -> None:
        self.book_id = book_id
        self.app = app
        self.runtime = app.runtime
        self.redis = app.runtime.redis
        self.ttl = app.settings.books.ttl_seconds

    def run(self) -> None:
        fields = _decode(self.redis.hgetall(keys.book_key(self.book_id)))
        if not fields:
            log.warning("book %s: gone (expired?) before it was planned", self.book_id)
            return
        if JobStatus(fields.get("status", "queued")).finished:
            log.info("book %s: %s before it was planned; nothing to do", self.book_id, fields.get("status"))
            return
        if fields.get("planned") != "1" and not self._plan(fields):
            return
        self._send_tasks()

    def _fail(self, error: str) -> None:
        script = self.redis.register_script(book_scripts.END_BOOK)
        script(keys=[keys.book_key(self.book_id), keys.book_events_key(self.book_id), keys.open_books_key()],
               args=[error, repr(time.time()), self.ttl, EVENTS_MAXLEN, self.book_id])
        log.warning("book %s failed: %s", self.book_id, error)

    def _plan(self, fields: dict[str, str]) -> bool:
        raw = self.redis.get(keys.book_source_key(self.book_id))
        if raw is None:
            self._fail("the book's text expired before it was planned")
            return False
        started = time.perf_counter()
        chapters = json.loads(raw)
        language, seed = fields.get("language", "auto"), int(fields.get("seed", "0"))
        mapping: dict[str, str | int] = {}
        plan = []
        flat = chars_total = 0
        for c, chapter in enumerate(chapters):
            segments = self.runtime.frontend.segments(chapter["text"], language)
            for s, segment in enumerate(segments):
                p = segment_prefix(c, s)
                mapping |= {
                    f"{p}text": segment.text, f"{p}language": segment.language.value,
                    f"{p}spans": json.dumps([[span.text, span.language.value] for span in segment.spans],
                                            ensure_ascii=False),
                    f"{p}chars": len(segment.text), f"{p}seed": (seed + flat) % SEED_LIMIT, f"{p}take": 0,
                    f"{p}take_id": uuid.uuid4().hex, f"{p}status": JobStatus.QUEUED.value, f"{p}tokens": 0,
                    f"{p}seconds": 0, f"{p}stop_reason": "", f"{p}error": "", f"{p}enqueued": 0,
                }
                flat += 1
                chars_total += len(segment.text)
            plan.append({"title": chapter["title"], "chars": sum(len(s.text) for s in segments),
                         "segments": len(segments)})
        if flat == 0:
            self._fail("the book has nothing to speak: no chapter yields a segment")
            return False
        book_key = keys.book_key(self.book_id)
        planned = {"segments_total": flat, "chars_total": chars_total}

        def commit(pipe: redis.client.Pipeline) -> bool:
            status, done = (v.decode() if v else "" for v in pipe.hmget(book_key, "status", "planned"))
            if done == "1" or not status or JobStatus(status).finished:
                return False
            pipe.multi()
            pipe.hset(keys.book_segments_key(self.book_id), mapping=mapping)
            pipe.expire(keys.book_segments_key(self.book_id), self.ttl)
            pipe.set(keys.book_plan_key(self.book_id), json.dumps(plan, ensure_ascii=False), ex=self.ttl)
            pipe.hset(book_key, mapping={"planned": "1", **planned})
            pipe.expire(book_key, self.ttl)
            pipe.delete(keys.book_source_key(self.book_id))
            event = {"kind": "planned", "at": repr(time.time()), "status": status, "segments_total": flat,
                     "segments_done": 0, "segments_failed": 0, "chars_total": chars_total, "chars_done": 0,
                     "audio_seconds_done": 0}
            pipe.xadd(keys.book_events_key(self.book_id), event, maxlen=EVENTS_MAXLEN, approximate=True)
            pipe.expire(keys.book_events_key(self.book_id), self.ttl)
            return True

        committed = self.redis.transaction(commit, book_key, value_from_callable=True)
        if committed:
            log.info("book %s planned: %d chapters, %d segments, %d characters in %.2f s", self.book_id,
                     len(chapters), flat, chars_total, time.perf_counter() - started)
        return bool(committed)

    def _send_tasks(self) -> None:
        segments_key = keys.book_segments_key(self.book_id)
        fields = _decode(self.redis.hgetall(segments_key))
        pending = sorted(
            (int(c), int(s)) for name, value in fields.items() if name.endswith(".enqueued") and value == "0"
            for c, s, _ in [name.split(".", 2)]
            if fields.get(f"{c}.{s}.status") == JobStatus.QUEUED.value)
        for start in range(0, len(pending), SEND_BATCH):
            if self.redis.exists(keys.book_cancel_key(self.book_id)):
                log.info("book %s cancelled while its tasks were being sent", self.book_id)
                return
            batch = pending[start : start + SEND_BATCH]
            with self.app.producer_or_acquire() as producer:
                for c, s in batch:
                    task = SegmentTask(self.book_id, c, s, fields[f"{c}.{s}.take_id"])
                    self.app.send_task(SYNTHESIZE_SEGMENT_TASK, args=[task.to_json()], queue=BATCH_QUEUE,
                                       priority=BATCH_SEGMENT_PRIORITY, serializer="json", producer=producer)
            self.redis.hset(segments_key, mapping={f"{c}.{s}.enqueued": 1 for c, s in batch})
        log.info("book %s: %d segment tasks sent to %s", self.book_id, len(pending), BATCH_QUEUE)


class SegmentPublisher(ChunkPublisher):
    """The publisher of one take; a take is also cancelled by its book's cancel key."""

    def __init__(self, client: redis.Redis, settings: Any, take_id: str, book_id: str) -> None:  # noqa: ANN401
        super().__init__(client, settings, take_id)
        self.book_cancel_key = keys.book_cancel_key(book_id)

    @property
    def cancel_keys(self) -> tuple[str, ...]:
        return (self.cancel_key, self.book_cancel_key)


class SegmentRun(JobRun):
    """One delivery of one take of one segment: a one-segment ``JobRun`` over the stored segment."""

    def __init__(self, task: SegmentTask, record: dict[str, str], book: dict[str, str], runtime: Runtime,
                 settings: Settings, metrics: WorkerMetrics | None = None) -> None:
        from workers.frontend import Language, Segment, Span

        job = SynthesisJob(job_id=task.take_id, tenant=book.get("tenant", ""), text=record["text"],
                           language=record.get("language", "auto"), voice=book.get("voice", ""),
                           sampling=json.loads(book.get("sampling") or "{}"),
                           noise_scale=float(book.get("noise_scale") or 0.5), seed=int(record["seed"]))
        settings = book_settings(settings)
        super().__init__(job, runtime, settings, metrics)
        self.task = task
        self.publisher = SegmentPublisher(runtime.redis, settings.redis, task.take_id, task.book_id)
        spans = tuple(Span(text, Language(lang)) for text, lang in json.loads(record.get("spans") or "[]"))
        self.segment = Segment(record["text"], Language(record.get("language", "auto")), spans)

    def _produce(self, resume: ResumePoint) -> int:
        task, client = self.task, self.runtime.redis
        started = client.register_script(book_scripts.START_SEGMENT)(
            keys=[keys.book_key(task.book_id), keys.book_segments_key(task.book_id)],
            args=[segment_prefix(task.chapter, task.segment), task.take_id, repr(time.time()),
                  self.settings.books.ttl_seconds])
        if not started:
            return pb.STOP_REASON_CANCELLED  # re-rolled meanwhile: this take ends cancelled, uncounted
        if resume.first_segment > 0:
            return resume.last_stop_reason  # a redelivery after the segment's last chunk: only the end is left
        runtime = self.runtime  # the voice as JobRun._produce resolves it
        self.voice = resolve_voice(runtime.redis, runtime.voice, runtime.bundle.manifest, self.job.tenant,
                                   self.job.voice)
        clock = time.perf_counter()
        phonemized = self.runtime.frontend.phonemize_segment(self.segment)
        if phonemized is None:  # nothing to say (only symbols): an empty take, done
            return pb.STOP_REASON_UNSPECIFIED
        return self._segment(0, [phonemized], time.perf_counter() - clock)


def finish_segment(client: redis.Redis, task: SegmentTask, settings: Settings, samples_per_token: int,
                   sample_rate: int) -> int:
    """Count the take's outcome in its book once its final chunk exists; the ``FINISH_SEGMENT`` result
    (-2 when the take has no final chunk: a newer delivery owns it)."""
    chunks = [pb.LatentChunk.FromString(f[CHUNK_FIELD]) for _, f in client.xrange(keys.job_stream_key(task.take_id))]
    if not chunks or not chunks[-1].final:
        return -2
    final = chunks[-1]
    last = next((c for c in reversed(chunks) if c.segment_final), None)
    tokens = sum(len(c.tokens) for c in chunks if last is not None and c.epoch == last.epoch and not c.final)
    status = {pb.JOB_STATUS_DONE: "done", pb.JOB_STATUS_CANCELLED: "cancelled"}.get(final.status, "failed")
    reason = (last or final).stop_reason
    books = settings.books
    name = f"chapter {task.chapter + 1}, segment {task.segment + 1}"
    result = int(client.register_script(book_scripts.FINISH_SEGMENT)(
        keys=[keys.book_key(task.book_id), keys.book_segments_key(task.book_id), keys.book_events_key(task.book_id),
              keys.open_books_key()],
        args=[segment_prefix(task.chapter, task.segment), task.take_id, status, tokens,
              repr(tokens * samples_per_token / sample_rate),
              pb.StopReason.Name(reason) if reason else "", final.error[:500], repr(time.time()), books.ttl_seconds,
              EVENTS_MAXLEN, task.chapter, task.segment, name, task.book_id]))
    if result >= 1:
        worker_metrics().book_segments.labels(status=status).inc()
    if result == 2:
        refresh_ttl(client, task.book_id, books.ttl_seconds)
        log.info("book %s ended (its last segment: %s)", task.book_id, name)
    return result


def run_segment(task: SegmentTask, app: WorkerApp) -> None:
    """One delivery of ``relaytts.synthesize_segment``."""
    runtime, settings = app.runtime, app.settings
    client = runtime.redis
    prefix = segment_prefix(task.chapter, task.segment)
    names = ("take_id", "text", "language", "spans", "seed")
    values = client.hmget(keys.book_segments_key(task.book_id), [prefix + n for n in names])
    record = {n: v.decode() for n, v in zip(names, values, strict=True) if v is not None}
    if record.get("take_id") != task.take_id:
        log.info("book %s segment %d.%d: take %s is no longer current (re-rolled or expired); skipped",
                 task.book_id, task.chapter, task.segment, task.take_id)
        return
    book = _decode(client.hgetall(keys.book_key(task.book_id)))
    if not book:
        return
    SegmentRun(task, record, book, runtime, settings).run()
    manifest = runtime.bundle.manifest
    finish_segment(client, task, settings, manifest.samples_per_token, manifest.sample_rate)


def register(app: WorkerApp) -> tuple[Task, Task]:
    """Register ``relaytts.plan_book`` and ``relaytts.synthesize_segment`` on ``app``."""

    @app.task(name=PLAN_BOOK_TASK, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True,
              max_retries=REDIS_RETRIES)
    def plan_book(task: Task, book_id: str) -> None:
        """Split a submitted book into segments and send one segment task each (idempotent)."""
        try:
            BookPlanner(book_id, app).run()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise redis_retry(task, exc, f"book {book_id} (plan)") from exc

    @app.task(name=SYNTHESIZE_SEGMENT_TASK, bind=True, acks_late=True, reject_on_worker_lost=True,
              ignore_result=True, max_retries=REDIS_RETRIES)
    def synthesize_segment(task: Task, payload: str) -> None:
        """Run one take of one book segment (a ``SegmentTask`` as JSON) and count it in its book."""
        segment = SegmentTask.from_json(payload)
        try:
            run_segment(segment, app)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise redis_retry(task, exc, f"book {segment.book_id} segment {segment.chapter}.{segment.segment}") from exc
        except DecodeLost as exc:
            raise requeue_lost(exc, f"book {segment.book_id} segment {segment.chapter}.{segment.segment}") from exc

    return plan_book, synthesize_segment
