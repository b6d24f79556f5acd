"""Queue depth and age as the gateway reports them, on a real Redis with messages sent by the real
Celery producers (the gateway's and the workers'), and the scrape when Redis is gone."""

from __future__ import annotations

import socket
import time

import pytest
import redis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from orchestrator.backlog import BacklogCollector, read_backlog
from orchestrator.celery_client import make_celery_app
from relaytts.broker import ENQUEUED_AT_HEADER, UNACKED_KEY
from relaytts.jobs import BATCH_QUEUE, BATCH_SEGMENT_PRIORITY, INTERACTIVE_QUEUE, SYNTHESIZE_SEGMENT_TASK
from relaytts.settings import load_settings
from relaytts.voices import VOICES_QUEUE


def scrape(collector: BacklogCollector) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The collector's samples through prometheus-client's text format, as Prometheus reads them."""
    registry = CollectorRegistry()
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_length_and_age_of_each_queue(redis_url):
    app = make_celery_app(redis_url)
    client = redis.Redis.from_url(redis_url)
    try:
        before = time.time()
        for _ in range(3):
            app.send_task("relaytts.synthesize", args=["{}"], queue=INTERACTIVE_QUEUE)
        app.send_task(SYNTHESIZE_SEGMENT_TASK, args=["{}"], queue=BATCH_QUEUE, priority=BATCH_SEGMENT_PRIORITY)
        between = time.time()
        while time.time() <= between:  # the clock moves on: the plan's stamp is strictly newer
            pass
        app.send_task("relaytts.plan_book", args=["b"], queue=BATCH_QUEUE, priority=0)  # newer, other list
        after = time.time()
        backlog, unacked = read_backlog(client)
        by_queue = {q.queue: q for q in backlog}
        assert {q: b.length for q, b in by_queue.items()} == {INTERACTIVE_QUEUE: 3, BATCH_QUEUE: 2, VOICES_QUEUE: 0}
        assert unacked == 0
        assert before <= by_queue[INTERACTIVE_QUEUE].oldest_enqueued_at <= after
        segment_sent = by_queue[BATCH_QUEUE].oldest_enqueued_at  # the oldest over both priority lists
        assert before <= segment_sent <= between  # the segment's stamp, not the newer plan's
        assert by_queue[VOICES_QUEUE].oldest_enqueued_at is None

        samples = scrape(BacklogCollector(client, clock=lambda: after + 10))
        assert samples["relaytts_redis_up", ()] == 1
        assert samples["relaytts_queue_length", (("queue", INTERACTIVE_QUEUE),)] == 3
        assert samples["relaytts_queue_oldest_age_seconds", (("queue", BATCH_QUEUE),)] == pytest.approx(
            after + 10 - segment_sent)
        assert samples["relaytts_queue_oldest_age_seconds", (("queue", VOICES_QUEUE),)] == 0
        assert samples["relaytts_books_open", (("status", "queued"),)] == 0

        # a message taken by a consumer leaves the list; kombu parks it in `unacked` until acknowledged
        raw = client.rpop(INTERACTIVE_QUEUE)
        assert ENQUEUED_AT_HEADER in raw.decode()
        client.hset(UNACKED_KEY, "tag", raw)
        assert scrape(BacklogCollector(client))["relaytts_tasks_unacked", ()] == 1
        assert read_backlog(client)[0][0].length == 2
    finally:
        app.close()
        client.close()


def test_a_message_from_another_producer_counts_but_has_no_age(redis_url):
    client = redis.Redis.from_url(redis_url)
    client.lpush(VOICES_QUEUE, b'{"body": "x", "headers": {}}', b"not json")
    (voices,) = [q for q in read_backlog(client)[0] if q.queue == VOICES_QUEUE]
    assert voices.length == 2 and voices.oldest_enqueued_at is None
    client.close()


def test_without_redis_the_scrape_says_so_and_reports_no_stale_queues():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    collector = BacklogCollector.from_url(f"redis://127.0.0.1:{port}/0")
    samples = scrape(collector)
    collector.close()
    assert samples == {("relaytts_redis_up", ()): 0}


def test_the_gateway_serves_the_backlog_on_its_metrics_port(redis_url):
    """``build_server`` registers the collector when both a metrics port and a Redis URL are set."""
    import asyncio
    import urllib.request

    from orchestrator.server import build_server, stop_server

    settings = load_settings(environ={}, overrides={"redis.url": redis_url, "gateway.port": 0,
                                                    "metrics.gateway_port": _free_port()})

    async def main() -> str:
        server, _ = build_server(settings)
        await server.start()
        try:
            url = f"http://127.0.0.1:{settings.metrics.gateway_port}/metrics"
            return await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=10).read().decode())
        finally:
            await stop_server(server, grace=None)

    text = asyncio.run(main())
    assert 'relaytts_queue_length{queue="t2s.interactive"} 0.0' in text
    assert "relaytts_redis_up 1.0" in text


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
