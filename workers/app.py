"""The Celery app of the cloud workers, and what each worker process loads.

Process model (serving-anchors §3, style §2.14): the Celery parent verifies the bundle and warms the
text frontend's dictionaries (``worker_init``, before the pool forks, so the children share those
pages); each prefork child then loads its ONNX Runtime sessions, the default voice and its own Redis
client in ``worker_process_init``, after the fork. No session, GPU context or Redis connection is
ever created in the parent and inherited by a child.

With continuous batching (``worker.max_batch`` > 1) the pool is Celery's thread pool instead: one
process holds the frontend and the voice, its task threads feed one decode process
(``workers.decode_loop``, started by ``workers.decode_client``) that owns the T2S session and decodes
every segment in flight as a row of one batched step. Nothing forks there, so the runtime is loaded
in ``worker_init``.

Delivery: JSON only (tenant text never goes through pickle), late acks with reject-on-worker-lost
(a child killed mid-job puts the message back and the next delivery continues the job under a new
epoch), one reserved message per process, no result backend (chunks go to Redis streams).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from celery import Celery, signals

from relaytts.broker import stamp_enqueue_time
from relaytts.jobs import (
    BATCH_QUEUE,
    INTERACTIVE_QUEUE,
    PLAN_BOOK_TASK,
    SYNTHESIZE_SEGMENT_TASK,
    SYNTHESIZE_TASK,
    VISIBILITY_TIMEOUT_SECONDS,
)
from relaytts.settings import Settings
from relaytts.voices import REGISTER_VOICE_TASK, VOICES_QUEUE

if TYPE_CHECKING:
    import redis

    from bundle import Bundle
    from workers.decode_client import BatchClient
    from workers.frontend import Frontend
    from workers.heartbeat import Heartbeat
    from workers.t2s import ChunkPolicy, T2SEngine
    from workers.voice import Voice

__all__ = ["CHILD_START_TIMEOUT_SECONDS", "SOFT_SHUTDOWN_SECONDS", "Runtime",
           "WorkerApp", "batching", "make_celery_app"]

log = logging.getLogger(__name__)

CHILD_START_TIMEOUT_SECONDS: Final = 300.0
"""``worker_proc_alive_timeout``: a child loads every graph of a full-size bundle in
``worker_process_init``, far beyond Celery's 4 s default (which would kill it mid-load)."""
SOFT_SHUTDOWN_SECONDS: Final = 30.0
"""On a cold shutdown (second Ctrl-C, SIGQUIT) running jobs get this long before they are terminated;
their late-acked messages are requeued and another worker continues them under a new epoch."""


@dataclass
class Runtime:
    """What one worker process holds: the loaded models and its own Redis client."""

    bundle: Bundle
    frontend: Frontend
    engine: T2SEngine | BatchClient
    voice: Voice
    policy: ChunkPolicy
    redis: redis.Redis

    @classmethod
    def load(cls, settings: Settings) -> Runtime:
        """Open the (already verified) bundle and build sessions, voice and client; call after the fork."""
        import redis as redis_lib

        from bundle import Bundle, Precision, SessionOptions
        from workers.decode_client import priority_of
        from workers.frontend import BertFeaturizer, Frontend
        from workers.frontend.bert_onnx import bert_extractor_from_bundle
        from workers.frontend.zh.g2pw import g2pw_from_bundle
        from workers.t2s import ChunkPolicy, T2SEngine
        from workers.voice import reference_voice

        worker = settings.worker
        options = SessionOptions(device=worker.device, intra_op_threads=worker.threads)
        bundle = Bundle.open(worker.bundle, verify=False, side="cloud")  # the parent hashed every graph once
        frontend = Frontend(bert=BertFeaturizer(bert_extractor_from_bundle(bundle, options=options)),
                            g2pw=g2pw_from_bundle(bundle, options))  # None: pypinyin reads Chinese
        engine: T2SEngine | BatchClient
        if batching(settings):
            from workers.decode_client import BatchClient, decode_config

            engine = BatchClient(decode_config(settings, bundle.manifest), priority_of(worker.queues))
            engine.start()
        else:
            engine = T2SEngine.load(bundle, Precision(worker.precision), options)
        voice = reference_voice(bundle, options=options)
        policy = ChunkPolicy(first_tokens=worker.first_chunk_tokens, tokens=worker.chunk_tokens)
        client = redis_lib.Redis.from_url(settings.redis.url)
        log.info("worker process %d ready: bundle %s, T2S %s on %s, voice %s", os.getpid(),
                 bundle.manifest.bundle_id, worker.precision, engine.provider, voice.voice_hash)
        return cls(bundle, frontend, engine, voice, policy, client)


