"""Redis down for 30 s and restarted (a maintenance restart: it shuts down cleanly and reloads its
append-only file). Every live stream rides it out on the client's resume budget and completes with the
audio of an undisturbed run; no job is left running."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from edge_client import Client
from relaytts import keys
from relaytts.redis_server import RedisServer
from tests.chaos.conftest import job_keys, record, speak, store, unfinished_jobs, wait_for

OUTAGE_SECONDS = 30.0
STREAMS = 3


def test_redis_down_30_s_every_live_stream_completes(system, tmp_path):
    seeds = [21 + i for i in range(STREAMS)]
    with Client(system.gateway_address, cache_dir=tmp_path / "edge") as client:
        references = [speak(client, seed) for seed in seeds]
    known = job_keys(system)
    outage: dict[str, float] = {}

    def one(seed: int) -> np.ndarray:
        with Client(system.gateway_address, cache_dir=tmp_path / "edge") as client:
            return speak(client, seed)

    def restart_redis() -> None:
        def started_streams() -> bool:
            with store(system) as r:
                fresh = [k for k in r.scan_iter(keys.job_key("*")) if k.count(b":") == 2 and k not in known]
                return len(fresh) == STREAMS and any(
                    r.xlen(keys.job_stream_key(k.decode().rsplit(":", 1)[1])) for k in fresh
                )

        wait_for(started_streams, "every stream to be created and one to be under way", 60)
        server = system.redis
        server.stop()  # SIGTERM: redis-server saves and exits
        down = time.monotonic()
        time.sleep(OUTAGE_SECONDS)  # the fault itself lasts this long (not a wait for an event)
        system.redis = RedisServer.start(port=server.port, workdir=server.workdir, persist=True)
        outage["down"] = time.monotonic() - down
        outage["back"] = time.monotonic()

    restarter = threading.Thread(target=restart_redis, daemon=True)
    restarter.start()
    with ThreadPoolExecutor(STREAMS) as pool:
        audios = list(pool.map(one, seeds))
    finished = time.monotonic()
    restarter.join(10)
    assert "down" in outage, "the drill did not run"
    for audio, reference in zip(audios, references, strict=True):
        assert len(audio) == len(reference)
        np.testing.assert_allclose(audio, reference, atol=1e-5)
    assert unfinished_jobs(system) == {}
    record(
        f"Redis down {outage['down']:.0f} s (clean shutdown, restarted) with {STREAMS} live streams",
        f"every stream complete {finished - outage['back']:.1f} s after Redis was back",
        "a pause; the client resumed with backoff (budget 60 s)",
        "none: all audio identical to undisturbed runs",
    )
