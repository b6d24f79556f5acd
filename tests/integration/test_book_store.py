"""The book job state machine on a real Redis: the planner, the Lua scripts the workers and the gateway
share (start, finish, re-roll, cancel) and the counters they keep, without models or processes."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import pytest
import redis
import redis.asyncio as aioredis

from orchestrator.backlog import BookProgress, read_book_progress
from orchestrator.book_store import BookStore
from orchestrator.bookfile import parse_book
from protos import relaytts_v1_pb2 as pb
from relaytts import book_scripts, keys
from relaytts.books import SegmentTask, segment_prefix
from relaytts.errors import JobCancelled, NotFound
from relaytts.jobs import BATCH_QUEUE, JobStatus
from relaytts.settings import load_settings
from workers.book_tasks import BookPlanner, book_settings, finish_segment
from workers.publisher import ChunkPublisher

BOOK = b"Chapter 1\n\nHello there, friend. Goodbye.\n\nChapter 2\n\nOne more line."
BOOK_ID = "b" * 32


@pytest.fixture
def env(redis_url):
    from workers.app import make_celery_app
    from workers.frontend import Frontend

    settings = load_settings(environ={}, overrides={"redis.url": redis_url})
    client = redis.Redis.from_url(redis_url)
    celery = make_celery_app(settings)
    app = SimpleNamespace(runtime=SimpleNamespace(frontend=Frontend(), redis=client), settings=settings,
                          send_task=celery.send_task, producer_or_acquire=celery.producer_or_acquire)
    yield SimpleNamespace(settings=settings, client=client, app=app)
    celery.close()
    client.close()


def run(env, coroutine):
    """``await coroutine(store)`` with a gateway-side ``BookStore`` of its own."""

    async def main():
        store = BookStore(aioredis.Redis.from_url(env.settings.redis.url), env.settings.books)
        try:
            return await coroutine(store)
        finally:
            await store.redis.aclose()

    return asyncio.run(main())


def produce(env, task: SegmentTask, tokens: int, status: int = pb.JOB_STATUS_DONE) -> int:
    """Write a take as a worker would (chunks, then the final chunk) and count it in the book."""
    settings = book_settings(env.settings)
    publisher = ChunkPublisher(env.client, settings.redis, task.take_id)
    publisher.begin()
    env.client.register_script(book_scripts.START_SEGMENT)(
        keys=[keys.book_key(task.book_id), keys.book_segments_key(task.book_id)],
        args=[segment_prefix(task.chapter, task.segment), task.take_id, "100.0", 3600])
    publisher.publish(pb.LatentChunk(tokens=list(range(tokens)), phones=[1, 2], segment_final=True,
                                     stop_reason=pb.STOP_REASON_EOS))
    publisher.publish(pb.LatentChunk(final=True, status=status))
    return finish_segment(env.client, task, env.settings, 1280, 32000)


def segments(env) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in env.client.hgetall(keys.book_segments_key(BOOK_ID)).items()}


def book(env) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in env.client.hgetall(keys.book_key(BOOK_ID)).items()}


def progress(env) -> BookProgress:
    """What the gateway's metrics report for the open books (one scrape)."""
    return read_book_progress(env.client)


