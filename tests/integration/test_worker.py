"""The T2S worker end to end: a real ``relaytts worker`` subprocess, real Redis, jobs sent by name.

Jobs are enqueued exactly as the gateway does (docs/protocol.md §1: job hash, then ``send_task`` by
name with a JSON ``SynthesisJob``) from a separate Celery client app that never imports ``workers``,
and each job's Redis stream is read back. One worker serves the whole module (concurrency 1, so the
process executing a job is the parent's only child); Redis is flushed before every test. The
worker's log goes to a file whose new part is printed when a test fails.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from celery import Celery
from click.testing import CliRunner

from protos import relaytts_v1_pb2 as pb
from relaytts.jobs import CHUNK_FIELD, INTERACTIVE_QUEUE, SYNTHESIZE_TASK, SynthesisJob
from relaytts.keys import job_cancel_key, job_key, job_stream_key
from relaytts.redis_server import free_port
from relaytts.settings import load_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
FIRST_CHUNK_TOKENS = 8
CHUNK_TOKENS = 25
STREAM_TTL = 3600
#: Three English segments; with these seeds the fixture model runs every segment to its token cap,
#: so jobs have a known length (the fixture's T2S reaches EOS only now and then).
TEXT = ("The quick brown fox jumps over the lazy dog near the old river bank. "
        "A second sentence is spoken here slowly and clearly for everyone to hear. "
        "And a third one ends the test.")


@dataclass
class WorkerProcess:
    process: subprocess.Popen
    log_path: Path
    metrics_port: int
    redis_url: str

    def log_tail(self, since: int = 0) -> str:
        return self.log_path.read_bytes()[since:].decode(errors="replace")

    def fail(self, message: str) -> None:
        pytest.fail(f"{message}\n--- worker log ---\n{self.log_tail()[-6000:]}")

    def children(self) -> list[int]:
        """Pids of the worker's pool processes (every thread's children, from /proc)."""
        tasks = Path(f"/proc/{self.process.pid}/task")
        return [int(pid) for task in tasks.iterdir() for pid in (task / "children").read_text().split()]

    def metrics(self) -> dict[str, float]:
        body = urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).read().decode()
        samples = {}
        for line in body.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                samples[name] = float(value)
        return samples


@pytest.fixture(scope="module")
def worker(redis_server, fixture_bundle, tmp_path_factory):
    """``relaytts worker`` as a subprocess (output to a file, never a pipe), ready when its heartbeat is."""
    from workers.heartbeat import check

    tmp = tmp_path_factory.mktemp("worker")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAYTTS_")}
    env |= {"RELAYTTS_METRICS_WORKER_PORT": str(free_port()), "RELAYTTS_METRICS_MULTIPROC_DIR": str(tmp / "prom"),
            "RELAYTTS_WORKER_THREADS": "1", "RELAYTTS_WORKER_FIRST_CHUNK_TOKENS": str(FIRST_CHUNK_TOKENS),
            "RELAYTTS_WORKER_CHUNK_TOKENS": str(CHUNK_TOKENS), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-c", "from workers.cli import worker_command; worker_command()",
               "--bundle", str(fixture_bundle.root), "--redis-url", redis_server.url, "--concurrency", "1"]
    log_path = tmp / "worker.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   cwd=REPO_ROOT, env=env)
    handle = WorkerProcess(process, log_path, int(env["RELAYTTS_METRICS_WORKER_PORT"]), redis_server.url)
    settings = load_settings({}, {"redis.url": redis_server.url})
    try:
        deadline = time.monotonic() + 60
        while not check(settings):
            if process.poll() is not None:
                handle.fail(f"the worker exited with status {process.returncode} before it was ready")
            if time.monotonic() > deadline:
                handle.fail("the worker wrote no heartbeat within 60 s")
            time.sleep(0.05)
        yield handle
    finally:
        process.send_signal(signal.SIGTERM)  # warm shutdown
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def live_worker(worker, redis_url):
    """The module's worker, checked alive, with Redis flushed; prints its log of this test on failure."""
    start = worker.log_path.stat().st_size
    if worker.process.poll() is not None:
        worker.fail(f"the worker has exited ({worker.process.returncode})")
    yield worker
    print(worker.log_tail(start))  # shown by pytest only when the test failed


@pytest.fixture(scope="module")
def gateway(redis_server):
    """A Celery client app like the gateway's: JSON, sends by name, knows nothing of the worker code."""
    app = Celery("gateway-test", broker=redis_server.url, set_as_current=False)
    app.conf.update(task_serializer="json", accept_content=["json"], result_serializer="json",
                    task_ignore_result=True)
    yield app
    app.close()