class WorkerApp(Celery):
    """A Celery app that carries the worker's settings and, in a worker process, its ``Runtime``."""

    def __init__(self, settings: Settings, **kwargs: Any) -> None:  # noqa: ANN401
        super().__init__("relaytts", **kwargs)
        self.settings = settings
        self.bundle_verified = False
        """Set by a launcher that has already hashed the bundle's graphs (else ``worker_init`` does it)."""
        self._runtime: Runtime | None = None
        self._runtime_lock = threading.Lock()  # batching: task threads may ask before the loader is done
        self._heartbeat: Heartbeat | None = None

    @property
    def runtime(self) -> Runtime:
        """This process's runtime (loaded in ``worker_process_init``; lazily under pools that skip it)."""
        if self._runtime is None:
            with self._runtime_lock:
                if self._runtime is None:
                    if not batching(self.settings):
                        log.warning("models were not loaded at process start; loading them now (pool without "
                                    "worker_process_init?)")
                    self._runtime = Runtime.load(self.settings)
        return self._runtime

    def on_worker_init(self, **_: Any) -> None:  # noqa: ANN401
        """Parent, before the pool forks: verify the bundle, load the frontend's dictionaries for every child.

        With batching there is no fork: the runtime (and its decode process) loads in a thread started
        once the worker is ready (``on_worker_ready``: it would slow the consumer's start by holding the
        GIL); a task that arrives sooner waits for it."""
        if not self.bundle_verified:
            from bundle import Bundle

            Bundle.open(self.settings.worker.bundle, side="cloud")  # hashes once; children skip it
            self.bundle_verified = True
        started = time.perf_counter()
        warm_up_frontend()
        log.info("frontend dictionaries loaded in %.1f s (shared with the worker processes)",
                 time.perf_counter() - started)
        if batching(self.settings):
            from workers.metrics import worker_metrics

            worker_metrics()

    def on_process_init(self, **_: Any) -> None:  # noqa: ANN401
        """Child, after the fork: ORT sessions, the default voice, a Redis client of its own."""
        from workers.metrics import worker_metrics

        worker_metrics()  # its series exist (at 0) before the first job, so rate() and increase() see it
        self._runtime = Runtime.load(self.settings)

    def on_worker_ready(self, **_: Any) -> None:  # noqa: ANN401
        from workers.heartbeat import Heartbeat

        self._heartbeat = Heartbeat(self.settings)
        self._heartbeat.start()
        if batching(self.settings):
            threading.Thread(target=lambda: self.runtime, name="runtime-loader", daemon=True).start()

    def on_worker_shutdown(self, **_: Any) -> None:  # noqa: ANN401
        if self._heartbeat is not None:
            self._heartbeat.stop()
        if self._runtime is not None and hasattr(self._runtime.engine, "close"):
            self._runtime.engine.close()  # the decode process (batching)


def batching(settings: Settings) -> bool:
    """Whether this worker decodes in batches (a decode process fed by Celery threads)."""
    return settings.worker.max_batch > 1


def _parent_has_no_bert(text: str) -> Any:  # noqa: ANN401
    raise RuntimeError("BERT features are computed in the worker processes, not in the Celery parent")


def warm_up_frontend() -> None:
    """Load jieba, pypinyin, the CMU dictionary, the OOV model and OpenJTalk's dictionary now."""
    from workers.frontend import BertFeaturizer, Frontend

    # A stand-in extractor: the parent never computes features, and BertFeaturizer() would log a
    # misleading "no BERT graph" warning for bundles that have one (each child builds the real one).
    Frontend(bert=BertFeaturizer(_parent_has_no_bert)).warm_up()


def make_celery_app(settings: Settings) -> WorkerApp:
    """The workers' Celery app on ``settings.redis.url``, with the task registered and the process hooks."""
    app = WorkerApp(settings, broker=settings.redis.url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        result_backend=None,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_routes={SYNTHESIZE_TASK: {"queue": INTERACTIVE_QUEUE}, REGISTER_VOICE_TASK: {"queue": VOICES_QUEUE},
                     PLAN_BOOK_TASK: {"queue": BATCH_QUEUE}, SYNTHESIZE_SEGMENT_TASK: {"queue": BATCH_QUEUE}},
        task_default_queue=INTERACTIVE_QUEUE,
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_SECONDS},
        broker_connection_retry_on_startup=True,
        # A worker that lost the broker cancels its late-ack tasks instead of running them on while
        # the broker hands the same messages to another worker.
        worker_cancel_long_running_tasks_on_connection_loss=True,
        worker_proc_alive_timeout=CHILD_START_TIMEOUT_SECONDS,
        worker_soft_shutdown_timeout=SOFT_SHUTDOWN_SECONDS,
        # Task events feed celery-exporter / Flower (task_send_sent_event is the sender's, the gateway's).
        worker_send_task_events=True,
    )
    from workers.book_tasks import register as register_book_tasks
    from workers.tasks import register
    from workers.voice_tasks import register as register_voice_tasks

    register(app)
    register_voice_tasks(app)
    register_book_tasks(app)  # relaytts.plan_book, relaytts.synthesize_segment (queue t2s.batch)
    stamp_enqueue_time()  # segment tasks the planner sends carry their send time, as the gateway's do
    uid = f"relaytts-{id(app)}"
    signals.worker_init.connect(app.on_worker_init, weak=False, dispatch_uid=f"{uid}-init")
    signals.worker_process_init.connect(app.on_process_init, weak=False, dispatch_uid=f"{uid}-process")
    signals.worker_ready.connect(app.on_worker_ready, weak=False, dispatch_uid=f"{uid}-ready")
    signals.worker_shutdown.connect(app.on_worker_shutdown, weak=False, dispatch_uid=f"{uid}-shutdown")
    return app