def test_plan_count_reroll_and_cancel(env):
    parsed = parse_book(BOOK, "book.txt")
    job = {"voice": "", "language": "en", "sampling": {}, "seed": 100, "noise_scale": 0.5}
    run(env, lambda store: store.create(BOOK_ID, "alice", parsed, "book.txt", job))
    assert progress(env) == BookProgress(queued=1, running=0, segments_total=0, segments_done=0, segments_failed=0,
                                         audio_seconds_done=0.0)
    BookPlanner(BOOK_ID, env.app).run()
    BookPlanner(BOOK_ID, env.app).run()  # a redelivered plan neither replans nor resends
    fields = segments(env)
    order = [(0, 0), (0, 1), (0, 2), (0, 3), (1, 0), (1, 1)]
    texts = [fields[f"{c}.{s}.text"] for c, s in order]
    assert texts == ["Chapter 1.", "Hello there,", "friend.", "Goodbye.", "Chapter 2.", "One more line."]
    assert [int(fields[f"{c}.{s}.seed"]) for c, s in order] == list(range(100, 106))  # job seed + k
    assert json.loads(fields["0.1.spans"]) == [["Hello there,", "en"]]
    assert env.client.llen(f"{BATCH_QUEUE}\x06\x166") == 6  # sent once each, below plans and re-rolls
    assert book(env)["planned"] == "1" and not env.client.exists(keys.book_source_key(BOOK_ID))

    tasks = {(c, s): SegmentTask(BOOK_ID, c, s, fields[f"{c}.{s}.take_id"]) for c, s in order}
    assert produce(env, tasks[0, 0], 10) == 1
    assert finish_segment(env.client, tasks[0, 0], env.settings, 1280, 32000) == 0  # counted once
    assert book(env)["status"] == "running" and book(env)["segments_done"] == "1"
    assert progress(env) == BookProgress(0, 1, 6, 1, 0, pytest.approx(10 * 0.04))
    assert produce(env, tasks[0, 1], 12, pb.JOB_STATUS_FAILED) == 1
    for key in ((0, 2), (0, 3), (1, 0)):
        assert produce(env, tasks[key], 5) == 1
    assert produce(env, tasks[1, 1], 8) == 2  # the last one ends the book
    ended = book(env)
    assert ended["status"] == "failed" and "chapter 1, segment 2" in ended["error"]
    assert (ended["segments_done"], ended["segments_failed"], ended["tokens_done"]) == ("5", "1", "33")
    assert progress(env) == BookProgress(0, 0, 0, 0, 0, 0.0)  # an ended book leaves the open set
    assert not env.client.zcard(keys.open_books_key())

    # re-roll the failed segment: uncounted, the book reopens, the new take ends it again
    state, old, task = run(env, lambda store: store.reroll(BOOK_ID, "alice", 0, 1, seed=7))
    assert old == tasks[0, 1].take_id and state.take == 1 and state.seed == 7 and state.status is JobStatus.QUEUED
    assert env.client.exists(keys.job_cancel_key(old))  # a task still running the old take stops
    assert book(env)["status"] == "running" and book(env)["segments_failed"] == "0"
    assert progress(env) == BookProgress(0, 1, 6, 5, 0, pytest.approx(33 * 0.04))  # reopened: open again
    assert produce(env, tasks[0, 1], 3) == -1  # the old take changes nothing now
    assert produce(env, task, 6) == 2
    done = run(env, lambda store: store.state(BOOK_ID, "alice", include_segments=True))
    assert done.status is JobStatus.DONE and done.segments_done == 6 and done.tokens_done == 39
    assert [c.segments_done for c in done.chapters] == [4, 2] and done.chapters[0].segments[1].take == 1
    assert done.audio_seconds_done == pytest.approx(39 * 0.04)
    kinds = [f[b"kind"].decode() for _, f in env.client.xrange(keys.book_events_key(BOOK_ID))]
    assert kinds == ["planned", *["segment"] * 6, "rerolled", "segment"]

    # re-roll a done segment: its tokens leave the totals; cancel then stops the book
    run(env, lambda store: store.reroll(BOOK_ID, "alice", 1, 1, seed=None))
    assert book(env)["tokens_done"] == "31" and book(env)["segments_done"] == "5"
    assert progress(env).running == 1
    assert run(env, lambda store: store.cancel(BOOK_ID, "alice")) is True
    assert progress(env).running == 0 and not env.client.zcard(keys.open_books_key())
    assert run(env, lambda store: store.cancel(BOOK_ID, "alice")) is False
    assert env.client.exists(keys.book_cancel_key(BOOK_ID))
    with pytest.raises(JobCancelled):
        run(env, lambda store: store.reroll(BOOK_ID, "alice", 1, 0, seed=None))
    with pytest.raises(NotFound):
        run(env, lambda store: store.state(BOOK_ID, "bob"))
    with pytest.raises(NotFound):
        run(env, lambda store: store.reroll(BOOK_ID, "alice", 5, 0, seed=None))
    assert [j.job_id for j in run(env, lambda store: store.list("alice", 10))] == [BOOK_ID]