@pytest.fixture
def r(redis_url):
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def submit(gateway: Celery, r: redis.Redis, text: str = TEXT, seed: int = 7, max_tokens: int = 120,
           **fields) -> str:
    """Create the job hash and enqueue the task the way docs/protocol.md §1 says the gateway does."""
    job_id = uuid.uuid4().hex
    now = time.time()
    r.hset(job_key(job_id), mapping={"tenant": "local", "status": "queued", "created_at": now, "enqueued_at": now,
                                     "voice": "default", "language": "en", "epoch": 0})
    r.expire(job_key(job_id), STREAM_TTL)
    job = SynthesisJob(job_id=job_id, tenant="local", text=text, language="en",
                       sampling=fields.pop("sampling", {"max_new_tokens": max_tokens}), seed=seed, enqueued_at=now,
                       **fields)
    gateway.send_task(SYNTHESIZE_TASK, args=[job.to_json()], queue=INTERACTIVE_QUEUE)
    return job_id


def tail(r: redis.Redis, job_id: str, worker: WorkerProcess, until=None, timeout: float = 30.0):
    """Yield (entry id, chunk) as the worker publishes them (XREAD BLOCK), up to the final chunk."""
    last = "0-0"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = r.xread({job_stream_key(job_id): last}, block=200)
        for _stream, entries in reply:
            for entry_id, fields in entries:
                last = entry_id
                chunk = pb.LatentChunk.FromString(fields[CHUNK_FIELD])
                yield entry_id, chunk
                if chunk.final:
                    return
    worker.fail(f"job {job_id} did not end within {timeout} s")


def read_job(r, job_id, worker, timeout: float = 30.0) -> list[pb.LatentChunk]:
    return [chunk for _, chunk in tail(r, job_id, worker, timeout=timeout)]


def tokens_by_segment(chunks) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for chunk in chunks:
        if not chunk.final:
            out.setdefault(chunk.segment_index, []).extend(chunk.tokens)
    return out


def test_a_job_streams_in_order_and_ends_done(live_worker, gateway, r, fixture_bundle):
    job_id = submit(gateway, r, seed=7, max_tokens=60)
    chunks = read_job(r, job_id, live_worker)

    assert [c.seq for c in chunks] == list(range(1, len(chunks) + 1))
    assert {c.job_id for c in chunks} == {job_id} and {c.epoch for c in chunks} == {1}
    *body, final = chunks
    segment_count = chunks[0].segment_count
    assert segment_count == 3 and int(r.hget(job_key(job_id), "segments")) == 3
    # ge and the voice hash once, on the first chunk; queue wait there too
    assert [bool(c.ge) for c in body] == [True] + [False] * (len(body) - 1)
    assert len(chunks[0].ge) == 4 * fixture_bundle.manifest.sovits["gin_channels"]  # float32 [gin]
    assert chunks[0].voice_hash and chunks[0].timings.queue_wait_us > 0
    for index in range(segment_count):
        seg = [c for c in body if c.segment_index == index]
        assert seg and [c.seq for c in seg] == sorted(c.seq for c in seg)
        assert len(seg[0].phones) > 0 and all(not c.phones for c in seg[1:])
        assert seg[0].noise_seed == 7 + index and seg[0].noise_scale == pytest.approx(0.5)
        assert seg[0].timings.prefill_us > 0 and seg[0].timings.frontend_us > 0
        assert [c.segment_final for c in seg] == [False] * (len(seg) - 1) + [True]
        assert len(seg[0].tokens) == FIRST_CHUNK_TOKENS and all(len(c.tokens) == CHUNK_TOKENS for c in seg[1:-1])
        assert sum(len(c.tokens) for c in seg) == 60  # max_new_tokens; the segment ends on its cap
        assert seg[-1].stop_reason == pb.STOP_REASON_MAX_TOKENS
    # segments follow one another
    assert [c.segment_index for c in body] == sorted(c.segment_index for c in body)
    assert final.final and not final.tokens and final.status == pb.JOB_STATUS_DONE
    assert final.stop_reason == pb.STOP_REASON_MAX_TOKENS and not final.error
    state = {k.decode(): v.decode() for k, v in r.hgetall(job_key(job_id)).items()}
    assert state["status"] == "done" and state["epoch"] == "1"
    assert float(state["finished_at"]) >= float(state["started_at"]) >= float(state["enqueued_at"])
    assert 0 < r.ttl(job_stream_key(job_id)) <= STREAM_TTL and 0 < r.ttl(job_key(job_id)) <= STREAM_TTL


