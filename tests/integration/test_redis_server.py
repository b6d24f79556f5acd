"""The bundled redis-server starts, answers and stops."""

from __future__ import annotations

import redis

from relaytts.redis_server import RedisServer


def test_fixture_server_is_real(redis_url):
    client = redis.Redis.from_url(redis_url)
    client.xadd("s", {"c": b"x"})
    assert client.xlen("s") == 1
    assert client.info("server")["redis_version"]


def test_start_and_stop(tmp_path):
    with RedisServer.start(workdir=tmp_path, persist=True) as server:
        client = redis.Redis.from_url(server.url)
        client.set("k", "v")
        assert client.get("k") == b"v"
    assert server.process.poll() is not None
