"""Job leases: a running job carries the heartbeat of the worker process that owns it (issue 15).

A delivery that has claimed epoch E of a job holds ``job_lease_key(job)`` = E with a TTL of
``worker.lease_seconds``; a daemon thread of the worker process renews every held lease a few times per
TTL, and the job id sits in ``leased_jobs_key()`` so a reaper can find it. When the process stops (SIGKILL,
OOM, node loss, its Celery parent gone) the renewals stop and the lease expires within seconds; the reaper
(``orchestrator.reaper``) then fences the job with a new epoch and requeues it, and the next delivery
continues from the resume point. Celery's visibility timeout stays the last resort.

A process whose Celery parent has died stops renewing: it can never acknowledge its message, and nothing
supervises it any more, so its jobs are handed to live workers; if it still runs, its next publish is
refused by the epoch fence (``Superseded``) and it stops writing.

Kept apart from ``workers.tasks`` on purpose: the task calls ``hold`` around one delivery and nothing else.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

from relaytts.keys import job_key, job_lease_key, leased_jobs_key

if TYPE_CHECKING:
    import redis

__all__ = ["RENEWALS_PER_LEASE", "Leases", "deliveries", "leases"]

log = logging.getLogger(__name__)

RENEWALS_PER_LEASE: Final = 4
"""Renewals per lease lifetime: three can be missed (a busy CPU, a slow Redis) before a reaper may act."""

# KEYS[1] lease key, KEYS[2] job hash; ARGV[1] the holder's epoch, ARGV[2] TTL (ms), ARGV[3] holder (host:pid)
# Renews a lease that is this epoch's; takes it (and names the holder on the job hash) when it is absent or
# an older epoch's (a Celery redelivery after a child was killed) while the job hash names this epoch;
# never resurrects a lease for an epoch that was fenced.
RENEW_SCRIPT: Final = """
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if (not held or tonumber(held) < tonumber(ARGV[1])) and redis.call('HGET', KEYS[2], 'epoch') == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  redis.call('HSET', KEYS[2], 'worker', ARGV[3])
  return 1
end
return 0
"""

# KEYS[1] lease key; ARGV[1] the holder's epoch. Deletes the lease only when it is still this epoch's.
RELEASE_SCRIPT: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Leases:
    """The leases one worker process holds; ``hold(job_id, epoch)`` around a delivery."""

    def __init__(self, client: redis.Redis, lease_seconds: float) -> None:
        self.client = client
        self.ttl_ms = max(1, round(lease_seconds * 1000))
        self.interval = lease_seconds / RENEWALS_PER_LEASE
        self.parent = os.getppid()
        self.holder = f"{socket.gethostname()}:{os.getpid()}"
        """Written to the job hash's ``worker`` field: which process runs the job (operations, drills)."""
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._renew = client.register_script(RENEW_SCRIPT)
        self._release = client.register_script(RELEASE_SCRIPT)

    @contextlib.contextmanager
    def hold(self, job_id: str, epoch: int) -> Iterator[None]:
        """Own ``job_id`` under ``epoch`` while the block runs (the lease is written before it starts)."""
        self._renew_one(job_id, epoch)
        self.client.zadd(leased_jobs_key(), {job_id: time.time()})
        with self._lock:
            self._held[job_id] = epoch
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="relaytts-leases", daemon=True)
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                if self._held.get(job_id) == epoch:
                    del self._held[job_id]
            with contextlib.suppress(Exception):  # Redis away: the lease expires on its own
                self._release(keys=[job_lease_key(job_id)], args=[epoch])

    def parent_alive(self) -> bool:
        """False once this process was orphaned (its Celery parent died and it was re-parented)."""
        return os.getppid() == self.parent

    def _renew_one(self, job_id: str, epoch: int) -> None:
        self._renew(keys=[job_lease_key(job_id), job_key(job_id)], args=[epoch, self.ttl_ms, self.holder])

    def _run(self) -> None:
        while True:
            time.sleep(self.interval)
            if not self.parent_alive():
                log.warning(
                    "the Celery parent of process %d is gone: no more lease renewals; live workers take its jobs over",
                    os.getpid(),
                )
                return
            with self._lock:
                held = list(self._held.items())
            for job_id, epoch in held:
                try:
                    self._renew_one(job_id, epoch)
                except Exception as exc:  # Redis away: retried at the next interval
                    log.warning("lease of job %s not renewed: %s", job_id, exc)


_leases: Leases | None = None
_leases_pid = 0


def leases(client: redis.Redis, lease_seconds: float) -> Leases:
    """This process's ``Leases`` (one per process; made after the fork, on first use)."""
    global _leases, _leases_pid
    if _leases is None or _leases_pid != os.getpid():
        _leases, _leases_pid = Leases(client, lease_seconds), os.getpid()
    return _leases


def deliveries(client: redis.Redis, job_id: str, epoch: int) -> int:
    """How many deliveries of the job have started, this one included: its epoch less the epochs a
    reaper used to fence a lost worker (``reaped`` on the job hash)."""
    return epoch - int(client.hget(job_key(job_id), "reaped") or 0)