def test_same_seed_gives_the_same_tokens_and_cached_voices_skip_ge(live_worker, gateway, r):
    first = read_job(r, submit(gateway, r, seed=11, max_tokens=40), live_worker)
    voice_hash = first[0].voice_hash
    again = read_job(r, submit(gateway, r, seed=11, max_tokens=40, cached_voice_hashes=[voice_hash]), live_worker)
    other = read_job(r, submit(gateway, r, seed=12, max_tokens=40), live_worker)

    assert tokens_by_segment(first) == tokens_by_segment(again)
    assert tokens_by_segment(first) != tokens_by_segment(other)
    assert again[0].voice_hash == voice_hash and not again[0].ge  # the edge already holds it


def test_cancel_mid_job_stops_within_one_decode_step(live_worker, gateway, r):
    job_id = submit(gateway, r, seed=3, max_tokens=300)
    stream = tail(r, job_id, live_worker)
    next(stream)  # the first chunk exists: the job is decoding
    with r.pipeline(transaction=True) as pipe:  # cancel, and see what existed at that instant, atomically
        pipe.set(job_cancel_key(job_id), 1, ex=STREAM_TTL)
        pipe.xrevrange(job_stream_key(job_id), "+", "-", count=1)
        _, [(cancel_at, at_cancel)] = pipe.execute()
    assert not pb.LatentChunk.FromString(at_cancel[CHUNK_FIELD]).final, "the job ended before the cancel"
    after = [chunk for entry_id, chunk in stream if _id(entry_id) > _id(cancel_at)]

    assert sum(len(c.tokens) for c in after) <= CHUNK_TOKENS  # at most what one chunk holds
    final = after[-1]
    assert final.final and final.status == pb.JOB_STATUS_CANCELLED and final.stop_reason == pb.STOP_REASON_CANCELLED
    assert r.hget(job_key(job_id), "status") == b"cancelled"


def test_a_job_cancelled_before_it_starts_writes_only_its_final_chunk(live_worker, gateway, r):
    job_id = uuid.uuid4().hex
    r.set(job_cancel_key(job_id), 1, ex=STREAM_TTL)
    r.hset(job_key(job_id), mapping={"tenant": "local", "status": "queued", "epoch": 0})
    gateway.send_task(SYNTHESIZE_TASK, args=[SynthesisJob(job_id=job_id, tenant="local", text=TEXT).to_json()],
                      queue=INTERACTIVE_QUEUE)
    [final] = read_job(r, job_id, live_worker)
    assert final.seq == 1 and final.final and final.status == pb.JOB_STATUS_CANCELLED
    assert r.hget(job_key(job_id), "status") == b"cancelled"


def test_bad_input_fails_the_job_with_a_readable_error(live_worker, gateway, r):
    bad_sampling = submit(gateway, r, sampling={"top_k": 0})
    nothing = submit(gateway, r, text="...")
    [final] = read_job(r, bad_sampling, live_worker)
    assert final.status == pb.JOB_STATUS_FAILED and "`top_k` must be an integer in [1, 1025]; given 0" in final.error
    assert r.hget(job_key(bad_sampling), "status") == b"failed"
    assert b"top_k" in r.hget(job_key(bad_sampling), "error")
    [final] = read_job(r, nothing, live_worker)
    assert final.status == pb.JOB_STATUS_FAILED and "nothing to speak" in final.error


