"""Prometheus metrics of the cloud workers, in prometheus-client's multiprocess mode.

Celery's prefork children do the work and the parent serves ``/metrics``, so every process writes
its samples to files in one directory and the parent's ``MultiProcessCollector`` adds them up.
prometheus-client picks its storage when it is first imported, from ``PROMETHEUS_MULTIPROC_DIR``:
the launcher calls ``prepare_multiprocess_dir`` before anything imports it, and the children inherit
both the variable and the directory. This module therefore never imports prometheus-client at
import time. Labels are bounded: ``stage`` has three values, ``status`` the finished job statuses,
``reason`` the ``RelayError`` reasons plus ``internal``; never a job id, tenant or text.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from relaytts.errors import RelayError
from relaytts.settings import Settings

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

__all__ = ["MULTIPROC_ENV", "WorkerMetrics", "job_counts", "prepare_multiprocess_dir", "serve", "worker_metrics"]

log = logging.getLogger(__name__)

MULTIPROC_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"

QUEUE_WAIT_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
"""Seconds from enqueue to the worker starting the job (celery-exporter's range)."""
BOOK_SEGMENT_STATUSES: Final = ("done", "failed", "cancelled")
STAGE_BUCKETS: Final = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.04, 0.08, 0.15, 0.3, 0.6, 1.2, 2.5, 5)
"""Seconds, one list for every stage: a decode step takes 0.5-100 ms (40 ms is real time at 25 tokens/s);
frontend and prefill per segment take milliseconds to seconds."""


def prepare_multiprocess_dir(settings: Settings) -> Path:
    """Point prometheus-client at a fresh multiprocess directory; call before it is imported anywhere.

    ``metrics.multiproc_dir`` or a new temporary directory; samples of an earlier run are removed
    (they would otherwise be added to this run's totals).
    """
    wanted = settings.metrics.multiproc_dir
    directory = Path(wanted) if wanted else Path(tempfile.mkdtemp(prefix="relaytts-metrics-"))
    if "prometheus_client" in sys.modules and os.environ.get(MULTIPROC_ENV) != str(directory):
        raise RuntimeError(
            f"prometheus_client was imported before {MULTIPROC_ENV} was set: worker metrics would stay in "
            "one process; call prepare_multiprocess_dir() first thing in the launcher"
        )
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(directory)
    return directory


BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


class WorkerMetrics:
    """The worker's metric families (one instance per process: ``worker_metrics()``)."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        if not os.environ.get(MULTIPROC_ENV):
            log.warning("%s is not set: this process's metrics are not visible on the worker's /metrics "
                        "(start workers with `relaytts worker`)", MULTIPROC_ENV)
        self.queue_wait = Histogram("relaytts_queue_wait_seconds", "Enqueue to the start of a job's first delivery.",
                                    buckets=QUEUE_WAIT_BUCKETS)
        self.stage = Histogram("relaytts_stage_seconds", "Worker time per stage: frontend and prefill per segment, "
                               "decode_step per token.", ["stage"], buckets=STAGE_BUCKETS)
        self.tokens = Counter("relaytts_tokens_total", "Semantic tokens published.")
        self.audio_seconds = Counter("relaytts_audio_seconds_total", "Seconds of speech the published tokens make.")
        self.jobs = Counter("relaytts_jobs_total", "Jobs that ended, by final status.", ["status"])
        self.errors = Counter("relaytts_errors_total", "Failed jobs (RelayError reason or internal), redelivered "
                              "jobs (redelivered, worker_lost) and Redis outages (redis_unavailable).", ["reason"])
        self.book_segments = Counter("relaytts_book_segments_total", "Book segment takes counted in their book, "
                                     "by outcome.", ["status"])
        for status in BOOK_SEGMENT_STATUSES:  # every series exists from the start, so increase() sees the first
            self.book_segments.labels(status=status)
        # Continuous batching (the decode process of a worker with --max-batch > 1). Gauges sum over the
        # live processes: one decode loop per worker, so a sum is that worker's value.
        self.batch_size = Histogram("relaytts_batch_size", "Rows in one batched T2S decode step.",
                                    buckets=BATCH_SIZE_BUCKETS)
        self.batch_step = Histogram("relaytts_batch_step_seconds", "Seconds of one batched T2S decode step "
                                    "(every row advances one token).", buckets=STAGE_BUCKETS)
        self.batch_slots = Gauge("relaytts_batch_slots", "KV slots of the decode loop (its largest batch).",
                                 multiprocess_mode="livesum")
        self.batch_active = Gauge("relaytts_batch_active_slots", "KV slots holding a decoding request.",
                                  multiprocess_mode="livesum")
        self.batch_waiting = Gauge("relaytts_batch_waiting_requests", "Segments handed to the decode loop that "
                                   "wait for a free slot.", multiprocess_mode="livesum")

    def observe_batch_step(self, rows: int, seconds: float) -> None:
        self.batch_size.observe(rows)
        self.batch_step.observe(seconds)

    def observe_stage(self, stage: str, seconds: float) -> None:
        self.stage.labels(stage=stage).observe(seconds)

    def count_error(self, error: BaseException | str) -> None:
        """Count one error under a bounded reason: a ``RelayError``'s reason, else the given word or ``internal``."""
        reason = error if isinstance(error, str) else error.reason if isinstance(error, RelayError) else "internal"
        self.errors.labels(reason=reason).inc()


@functools.cache
def worker_metrics() -> WorkerMetrics:
    """This process's metrics (created on first use: after the fork in a child)."""
    return WorkerMetrics()


def _registry() -> Any:  # noqa: ANN401 - prometheus_client.CollectorRegistry
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return registry


def serve(settings: Settings) -> WSGIServer | None:
    """Serve ``/metrics`` (all processes added up) on ``metrics.worker_port`` from a daemon thread; 0 = off."""
    if not settings.metrics.worker_port:
        return None
    if not os.environ.get(MULTIPROC_ENV):
        raise RuntimeError(f"{MULTIPROC_ENV} is not set; call prepare_multiprocess_dir() first")
    from prometheus_client import start_http_server

    host = settings.metrics.host.strip("[]")  # loopback unless set: /metrics tells job counts to anyone
    server, _thread = start_http_server(settings.metrics.worker_port, addr=host, registry=_registry())
    log.info("metrics on %s:%d/metrics", host, settings.metrics.worker_port)
    return server


def job_counts() -> Mapping[str, int]:
    """Finished jobs by status over every process of this worker (for the heartbeat line)."""
    if not os.environ.get(MULTIPROC_ENV):
        return {}
    counts: dict[str, int] = {}
    for family in _registry().collect():
        if family.name == "relaytts_jobs":
            for sample in family.samples:
                if sample.name == "relaytts_jobs_total":
                    counts[sample.labels["status"]] = int(sample.value)
    return counts
