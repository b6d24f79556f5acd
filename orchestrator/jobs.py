"""The gateway's view of jobs in Redis: the job hash, tenant checks and the cancel key.

Key names come from ``relaytts.keys``; statuses from ``relaytts.jobs.JobStatus`` (docs/protocol.md §1, §3).
A job id of another tenant and an expired or unknown one give the *same* ``NotFound`` message, so a
caller learns nothing about jobs that are not theirs.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from typing import Final

from redis.asyncio import Redis
from redis.exceptions import RedisError

from relaytts import keys
from relaytts.errors import InvalidArgument, NotFound
from relaytts.jobs import JobStatus, SynthesisJob

__all__ = ["JobStore", "check_job_id"]

_JOB_ID: Final = re.compile(r"[0-9a-f]{32}")

# KEYS[1] the tenant's request key, KEYS[2] the new job's hash
# ARGV[1] the new job id, ARGV[2] TTL (s), ARGV[3..] the job hash's field/value pairs
# Returns the job id the key already names (nothing written), or false after creating the job.
CREATE_ONCE_SCRIPT: Final = """
local existing = redis.call('GET', KEYS[1])
if existing then return existing end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('HSET', KEYS[2], unpack(ARGV, 3))
redis.call('EXPIRE', KEYS[2], ARGV[2])
return false
"""


def check_job_id(job_id: str) -> str:
    """A job id is 32 lowercase hex characters (uuid4); anything else never reaches a Redis key."""
    if not _JOB_ID.fullmatch(job_id):
        raise InvalidArgument(f"`job_id` must be 32 lowercase hex characters; given {job_id[:64]!r}")
    return job_id


def _not_found(job_id: str) -> NotFound:
    return NotFound(f"job {job_id} not found (unknown, expired, or not yours)")


class JobStore:
    """Job hashes and cancel keys on ``redis.asyncio``; every key lives ``ttl_seconds``."""

    def __init__(self, redis: Redis, ttl_seconds: int) -> None:
        self.redis = redis
        self.ttl_seconds = ttl_seconds
        self._create_once = redis.register_script(CREATE_ONCE_SCRIPT)

    async def create(self, job: SynthesisJob, request_id: str = "") -> str | None:
        """``HSET`` the job hash (status queued, epoch 0) and give it the stream TTL, atomically.

        With a ``request_id`` (idempotency key), the job is created only if the tenant's key is new; else
        nothing is written and the id of the job the key started is returned (None: created).
        """
        key = keys.job_key(job.job_id)
        now = repr(job.enqueued_at or time.time())
        fields = self._fields(job, now)
        if request_id:
            pairs = [item for pair in fields.items() for item in pair]
            existing = await self._create_once(keys=[keys.request_key(job.tenant, request_id), key],
                                               args=[job.job_id, self.ttl_seconds, *pairs])
            return existing.decode() if existing is not None else None
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=fields)
            pipe.expire(key, self.ttl_seconds)
            await pipe.execute()
        return None

    async def forget_request(self, tenant: str, request_id: str) -> None:
        """Drop an idempotency key whose job could not be enqueued, so a retry starts a job (best effort)."""
        if request_id:
            with contextlib.suppress(RedisError):
                await self.redis.delete(keys.request_key(tenant, request_id))

    @staticmethod
    def _fields(job: SynthesisJob, now: str) -> dict[str, str | int]:
        return {
            "tenant": job.tenant,
            "status": JobStatus.QUEUED.value,
            "created_at": now,
            "enqueued_at": now,
            "voice": job.voice,
            "language": job.language,
            "epoch": 0,
            # what a reaper sends again when the worker running the job is lost (orchestrator.reaper)
            "payload": job.to_json(),
        }

    async def owned(self, job_id: str, tenant: str) -> dict[str, str]:
        """The job hash of ``tenant``'s job; ``NotFound`` (one message) for anything else."""
        check_job_id(job_id)
        raw = await self.redis.hgetall(keys.job_key(job_id))
        fields = {k.decode(): v.decode() for k, v in raw.items()}
        if fields.get("tenant") != tenant:
            raise _not_found(job_id)
        return fields

    async def owned_status(self, job_id: str, tenant: str) -> JobStatus:
        status = (await self.owned(job_id, tenant)).get("status", JobStatus.QUEUED.value)
        try:
            return JobStatus(status)
        except ValueError:
            return JobStatus.RUNNING  # an unknown status is treated as unfinished

    async def check_resumable(self, job_id: str, tenant: str) -> None:
        """A finished job whose chunk stream has expired cannot be resumed: same ``NotFound``."""
        status = await self.owned_status(job_id, tenant)
        if status.finished and not await self.redis.exists(keys.job_stream_key(job_id)):
            raise _not_found(job_id)

    async def attach(self, job_id: str) -> None:
        """A stream starts reading the job (counted in the hash, so any gateway sees it)."""
        await self.redis.hincrby(keys.job_key(job_id), "readers", 1)

    async def detach(self, job_id: str) -> int:
        """A stream stopped reading; returns how many readers remain."""
        return int(await self.redis.hincrby(keys.job_key(job_id), "readers", -1))

    async def cancel_if_abandoned(self, job_id: str, grace_seconds: float) -> bool:
        """After a stream was cut: wait ``grace_seconds`` for a ``Resume``; cancel if none came.

        Returns True when the cancel key was set.
        """
        if await self.detach(job_id) > 0:
            return False
        if grace_seconds > 0:
            await asyncio.sleep(grace_seconds)
            raw = await self.redis.hmget(keys.job_key(job_id), ["readers", "status"])
            readers = int(raw[0] or 0)
            status = (raw[1] or b"").decode()
            if readers > 0 or (status and JobStatus(status).finished):
                return False
        await self.cancel(job_id)
        return True

    async def cancel(self, job_id: str) -> None:
        """``SET job_cancel_key 1 EX ttl``: the worker stops within one decode step."""
        await self.redis.set(keys.job_cancel_key(job_id), 1, ex=self.ttl_seconds)

    async def mark_failed(self, job_id: str, error: str) -> None:
        """For a job the gateway could not enqueue (nobody else will ever finish it). Best effort: the
        broker is this Redis, so it is often unreachable too, and the hash then expires on its own."""
        with contextlib.suppress(RedisError):
            await self.redis.hset(keys.job_key(job_id), mapping={
                "status": JobStatus.FAILED.value, "finished_at": repr(time.time()), "error": error[:500]})