def test_a_killed_child_is_redelivered_and_the_next_epoch_continues(live_worker, gateway, r):
    before = live_worker.metrics()
    job_id = submit(gateway, r, seed=5, max_tokens=300)
    [child] = live_worker.children()
    seen = []
    for _, chunk in tail(r, job_id, live_worker):
        seen.append(chunk)
        if chunk.segment_index == 1:  # segment 0 is finished, segment 1 has just started
            os.kill(child, signal.SIGKILL)
            break
    chunks = seen + [chunk for _, chunk in tail(r, job_id, live_worker, timeout=60)
                     if chunk.seq > seen[-1].seq]

    epoch1 = [c for c in chunks if c.epoch == 1]
    epoch2 = [c for c in chunks if c.epoch == 2]
    assert epoch1 and epoch2 and {c.epoch for c in chunks} == {1, 2}, "no second delivery"
    assert not any(c.final for c in epoch1) and not any(c.segment_final for c in epoch1 if c.segment_index == 1), \
        "the kill landed after segment 1 had ended"
    assert [c.seq for c in chunks] == list(range(1, len(chunks) + 1))  # seq never reused, no gap
    assert chunks.index(epoch2[0]) == len(epoch1)  # epoch 2 strictly after epoch 1
    # the new epoch restarts the unfinished segment 1 (never replays the finished segment 0), sends ge again
    assert epoch2[0].segment_index == 1 and epoch2[0].phones and epoch2[0].ge and epoch2[0].segment_count == 3
    assert all(c.segment_index >= 1 for c in epoch2 if not c.final)
    # seeded per segment: the redone segment starts with the tokens epoch 1 had already sent
    partial = [t for c in epoch1 if c.segment_index == 1 for t in c.tokens]
    redone = [t for c in epoch2 if c.segment_index == 1 and not c.final for t in c.tokens]
    assert redone[: len(partial)] == partial
    assert [c.final for c in chunks].count(True) == 1 and chunks[-1].status == pb.JOB_STATUS_DONE
    assert r.hget(job_key(job_id), "status") == b"done" and r.hget(job_key(job_id), "epoch") == b"2"
    assert live_worker.children() and live_worker.children() != [child]  # the pool replaced the child
    assert _delta(before, live_worker.metrics(), 'relaytts_errors_total{reason="redelivered"}') == 1


def test_metrics_count_a_job(live_worker, gateway, r):
    before = live_worker.metrics()
    chunks = read_job(r, submit(gateway, r, seed=2, max_tokens=30), live_worker)
    tokens = sum(len(c.tokens) for c in chunks)
    deadline = time.monotonic() + 10
    while True:  # the counters move right after the final chunk is written
        after = live_worker.metrics()
        if _delta(before, after, 'relaytts_jobs_total{status="done"}') == 1 or time.monotonic() > deadline:
            break
        time.sleep(0.05)

    assert _delta(before, after, 'relaytts_jobs_total{status="done"}') == 1
    assert _delta(before, after, "relaytts_tokens_total") == tokens == 90
    assert _delta(before, after, "relaytts_audio_seconds_total") == pytest.approx(tokens / 25)
    assert _delta(before, after, "relaytts_queue_wait_seconds_count") == 1
    for stage, count in (("frontend", 3), ("prefill", 3)):
        assert _delta(before, after, f'relaytts_stage_seconds_count{{stage="{stage}"}}') == count
    assert _delta(before, after, 'relaytts_stage_seconds_count{stage="decode_step"}') >= tokens - 3
    assert after['relaytts_stage_seconds_bucket{le="+Inf",stage="decode_step"}'] > 0


def test_check_reports_the_heartbeat(live_worker):
    from workers.cli import worker_command
    from workers.heartbeat import check

    runner = CliRunner()
    flushed = runner.invoke(worker_command, ["--check", "--redis-url", live_worker.redis_url])
    assert flushed.exit_code == 1 and "no live worker heartbeat" in flushed.output  # Redis was just flushed
    settings = load_settings({}, {"redis.url": live_worker.redis_url})
    deadline = time.monotonic() + 15
    while not check(settings):  # the next beat (every few seconds) writes it again
        if time.monotonic() > deadline:
            live_worker.fail("no heartbeat within 15 s")
        time.sleep(0.1)
    result = runner.invoke(worker_command, ["--check"], env={"RELAYTTS_REDIS_URL": live_worker.redis_url})
    assert result.exit_code == 0 and f"pid={live_worker.process.pid}" in result.output and "done=" in result.output
    print(result.output)


def test_the_command_says_what_is_wrong_in_one_line(tmp_path, redis_url):
    from workers.cli import worker_command

    runner = CliRunner()
    no_bundle = runner.invoke(worker_command, ["--redis-url", redis_url])
    assert no_bundle.exit_code == 1
    assert no_bundle.output.startswith("error: `--bundle` (RELAYTTS_WORKER_BUNDLE) is required")
    not_a_bundle = runner.invoke(worker_command, ["--bundle", str(tmp_path)], env={"RELAYTTS_REDIS_URL": redis_url})
    assert not_a_bundle.exit_code == 1 and "not a bundle (no manifest.json)" in not_a_bundle.output
    typo = runner.invoke(worker_command, ["--check"], env={"RELAYTTS_REDIS_ULR": redis_url})
    assert typo.exit_code == 1 and "did you mean RELAYTTS_REDIS_URL?" in typo.output


def _id(entry_id: bytes) -> tuple[int, int]:
    ms, seq = entry_id.decode().split("-")
    return int(ms), int(seq)


def _delta(before: dict[str, float], after: dict[str, float], name: str) -> float:
    return after.get(name, 0.0) - before.get(name, 0.0)
