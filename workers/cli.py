"""``relaytts worker``: run the T2S worker (on the ``t2s.interactive`` queue), or probe it.

With ``--max-batch N`` > 1 (the default) the worker decodes in batches: Celery's thread pool with one
thread per KV slot feeds one decode process; with 1 it is Celery prefork, one decode per process.

Every option is also a ``RELAYTTS_*`` setting (``relaytts.settings.load_settings``: defaults, then the
environment, then these flags). Nothing heavy is imported until the command runs, so registering the
command in ``relaytts.cli`` costs nothing.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from relaytts.errors import InvalidArgument, RelayError
from relaytts.redact import install_log_redaction, mask_url
from relaytts.settings import Settings, describe_settings, load_settings

if TYPE_CHECKING:
    from bundle.manifest import Manifest

__all__ = ["run_worker", "worker_command"]

log = logging.getLogger("workers")

PRECISIONS = ("fp32", "fp16", "int8")


@click.command(name="worker")
@click.option("--bundle", type=click.Path(path_type=Path, file_okay=False),
              help="Bundle directory (cloud graphs) [RELAYTTS_WORKER_BUNDLE].")
@click.option("--redis-url", help="Redis of the broker and the job streams, redis://host:port/db [RELAYTTS_REDIS_URL].")
@click.option("--concurrency", type=click.IntRange(min=1),
              help="Worker processes; each loads the models once [RELAYTTS_WORKER_CONCURRENCY, default 1].")
@click.option("--precision", type=click.Choice(PRECISIONS),
              help="T2S graph variant [RELAYTTS_WORKER_PRECISION, default fp32].")
@click.option("--threads", type=click.IntRange(min=0),
              help="ONNX Runtime threads per graph; 0 = the cores shared out among the processes "
                   "[RELAYTTS_WORKER_THREADS, default 0].")
@click.option("--max-batch", type=click.IntRange(min=1),
              help="Requests decoded together in one T2S step; 1 = one at a time per process "
                   "[RELAYTTS_WORKER_MAX_BATCH, default 16].")
@click.option("--check", is_flag=True, help="Probe: print this host's worker heartbeat; exit 0 if live, else 1.")
def worker_command(bundle: Path | None, redis_url: str | None, concurrency: int | None, precision: str | None,
                   threads: int | None, max_batch: int | None, check: bool) -> None:
    """Run the T2S worker: consume synthesis jobs and publish their token chunks to Redis streams."""
    try:
        settings = load_settings(overrides={
            "worker.bundle": None if bundle is None else str(bundle), "redis.url": redis_url,
            "worker.concurrency": concurrency, "worker.precision": precision, "worker.threads": threads,
            "worker.max_batch": max_batch,
        })
        if check:
            sys.exit(_check(settings))
        sys.exit(run_worker(settings))
    except RelayError as exc:  # expected: one line, exit status 1 (as relaytts.cli.one_line_errors)
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


def _check(settings: Settings) -> int:
    from workers.heartbeat import host_name, read

    _require_redis(settings)
    line = read(settings)
    if line is None:
        click.echo(f"no live worker heartbeat for {host_name()} in {mask_url(settings.redis.url)}", err=True)
        return 1
    click.echo(line)
    return 0


def _require_redis(settings: Settings) -> None:
    if not settings.redis.url:
        raise InvalidArgument("`--redis-url` (RELAYTTS_REDIS_URL) is required: the worker consumes jobs from that "
                              "Redis and writes their streams there; given nothing")


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _validated(settings: Settings) -> Settings:
    worker = settings.worker
    if not worker.bundle:
        raise InvalidArgument("`--bundle` (RELAYTTS_WORKER_BUNDLE) is required: the bundle directory to serve; "
                              "given nothing")
    _require_redis(settings)
    if worker.precision not in PRECISIONS:
        raise InvalidArgument(f"`precision` must be one of {', '.join(PRECISIONS)}; given {worker.precision!r}")
    if worker.concurrency < 1:
        raise InvalidArgument(f"`concurrency` must be at least 1; given {worker.concurrency}")
    if worker.max_batch < 1:
        raise InvalidArgument(f"`max_batch` must be at least 1; given {worker.max_batch}")
    if worker.kv_dtype not in ("fp32", "fp16"):
        raise InvalidArgument(f"`kv_dtype` must be fp32 or fp16; given {worker.kv_dtype!r}")
    if worker.max_batch > 1:
        return settings  # one decode process: ORT's threads are all its own
    if worker.threads == 0 and worker.concurrency > 1:
        # ORT's default is one thread per core in every process: N processes would oversubscribe N times.
        settings = settings.with_overrides({"worker.threads": max(1, _cores() // worker.concurrency)})
    return settings


def run_worker(settings: Settings) -> int:
    """Start the Celery worker in this process (blocks until it stops); its exit code.

    Order matters: the metrics directory is set before prometheus-client is imported, the bundle is
    verified (hashes) once here, and no model or Redis client exists before the pool forks.
    """
    settings = _validated(settings)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s: %(levelname)s/%(processName)s] %(message)s")
    install_log_redaction()
    for name, value in describe_settings(settings):
        log.info("setting %s=%s", name, value)

    from bundle import Bundle, Precision, Role

    bundle = Bundle.open(settings.worker.bundle, side="cloud")  # hashes every graph, once, before any fork
    bundle.manifest.file(Role.T2S, Precision(settings.worker.precision))  # BundleError here, not in every child
    if settings.worker.max_batch > 1 and not bundle.manifest.t2s.get("batched"):
        log.warning("bundle %s was exported before continuous batching (its T2S graph has no past_len): decoding "
                    "one request at a time; re-export it to batch", bundle.root)
        settings = settings.with_overrides({"worker.max_batch": 1})
        settings = _validated(settings)
    log.info("bundle %s (%s) verified", bundle.manifest.bundle_id, bundle.root)

    from workers.metrics import prepare_multiprocess_dir

    metrics_dir = prepare_multiprocess_dir(settings)
    log.info("metrics files in %s", metrics_dir)
    try:
        return _start(settings, bundle.manifest)
    finally:
        if not settings.metrics.multiproc_dir:  # our temporary directory: gone with the worker
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _start(settings: Settings, manifest: Manifest) -> int:
    from workers.app import batching, make_celery_app
    from workers.heartbeat import host_name
    from workers.metrics import serve

    app = make_celery_app(settings)
    app.bundle_verified = True  # run_worker hashed it
    serve(settings)
    queues = [q.strip() for q in settings.worker.queues.split(",") if q.strip()]
    pool, concurrency = "prefork", settings.worker.concurrency
    if batching(settings):
        from workers.decode_client import pool_slots

        # One task thread per KV slot: the worker reserves no more messages than it can decode at once,
        # so a job that finds no slot waits in the broker's queue (visible to queue metrics, free for
        # another worker) rather than in this process.
        pool, concurrency = "threads", pool_slots(settings, manifest)
        log.info("continuous batching: %d slots of %d positions (%s KV), one decode process", concurrency,
                 settings.worker.kv_positions, settings.worker.kv_dtype)
    worker = app.Worker(
        hostname=f"relaytts@{host_name()}", pool_cls=pool, concurrency=concurrency,
        loglevel="INFO", queues=queues,
        # No mingle/gossip: they sync revokes and cluster state we do not use, and slow the start.
        without_mingle=True, without_gossip=True,
    )
    worker.start()
    return worker.exitcode or 0
