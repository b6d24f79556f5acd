"""Queue depth and book progress, read from Redis each time Prometheus scrapes the gateway.

These are facts about shared state, not about one process, so a collector reads them when asked
(as redis_exporter and celery-exporter do) instead of a process counting them. Every gateway replica
reports the same values: dashboards and rules take ``max`` over instances, never ``sum``.

The collector runs in prometheus-client's HTTP thread, so it has its own small synchronous Redis
client with short timeouts: a slow Redis costs one scrape, never the event loop. When Redis does not
answer, only ``relaytts_redis_up 0`` is reported (no stale queue values).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

import redis
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from relaytts import keys
from relaytts.book_scripts import OPEN_BOOKS_PROGRESS
from relaytts.broker import QUEUES, UNACKED_KEY, enqueued_at, priority_lists

__all__ = ["BacklogCollector", "BookProgress", "QueueBacklog", "read_backlog", "read_book_progress"]

log = logging.getLogger(__name__)

REDIS_TIMEOUT_SECONDS: Final = 2.0
"""Per-call timeout of the collector's Redis client: well inside Prometheus' default 10 s scrape timeout."""


@dataclass(frozen=True)
class QueueBacklog:
    """One queue's waiting messages (over all its priority lists)."""

    queue: str
    length: int
    oldest_enqueued_at: float | None
    """Send time of the oldest waiting message; None when the queue is empty (or nothing is stamped)."""

    def oldest_age(self, now: float) -> float:
        return 0.0 if self.oldest_enqueued_at is None else max(0.0, now - self.oldest_enqueued_at)


@dataclass(frozen=True)
class BookProgress:
    """Totals over the books that have not ended."""

    queued: int
    running: int
    segments_total: int
    segments_done: int
    segments_failed: int
    audio_seconds_done: float


def read_backlog(client: redis.Redis) -> tuple[list[QueueBacklog], int]:
    """Every relaytts queue's backlog and the number of delivered, unacknowledged messages."""
    with client.pipeline(transaction=False) as pipe:
        for queue in QUEUES:
            for name in priority_lists(queue):
                pipe.llen(name)
                pipe.lindex(name, -1)  # producers LPUSH, consumers BRPOP: the last element waited longest
        pipe.hlen(UNACKED_KEY)
        replies = pipe.execute()
    backlog, at = [], 0
    for queue in QUEUES:
        length, stamps = 0, []
        for _ in priority_lists(queue):
            length += int(replies[at])
            if (stamp := enqueued_at(replies[at + 1])) is not None:
                stamps.append(stamp)
            at += 2
        backlog.append(QueueBacklog(queue, length, min(stamps) if stamps else None))
    return backlog, int(replies[at])


def read_book_progress(client: redis.Redis) -> BookProgress:
    queued, running, total, done, failed, audio = client.eval(OPEN_BOOKS_PROGRESS, 1, keys.open_books_key(),
                                                              keys.book_key(""))
    return BookProgress(int(queued), int(running), int(total), int(done), int(failed), float(audio))


class BacklogCollector(Collector):
    """``relaytts_queue_*``, ``relaytts_tasks_unacked``, ``relaytts_books_open``, ``relaytts_open_book_*``
    and ``relaytts_redis_up``, from one Redis."""

    def __init__(self, client: redis.Redis, clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.clock = clock

    @classmethod
    def from_url(cls, url: str) -> BacklogCollector:
        return cls(redis.Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_SECONDS,
                                        socket_connect_timeout=REDIS_TIMEOUT_SECONDS))

    def describe(self) -> list[Metric]:
        return []  # no collect() at registration: Redis may not be up yet

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("relaytts_redis_up", "1 when the gateway's last scrape-time read of Redis succeeded.")
        try:
            backlog, unacked = read_backlog(self.client)
            books = read_book_progress(self.client)
        except redis.RedisError as exc:
            log.warning("metrics: cannot read the queues from Redis: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        now = self.clock()
        length = GaugeMetricFamily("relaytts_queue_length", "Messages waiting in a queue (all priorities).",
                                   labels=["queue"])
        age = GaugeMetricFamily("relaytts_queue_oldest_age_seconds",
                                "How long the oldest waiting message of a queue has waited (0 when empty).",
                                labels=["queue"])
        for queue in backlog:
            length.add_metric([queue.queue], queue.length)
            age.add_metric([queue.queue], queue.oldest_age(now))
        yield length
        yield age
        yield GaugeMetricFamily("relaytts_tasks_unacked", "Messages delivered to a worker and not yet acknowledged "
                                "(running or prefetched), all queues.", value=unacked)
        open_books = GaugeMetricFamily("relaytts_books_open", "Book jobs that have not ended, by status.",
                                       labels=["status"])
        open_books.add_metric(["queued"], books.queued)
        open_books.add_metric(["running"], books.running)
        yield open_books
        segments = GaugeMetricFamily("relaytts_open_book_segments", "Segments of the books that have not ended: "
                                     "total (planned), done and failed.", labels=["state"])
        segments.add_metric(["total"], books.segments_total)
        segments.add_metric(["done"], books.segments_done)
        segments.add_metric(["failed"], books.segments_failed)
        yield segments
        yield GaugeMetricFamily("relaytts_open_book_audio_seconds", "Seconds of speech made so far for the books "
                                "that have not ended.", value=books.audio_seconds_done)

    def close(self) -> None:
        self.client.close()
