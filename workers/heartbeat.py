"""The worker's heartbeat: a one-line summary under ``worker_heartbeat_key(host)`` with a TTL.

The Celery parent refreshes it from a daemon thread once the worker is ready and deletes it on a clean
shutdown; ``check`` (``relaytts worker --check``) reads it for container probes, like arq's
``record_health``/``check_health``. A worker that hangs or dies stops refreshing, and the key expires.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Final

from relaytts.keys import worker_heartbeat_key
from relaytts.redact import mask_url
from relaytts.settings import Settings, WorkerSettings

__all__ = ["HEARTBEAT_INTERVAL_SECONDS", "HEARTBEAT_TTL_SECONDS", "Heartbeat", "check", "heartbeat_name", "host_name",
           "read"]

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_SECONDS: Final = 5.0
"""How often the parent rewrites its heartbeat."""
HEARTBEAT_TTL_SECONDS: Final = 30
"""Lifetime of one heartbeat: several missed refreshes before a worker counts as gone."""


def host_name() -> str:
    """The name a worker's heartbeat is stored under (the host: one worker per host or container)."""
    return socket.gethostname()


def heartbeat_name(settings: Settings) -> str:
    """The host, plus the queues when they are not the default one: a live worker and a ``t2s.batch``
    worker on one host (as ``relaytts up`` runs them) keep a heartbeat each."""
    def normal(value: str) -> str:
        return ",".join(sorted(q.strip() for q in value.split(",") if q.strip()))

    queues = normal(settings.worker.queues)
    return host_name() if queues == normal(WorkerSettings.queues) else f"{host_name()}+{queues}"


class Heartbeat:
    """``start()`` in the Celery parent when the worker is ready, ``stop()`` at shutdown."""

    def __init__(self, settings: Settings, hostname: str | None = None) -> None:
        self.settings = settings
        self.hostname = hostname or heartbeat_name(settings)
        self.key = worker_heartbeat_key(self.hostname)
        self.started = time.time()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def summary(self) -> str:
        """One line: who, what it serves, how long it has been up, jobs finished by status."""
        from workers.metrics import job_counts

        counts = job_counts()
        jobs = " ".join(f"{status}={counts.get(status, 0)}" for status in ("done", "cancelled", "failed"))
        worker = self.settings.worker
        return (f"{self.hostname} pid={os.getpid()} up={time.time() - self.started:.0f}s queues={worker.queues} "
                f"concurrency={worker.concurrency} precision={worker.precision} bundle={worker.bundle} jobs: {jobs} "
                f"at={time.strftime('%Y-%m-%dT%H:%M:%S%z')}")

    def beat(self) -> None:
        """Write the summary now (``SET key line EX ttl``)."""
        import redis

        client = redis.Redis.from_url(self.settings.redis.url)
        try:
            client.set(self.key, self.summary(), ex=HEARTBEAT_TTL_SECONDS)
        finally:
            client.close()

    def start(self) -> None:
        self.beat()  # the first one synchronously: "ready" is visible as soon as this returns
        self._thread = threading.Thread(target=self._run, name="relaytts-heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop refreshing and delete the key (a clean shutdown is not a dead worker)."""
        import redis

        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=HEARTBEAT_INTERVAL_SECONDS)
        try:
            client = redis.Redis.from_url(self.settings.redis.url)
            client.delete(self.key)
            client.close()
        except redis.RedisError as exc:
            log.warning("could not remove heartbeat %s: %s", self.key, exc)

    def _run(self) -> None:
        import redis

        while not self._stop.wait(HEARTBEAT_INTERVAL_SECONDS):
            try:
                self.beat()
            except redis.RedisError as exc:  # Redis away for a while: the key expires, probes say so
                log.warning("heartbeat not written: %s", exc)


def read(settings: Settings, hostname: str | None = None) -> str | None:
    """The worker's current heartbeat line, or None (none, expired, or Redis unreachable: logged)."""
    import redis

    try:
        client = redis.Redis.from_url(settings.redis.url, socket_timeout=5, socket_connect_timeout=5)
        try:
            value = client.get(worker_heartbeat_key(hostname or heartbeat_name(settings)))
        finally:
            client.close()
    except redis.RedisError as exc:
        log.warning("cannot read the heartbeat from %s: %s", mask_url(settings.redis.url), exc)
        return None
    return value.decode() if value is not None else None


def check(settings: Settings, hostname: str | None = None) -> bool:
    """True when this host's worker has a live heartbeat (``relaytts worker --check`` exits 0, else 1)."""
    return read(settings, hostname) is not None
