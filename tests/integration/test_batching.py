"""Continuous batching with real processes: a ``relaytts worker --max-batch 32`` subprocess, real Redis,
jobs sent by name as the gateway sends them, streams read back.

Each job's tokens are first recorded from a run on its own (one job at a time through the same worker),
then the same jobs run together: 32 at once, 8 with one cancelled mid-batch, and 8 whose decode process
is SIGKILLed mid-batch. Every job that is not cancelled must end with exactly its solo tokens (the
seed is per job and segment, and each row samples with its own RNG).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
import redis
from celery import Celery

from protos import relaytts_v1_pb2 as pb
from relaytts.jobs import CHUNK_FIELD, INTERACTIVE_QUEUE, SYNTHESIZE_TASK, SynthesisJob
from relaytts.keys import job_cancel_key, job_key, job_stream_key
from relaytts.redis_server import free_port
from relaytts.settings import load_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
STREAM_TTL = 3600
MAX_BATCH = 32
TOKENS = 60
"""Per segment: long enough that 32 jobs overlap in the batch for most of their steps."""
TEXTS = [
    "The quick brown fox jumps over the lazy dog. It runs to the river bank.",
    "A second voice reads this line slowly. Then it stops for a while.",
    "Numbers and words mix here, twelve of them. The end comes soon.",
    "Every row samples with its own seed. Nobody shares a random stream.",
]
JOBS = [(TEXTS[i % len(TEXTS)], 100 + i) for i in range(MAX_BATCH)]
"""(text, seed) of the 32 jobs: four texts, every seed different."""


class Worker:
    def __init__(self, process: subprocess.Popen, log_path: Path, metrics_port: int) -> None:
        self.process, self.log_path, self.metrics_port = process, log_path, metrics_port

    def fail(self, message: str) -> None:
        pytest.fail(f"{message}\n--- worker log ---\n{self.log_path.read_text(errors='replace')[-6000:]}")

    def children(self) -> list[int]:
        tasks = Path(f"/proc/{self.process.pid}/task")
        return [int(pid) for task in tasks.iterdir() for pid in (task / "children").read_text().split()]

    def metrics(self) -> dict[str, float]:
        body = urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).read().decode()
        return {
            name: float(value)
            for name, value in (line.rsplit(" ", 1) for line in body.splitlines() if line and not line.startswith("#"))
        }


@pytest.fixture(scope="module")
def worker(redis_server, fixture_bundle, tmp_path_factory):
    from workers.heartbeat import check

    tmp = tmp_path_factory.mktemp("batch-worker")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAYTTS_")}
    env |= {
        "RELAYTTS_METRICS_WORKER_PORT": str(free_port()),
        "RELAYTTS_METRICS_MULTIPROC_DIR": str(tmp / "prom"),
        "RELAYTTS_WORKER_MAX_BATCH": str(MAX_BATCH),
        "RELAYTTS_WORKER_KV_POSITIONS": "1024",
        "PYTHONUNBUFFERED": "1",
    }
    command = [
        sys.executable,
        "-c",
        "from workers.cli import worker_command; worker_command()",
        "--bundle",
        str(fixture_bundle.root),
        "--redis-url",
        redis_server.url,
    ]
    log_path = tmp / "worker.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=REPO_ROOT, env=env
        )
    handle = Worker(process, log_path, int(env["RELAYTTS_METRICS_WORKER_PORT"]))
    settings = load_settings({}, {"redis.url": redis_server.url})
    try:
        deadline = time.monotonic() + 120
        while not check(settings):
            if process.poll() is not None:
                handle.fail(f"the worker exited with status {process.returncode} before it was ready")
            if time.monotonic() > deadline:
                handle.fail("the worker wrote no heartbeat within 120 s")
            time.sleep(0.05)
        yield handle
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def r(redis_server):
    client = redis.Redis.from_url(redis_server.url)
    yield client
    client.close()


@pytest.fixture(scope="module")
def gateway(redis_server):
    app = Celery("gateway-test", broker=redis_server.url, set_as_current=False)
    app.conf.update(task_serializer="json", accept_content=["json"], task_ignore_result=True)
    yield app
    app.close()


def submit(gateway: Celery, r: redis.Redis, text: str, seed: int) -> str:
    job_id = uuid.uuid4().hex
    now = time.time()
    r.hset(
        job_key(job_id),
        mapping={
            "tenant": "local",
            "status": "queued",
            "created_at": now,
            "enqueued_at": now,
            "voice": "default",
            "language": "en",
            "epoch": 0,
        },
    )
    r.expire(job_key(job_id), STREAM_TTL)
    job = SynthesisJob(
        job_id=job_id,
        tenant="local",
        text=text,
        language="en",
        sampling={"max_new_tokens": TOKENS},
        seed=seed,
        enqueued_at=now,
    )
    gateway.send_task(SYNTHESIZE_TASK, args=[job.to_json()], queue=INTERACTIVE_QUEUE)
    return job_id


def chunks_of(r: redis.Redis, job_id: str) -> list[pb.LatentChunk]:
    return [pb.LatentChunk.FromString(f[CHUNK_FIELD]) for _, f in r.xrange(job_stream_key(job_id))]


def wait_final(r: redis.Redis, job_ids: list[str], worker: Worker, timeout: float = 300.0) -> None:
    """Block (XREAD) until every job has written its final chunk."""
    cursors = dict.fromkeys(job_ids, "0-0")
    deadline = time.monotonic() + timeout
    while cursors:
        if time.monotonic() > deadline:
            worker.fail(f"{len(cursors)} jobs did not end within {timeout} s")
        reply = r.xread({job_stream_key(j): c for j, c in cursors.items()}, block=500)
        for stream, entries in reply:
            job_id = next(j for j in cursors if job_stream_key(j) == stream.decode())
            for entry_id, fields in entries:
                cursors[job_id] = entry_id
                if pb.LatentChunk.FromString(fields[CHUNK_FIELD]).final:
                    cursors.pop(job_id)
                    break


def audio_tokens(chunks: list[pb.LatentChunk]) -> dict[int, list[int]]:
    """Each segment's tokens as the edge keeps them: a newer epoch's take of a segment replaces the older."""
    out: dict[int, tuple[int, list[int]]] = {}
    for c in chunks:
        if c.final:
            continue
        epoch, tokens = out.get(c.segment_index, (c.epoch, []))
        if c.epoch > epoch:
            tokens = []
        out[c.segment_index] = (c.epoch, tokens + list(c.tokens))
    return {index: tokens for index, (_, tokens) in out.items()}


@pytest.fixture(scope="module")
def solo(worker, gateway, r) -> list[dict[int, list[int]]]:
    """Every job's tokens when it runs alone (one job at a time through the same worker)."""
    out = []
    for text, seed in JOBS:
        job_id = submit(gateway, r, text, seed)
        wait_final(r, [job_id], worker)
        chunks = chunks_of(r, job_id)
        assert chunks[-1].status == pb.JOB_STATUS_DONE, chunks[-1].error
        out.append(audio_tokens(chunks))
    return out


