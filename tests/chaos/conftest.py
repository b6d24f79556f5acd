"""Chaos fixtures: the whole system as real processes (``EmbeddedSystem``), faults injected from the test,
and a recovery table (fault -> time to recover -> what the client saw -> data lost) printed after the run
and written to ``.relaytts/chaos-report.md`` (the table in docs/operations.md comes from it)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import redis

from edge_client import Client
from protos import relaytts_v1_pb2 as pb
from relaytts import keys
from relaytts.embedded import EmbeddedSystem
from relaytts.jobs import CHUNK_FIELD
from relaytts.redis_server import free_port
from relaytts.sampling import SamplingParams
from relaytts.settings import load_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
TEXT = "你好，世界。This is relay TTS, streaming from the cloud to the edge."
TOKENS = 40
_RESULTS: list[dict[str, str]] = []


def record(fault: str, recovered: str, client_saw: str, lost: str) -> None:
    """One row of the recovery table."""
    _RESULTS.append({"fault": fault, "recovered": recovered, "client": client_saw, "lost": lost})


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001 - pytest's reporter
    if not _RESULTS:
        return
    lines = ["| fault | time to recover | what the client saw | data lost |", "|---|---|---|---|"]
    lines += [f"| {r['fault']} | {r['recovered']} | {r['client']} | {r['lost']} |" for r in _RESULTS]
    terminalreporter.write_sep("-", "chaos recovery table")
    for line in lines:
        terminalreporter.write_line(line)
    out = REPO_ROOT / ".relaytts" / "chaos-report.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text("\n".join(lines) + "\n")


def chaos_settings(bundle_root: Path, **overrides: object):
    return load_settings(
        environ={},
        overrides={
            "worker.bundle": str(bundle_root),
            "gateway.bundle": str(bundle_root),
            "gateway.port": free_port(),
            "gateway.resume_grace_seconds": 5.0,
            "metrics.gateway_port": 0,
            "metrics.worker_port": 0,
            "books.batch_concurrency": 0,
            **overrides,
        },
    )


@pytest.fixture(scope="session")
def system(fixture_bundle, tmp_path_factory):
    """One system for every drill that uses it; a drill leaves it as it found it (workers respawned)."""
    with EmbeddedSystem(chaos_settings(fixture_bundle.root), tmp_path_factory.mktemp("chaos")).start() as running:
        yield running


def params(seed: int) -> SamplingParams:
    return SamplingParams(seed=seed, max_new_tokens=TOKENS)


def speak(client: Client, seed: int) -> np.ndarray:
    return np.concatenate([c.samples for c in client.synthesize(TEXT, sampling=params(seed), seed=seed)])


def store(system: EmbeddedSystem) -> redis.Redis:
    return redis.Redis.from_url(system.settings.redis.url, socket_timeout=5)


def job_chunks(system: EmbeddedSystem, job_id: str) -> list[pb.LatentChunk]:
    with store(system) as r:
        return [pb.LatentChunk.FromString(f[CHUNK_FIELD]) for _, f in r.xrange(keys.job_stream_key(job_id))]


def unfinished_jobs(system: EmbeddedSystem) -> dict[str, str]:
    """Every synthesis job whose hash does not say done/cancelled/failed: must be empty after a drill."""
    with store(system) as r:
        out = {}
        for key in r.scan_iter(keys.job_key("*")):
            if key.count(b":") != 2:
                continue
            status = (r.hget(key, "status") or b"").decode()
            if status not in ("done", "cancelled", "failed"):
                out[key.decode()] = status
        return out


def wait_for(condition: Callable[[], object], what: str, timeout: float) -> object:
    """Poll ``condition`` until it is truthy; AssertionError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)
    return value


def new_job(system: EmbeddedSystem, known: set[bytes]) -> str | None:
    with store(system) as r:
        fresh = [k for k in r.scan_iter(keys.job_key("*")) if k.count(b":") == 2 and k not in known]
    return fresh[0].decode().rsplit(":", 1)[1] if fresh else None


def job_keys(system: EmbeddedSystem) -> set[bytes]:
    with store(system) as r:
        return set(r.scan_iter(keys.job_key("*")))


def descendants(pid: int) -> list[int]:
    """Every process under ``pid`` (children first level, then theirs)."""
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            out += [int(child), *descendants(int(child))]
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")
