"""The reaper against a real Redis: a job whose lease lapsed is fenced and requeued once, however many
reapers run; a leased, finished or just-requeued job is left alone; a worker's lease renewals never outlive
a fence."""

from __future__ import annotations

import asyncio

import redis
import redis.asyncio as aioredis

from orchestrator.reaper import Reaper
from relaytts import keys
from relaytts.jobs import SynthesisJob
from workers.ownership import Leases, deliveries

JOB = SynthesisJob(job_id="a" * 32, tenant="local", text="hello", seed=3)


def running_job(url: str, epoch: int = 1) -> redis.Redis:
    r = redis.Redis.from_url(url)
    r.hset(keys.job_key(JOB.job_id), mapping={"status": "running", "epoch": epoch, "payload": JOB.to_json()})
    r.zadd(keys.leased_jobs_key(), {JOB.job_id: 1.0})
    return r


async def reap(url: str, reapers: int = 1, lease_seconds: float = 0.2) -> list[SynthesisJob]:
    """Run ``reapers`` reapers (one client each) for a few scans; what they sent."""
    sent: list[SynthesisJob] = []

    async def enqueue(job: SynthesisJob) -> None:
        sent.append(job)

    clients = [aioredis.Redis.from_url(url) for _ in range(reapers)]
    try:
        group = [Reaper(c, enqueue, lease_seconds) for c in clients]
        for _ in range(4):  # past the grace (lease_seconds / 2) for every reaper
            await asyncio.gather(*(r.scan() for r in group))
            await asyncio.sleep(lease_seconds / 2)
    finally:
        for c in clients:
            await c.aclose()
    return sent


def test_a_lapsed_lease_is_fenced_and_requeued_exactly_once_by_several_reapers(redis_url):
    r = running_job(redis_url)
    sent = asyncio.run(reap(redis_url, reapers=3))
    assert sent == [JOB]
    fields = {k.decode(): v.decode() for k, v in r.hgetall(keys.job_key(JOB.job_id)).items()}
    assert fields["epoch"] == "2" and fields["requeued_epoch"] == "2" and fields["status"] == "queued"
    assert fields["reaped"] == "1"
    assert deliveries(r, JOB.job_id, 3) == 2  # the requeued delivery is the job's second


def test_a_held_lease_a_finished_job_and_a_waiting_requeue_are_left_alone(redis_url):
    r = running_job(redis_url)
    with Leases(r, lease_seconds=5.0).hold(JOB.job_id, 1):
        assert asyncio.run(reap(redis_url)) == []
        assert r.hget(keys.job_key(JOB.job_id), "worker") is not None
    r.hset(keys.job_key(JOB.job_id), mapping={"status": "queued", "requeued_epoch": 1})
    assert asyncio.run(reap(redis_url)) == []
    r.hset(keys.job_key(JOB.job_id), "status", "done")
    assert asyncio.run(reap(redis_url)) == []
    assert r.zcard(keys.leased_jobs_key()) == 0  # ended jobs leave the scan set


def test_a_fenced_delivery_cannot_renew_its_lease(redis_url):
    r = running_job(redis_url)
    leases = Leases(r, lease_seconds=5.0)
    r.hset(keys.job_key(JOB.job_id), "epoch", 2)  # a reaper fenced epoch 1 meanwhile
    with leases.hold(JOB.job_id, 1):
        assert r.get(keys.job_lease_key(JOB.job_id)) is None


def test_a_redelivery_takes_over_the_lease_of_the_killed_epoch_at_once(redis_url):
    r = running_job(redis_url, epoch=2)  # Celery redelivered after a child was killed holding epoch 1
    r.set(keys.job_lease_key(JOB.job_id), 1, px=60_000)
    with Leases(r, lease_seconds=5.0).hold(JOB.job_id, 2):
        assert r.get(keys.job_lease_key(JOB.job_id)) == b"2"
        assert asyncio.run(reap(redis_url)) == []
