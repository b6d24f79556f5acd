"""The reaper: requeue a running job whose worker was lost, under a new epoch, within seconds (issue 15).

Workers lease the jobs they run (``workers.ownership``: ``job_lease_key`` = the owning epoch, renewed a few
times per ``worker.lease_seconds``). Every gateway runs one reaper; it scans ``leased_jobs_key()`` and,
for an unfinished job whose lease no longer names its current epoch, waits until that has been so for
``lease_seconds / 2`` more (so a Redis restart, which drops leases whose TTL passed meanwhile, gives the
surviving workers time to renew), then runs ``REAP_SCRIPT``. The script re-checks everything atomically and
bumps the epoch: the lost delivery is fenced (its next publish is refused), and only the one reaper whose
script succeeded sends the job again. The new delivery claims the next epoch and continues from the
resume point; the client's stream simply goes on. Several gateways (several reapers) are safe: the
script is the only writer and it succeeds once per lost epoch.

Left to Celery's visibility timeout (the last resort): a job whose message was reserved by a worker that
died before it leased the job (still ``queued``), and a job whose reaper died between the script and the
send.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Final

from redis.asyncio import Redis
from redis.exceptions import RedisError

from relaytts.jobs import JobStatus, SynthesisJob
from relaytts.keys import job_key, job_lease_key, leased_jobs_key

__all__ = ["REAP_SCRIPT", "Reaper"]

log = logging.getLogger(__name__)

SCAN_PAGE: Final = 500
"""Leased jobs examined per scan (oldest lease first)."""
FINISHED: Final = tuple(s.value for s in JobStatus if s.finished)

# KEYS[1] job hash, KEYS[2] lease key, KEYS[3] leased-jobs sorted set
# ARGV[1] the epoch observed unowned, ARGV[2] job id, ARGV[3] now (unix s)
# Returns the fencing epoch, or false when anything changed (finished, leased again, newer epoch, reaped).
REAP_SCRIPT: Final = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status or status == 'done' or status == 'cancelled' or status == 'failed' then
  redis.call('ZREM', KEYS[3], ARGV[2])
  return false
end
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if epoch ~= ARGV[1] or redis.call('HGET', KEYS[1], 'requeued_epoch') == epoch then return false end
if redis.call('GET', KEYS[2]) == epoch then return false end
local fence = redis.call('HINCRBY', KEYS[1], 'epoch', 1)
redis.call('HINCRBY', KEYS[1], 'reaped', 1)
redis.call('HSET', KEYS[1], 'status', 'queued', 'requeued_epoch', fence, 'requeued_at', ARGV[3])
return fence
"""


class Reaper:
    """``await run()`` until cancelled; ``scan()`` once (tests)."""

    def __init__(
        self,
        redis: Redis,
        enqueue: Callable[[SynthesisJob], Awaitable[None]],
        lease_seconds: float,
        on_reap: Callable[[], None] | None = None,
    ) -> None:
        self.redis = redis
        self.enqueue = enqueue
        self.lease_seconds = lease_seconds
        self.grace = lease_seconds / 2
        self.on_reap = on_reap
        self._unowned_since: dict[tuple[str, bytes], float] = {}
        self._no_payload: set[str] = set()
        self._reap = redis.register_script(REAP_SCRIPT)

    async def run(self) -> None:
        interval = max(0.1, self.lease_seconds / 4)
        while True:
            try:
                await self.scan()
            except (RedisError, OSError) as exc:
                # Redis away: forget what was seen, so a restart (leases lost with their TTL) gets a new grace
                self._unowned_since.clear()
                log.debug("reaper: Redis unavailable (%s)", exc)
            except Exception:
                log.exception("reaper scan failed")
            await asyncio.sleep(interval)

    async def scan(self) -> list[str]:
        """One pass; returns the ids of the jobs this reaper requeued."""
        ids = await self.redis.zrange(leased_jobs_key(), 0, SCAN_PAGE - 1)
        if not ids:
            self._unowned_since.clear()
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for raw in ids:
                job_id = raw.decode()
                pipe.hmget(job_key(job_id), ["status", "epoch", "requeued_epoch"])
                pipe.get(job_lease_key(job_id))
            replies = await pipe.execute()
        now = time.monotonic()
        seen: set[tuple[str, bytes]] = set()
        reaped = []
        for i, raw in enumerate(ids):
            job_id = raw.decode()
            (status, epoch, requeued), lease = replies[2 * i], replies[2 * i + 1]
            if status is None or status.decode() in FINISHED:
                await self.redis.zrem(leased_jobs_key(), job_id)
                continue
            if epoch is None or epoch == requeued or lease == epoch:
                continue  # owned, or requeued and waiting for a worker
            key = (job_id, epoch)
            seen.add(key)
            first = self._unowned_since.setdefault(key, now)
            if now - first >= self.grace and await self._requeue(job_id, epoch):
                reaped.append(job_id)
        self._unowned_since = {k: v for k, v in self._unowned_since.items() if k in seen}
        return reaped

    async def _requeue(self, job_id: str, epoch: bytes) -> bool:
        payload = await self.redis.hget(job_key(job_id), "payload")
        if payload is None:  # a job from a gateway older than reaping: said once
            if job_id not in self._no_payload:
                self._no_payload.add(job_id)
                log.warning(
                    "job %s: its worker was lost but the job hash holds no payload; left to the visibility timeout",
                    job_id,
                )
            return False
        fence = await self._reap(
            keys=[job_key(job_id), job_lease_key(job_id), leased_jobs_key()], args=[epoch, job_id, repr(time.time())]
        )
        if fence is None:
            return False
        log.warning(
            "job %s: the worker running epoch %s was lost (no lease for %.1f s); requeued under epoch %d",
            job_id,
            epoch.decode(),
            self.grace + self.lease_seconds,
            fence,
        )
        if self.on_reap is not None:
            self.on_reap()
        job = SynthesisJob.from_json(payload.decode())
        while True:  # the fence is ours: nobody else will send it, so keep trying while Redis is away
            try:
                await self.enqueue(job)
                return True
            except Exception as exc:
                log.warning("job %s: requeue failed (%s); retrying", job_id, exc)
                await asyncio.sleep(1.0)