def test_32_concurrent_streams_end_with_their_solo_tokens(worker, gateway, r, solo):
    before = worker.metrics()
    job_ids = [submit(gateway, r, text, seed) for text, seed in JOBS]
    wait_final(r, job_ids, worker)
    for i, job_id in enumerate(job_ids):
        chunks = chunks_of(r, job_id)
        assert chunks[-1].status == pb.JOB_STATUS_DONE, chunks[-1].error
        assert {c.epoch for c in chunks} == {1}
        assert audio_tokens(chunks) == solo[i], f"job {i} differs from its solo run"
    after = worker.metrics()
    steps = after["relaytts_batch_size_count"] - before["relaytts_batch_size_count"]
    small = after['relaytts_batch_size_bucket{le="4.0"}'] - before['relaytts_batch_size_bucket{le="4.0"}']
    assert steps > 0 and small < steps, "no step decoded more than 4 rows: the jobs were not batched"
    assert after["relaytts_batch_slots"] == MAX_BATCH


def test_cancelling_one_row_mid_batch_leaves_the_others_untouched(worker, gateway, r, solo):
    job_ids = [submit(gateway, r, text, seed) for text, seed in JOBS[:8]]
    victim = job_ids[3]
    deadline = time.monotonic() + 120
    while not r.xlen(job_stream_key(victim)):  # its first chunk: it is a row of the batch now
        if time.monotonic() > deadline:
            worker.fail("the job to cancel never started")
        time.sleep(0.01)
    r.set(job_cancel_key(victim), 1, ex=STREAM_TTL)
    wait_final(r, job_ids, worker)
    cancelled = chunks_of(r, victim)
    assert cancelled[-1].status == pb.JOB_STATUS_CANCELLED
    kept = [t for c in cancelled if not c.final for t in c.tokens]
    full = [t for index in sorted(solo[3]) for t in solo[3][index]]
    assert len(kept) < len(full) and kept == full[: len(kept)]  # a prefix of its solo tokens, then nothing
    for i, job_id in enumerate(job_ids):
        if job_id != victim:
            chunks = chunks_of(r, job_id)
            assert chunks[-1].status == pb.JOB_STATUS_DONE and audio_tokens(chunks) == solo[i], f"job {i}"


def test_a_killed_decode_process_mid_batch_is_redelivered_and_every_stream_ends_identically(worker, gateway, r, solo):
    before = worker.metrics()
    [decoder] = worker.children()
    job_ids = [submit(gateway, r, text, seed) for text, seed in JOBS[8:16]]
    deadline = time.monotonic() + 120
    while not all(r.xlen(job_stream_key(j)) for j in job_ids):  # all 8 are rows of the batch
        if time.monotonic() > deadline:
            worker.fail("the 8 jobs never all started")
        time.sleep(0.01)
    os.kill(decoder, signal.SIGKILL)
    in_flight = [j for j in job_ids if not chunks_of(r, j)[-1].final]
    wait_final(r, job_ids, worker)
    assert len(in_flight) == 8, "some jobs had ended before the kill"
    for i, job_id in enumerate(job_ids):
        chunks = chunks_of(r, job_id)
        assert chunks[-1].status == pb.JOB_STATUS_DONE, chunks[-1].error
        assert [c.seq for c in chunks] == list(range(1, len(chunks) + 1))
        assert {c.epoch for c in chunks} == {1, 2}, f"job {i} was not delivered again"
        assert audio_tokens(chunks) == solo[8 + i], f"job {i} differs from its solo run"
    assert worker.children() and worker.children() != [decoder]  # a new decode process serves on
    after = worker.metrics()
    assert (
        after['relaytts_errors_total{reason="redelivered"}']
        - before.get('relaytts_errors_total{reason="redelivered"}', 0)
        == 8
    )
