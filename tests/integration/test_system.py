"""The whole system with real processes: redis-server, a Celery worker process, the gateway on loopback,
and the edge client library, exactly as `relaytts up` runs them."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import numpy as np
import pytest
import redis

from edge_client import Client
from protos import relaytts_v1_pb2 as pb
from protos import relaytts_v1_pb2_grpc as pb_grpc
from relaytts import keys
from relaytts.embedded import EmbeddedSystem
from relaytts.errors import InvalidArgument, NotFound, Unauthenticated, VoiceNotFound
from relaytts.jobs import CHUNK_FIELD
from relaytts.local import LocalSynthesizer
from relaytts.redis_server import free_port
from relaytts.sampling import SamplingParams
from relaytts.settings import load_settings

ALICE, BOB = "alice-key-0123456789", "bob-key-0123456789"
TEXT = "你好，世界。This is relay TTS, streaming from the cloud to the edge."
TOKENS = 40  # per segment: keeps each job around two seconds on two cores


@pytest.fixture(scope="module")
def system(fixture_bundle, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("system")
    key_file = run_dir / "keys.json"
    key_file.write_text(json.dumps({ALICE: "alice", BOB: "bob"}))
    key_file.chmod(0o600)  # the gateway refuses a key file every user can read
    settings = load_settings(environ={}, overrides={
        "worker.bundle": str(fixture_bundle.root), "gateway.bundle": str(fixture_bundle.root),
        "gateway.port": free_port(), "gateway.api_keys_file": str(key_file),
        "gateway.resume_grace_seconds": 1.0, "gateway.max_active_streams": 32,
        "metrics.gateway_port": free_port(), "metrics.worker_port": free_port(),
    })
    with EmbeddedSystem(settings, run_dir).start() as running:
        yield running


@pytest.fixture
def client(system, tmp_path):
    with Client(system.gateway_address, api_key=ALICE, cache_dir=tmp_path / "edge") as edge:
        yield edge


def params(seed: int = 7) -> SamplingParams:
    return SamplingParams(seed=seed, max_new_tokens=TOKENS)


def speak(client: Client, text: str = TEXT, seed: int = 7, **kwargs) -> np.ndarray:
    return np.concatenate([c.samples for c in client.synthesize(text, sampling=params(seed), seed=seed, **kwargs)])


def job_chunks(system, job_id: str) -> list[pb.LatentChunk]:
    store = redis.Redis.from_url(system.settings.redis.url)
    try:
        return [pb.LatentChunk.FromString(f[CHUNK_FIELD]) for _, f in store.xrange(keys.job_stream_key(job_id))]
    finally:
        store.close()


def job_status(system, job_id: str) -> str:
    store = redis.Redis.from_url(system.settings.redis.url)
    try:
        return (store.hget(keys.job_key(job_id), "status") or b"").decode()
    finally:
        store.close()


def wait_for(condition, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_stream_matches_in_process_synthesis(system, client, fixture_bundle):
    audio = speak(client)
    chunks = job_chunks(system, client.last_job_id)
    assert [c.seq for c in chunks] == list(range(1, len(chunks) + 1))
    assert chunks[-1].final and chunks[-1].status == pb.JOB_STATUS_DONE
    local = LocalSynthesizer(fixture_bundle.root)
    expected = np.concatenate(list(local.synthesize(TEXT, local.reference_style(None), "auto", params())))
    assert len(audio) == len(expected)
    np.testing.assert_allclose(audio, expected, atol=1e-5)


def test_gateway_killed_mid_stream_the_client_resumes_to_the_same_audio(system, client):
    import os
    import signal

    reference = speak(client)
    # The fixture model is fast enough for a whole stream to sit in the client's buffers before a kill, so
    # the worker is paused first: the gateway dies holding a job with no chunk yet, and every chunk has to
    # come through a resume on the new gateway.
    worker = worker_child_pid(system)
    r = redis.Redis.from_url(system.settings.redis.url)
    known = set(r.scan_iter(keys.job_key("*")))
    swap = {}

    def kill_and_respawn() -> None:
        try:
            deadline = time.monotonic() + 30
            while not (new := set(r.scan_iter(keys.job_key("*"))) - known) and time.monotonic() < deadline:
                time.sleep(0.01)
            (job,) = [k.decode().rsplit(":", 1)[1] for k in new if k.count(b":") == 2]
            swap["chunks at the kill"] = r.xlen(keys.job_stream_key(job))
            system.kill("gateway")  # the connection drops; nobody cancels the job
            system.respawn("gateway")
        finally:
            os.kill(worker, signal.SIGCONT)

    os.kill(worker, signal.SIGSTOP)
    respawn = threading.Thread(target=kill_and_respawn, daemon=True)
    respawn.start()
    try:
        audio = np.concatenate([c.samples for c in client.synthesize(TEXT, sampling=params(), seed=7)])
    finally:
        respawn.join(60)
        r.close()
    assert not respawn.is_alive() and system.child("gateway").process.poll() is None
    assert swap["chunks at the kill"] == 0
    chunks = job_chunks(system, client.last_job_id)
    assert chunks[-1].status == pb.JOB_STATUS_DONE and len({c.epoch for c in chunks}) == 1
    assert len(audio) == len(reference)
    np.testing.assert_allclose(audio, reference, atol=1e-5)


def test_speed_is_rendered_on_the_edge_from_the_same_tokens(system, client):
    normal = speak(client, seed=5)
    normal_tokens = [len(c.tokens) for c in job_chunks(system, client.last_job_id)]
    fast = speak(client, seed=5, speed=1.25)
    chunks = job_chunks(system, client.last_job_id)
    assert [len(c.tokens) for c in chunks] == normal_tokens  # same job, same tokens: only the vocoder differs
    per_segment: dict[int, int] = {}
    for c in chunks:
        per_segment[c.segment_index] = per_segment.get(c.segment_index, 0) + len(c.tokens)
    gaps = (len(per_segment) - 1) * int(0.3 * 32000)
    assert len(fast) == sum((int(2 * n / 1.25) + 1) * 640 for n in per_segment.values()) + gaps
    assert len(normal) == sum(n * 1280 for n in per_segment.values()) + gaps
    with pytest.raises(InvalidArgument, match="`speed` must be in"):
        client.synthesize(TEXT, speed=3.0)


def worker_child_pid(system) -> int:
    parent = system.child("worker").process.pid
    children = [int(p) for t in Path(f"/proc/{parent}/task").iterdir()
                for p in (t / "children").read_text().split()]
    assert len(children) == 1, children
    return children[0]


def test_worker_killed_mid_job_a_new_epoch_finishes_one_complete_utterance(system, client):
    import os
    import signal

    reference = speak(client, seed=11)
    child = worker_child_pid(system)
    pieces = []
    for chunk in client.synthesize(TEXT, sampling=params(11), seed=11):
        pieces.append(chunk.samples)
        if len(pieces) == 1:
            os.kill(child, signal.SIGKILL)  # the process running the task dies mid-job
    audio = np.concatenate(pieces)
    chunks = job_chunks(system, client.last_job_id)
    # Celery redelivers (epoch 2), or, when the child's restart outlasts the lease, a reaper's fenced requeue
    # gets there first (epoch 3, its fence being 2): either way a newer epoch finished the job.
    epochs = sorted({c.epoch for c in chunks})
    assert epochs[0] == 1 and len(epochs) >= 2, "the task was not redelivered under a new epoch"
    assert [c.seq for c in chunks] == list(range(1, len(chunks) + 1))
    assert sum(c.final for c in chunks) == 1 and chunks[-1].status == pb.JOB_STATUS_DONE
    assert len(audio) == len(reference)
    snr = 10 * np.log10(np.mean(reference**2) / max(np.mean((audio - reference) ** 2), 1e-20))
    assert snr > 40, f"SNR {snr:.1f} dB against the uninterrupted run"


def redis_now_ms(system) -> int:
    store = redis.Redis.from_url(system.settings.redis.url)
    try:
        seconds, micros = store.time()
        return seconds * 1000 + micros // 1000
    finally:
        store.close()


def test_cancel_stops_the_worker_within_one_decode_step(system, client):
    state = {}
    # A job this client cancels itself ends quietly (no JobCancelled): the stream just stops.
    for _audio in client.synthesize(TEXT * 8, sampling=SamplingParams(seed=3, max_new_tokens=1500), seed=3):
        if not state:
            state["job"] = client.last_job_id
            state["at"] = time.monotonic()
            client.cancel(state["job"])
            state["set_by_ms"] = redis_now_ms(system)  # the cancel key exists by now (Redis' clock)
    job_id = state["job"]
    wait_for(lambda: job_status(system, job_id) == "cancelled", "the job to end cancelled")
    assert time.monotonic() - state["at"] < 5
    store = redis.Redis.from_url(system.settings.redis.url)
    entries = store.xrange(keys.job_stream_key(job_id))
    store.close()
    final = pb.LatentChunk.FromString(entries[-1][1][CHUNK_FIELD])
    assert final.final and final.stop_reason == pb.STOP_REASON_CANCELLED
    later = [pb.LatentChunk.FromString(f[CHUNK_FIELD]) for entry_id, f in entries
             if int(entry_id.split(b"-")[0]) > state["set_by_ms"]]
    after = sum(len(c.tokens) for c in later)
    assert after <= 25, f"{after} tokens published after the cancel (one chunk is 25)"


def test_a_client_that_goes_away_stops_the_job(system, tmp_path):
    channel = grpc.insecure_channel(system.gateway_address)
    stub = pb_grpc.SynthesisStub(channel)
    call = stub.Synthesize(pb.SynthesizeRequest(text=TEXT * 8, sampling=pb.SamplingParams(max_new_tokens=1500)),
                           metadata=(("authorization", f"Bearer {ALICE}"),), timeout=60)
    first = next(call)
    call.cancel()
    channel.close()
    wait_for(lambda: job_status(system, first.job_id) == "cancelled", "an abandoned job to be cancelled")
    final = job_chunks(system, first.job_id)[-1]
    assert final.final and final.stop_reason == pb.STOP_REASON_CANCELLED


def test_bad_input_gets_a_clear_status_and_a_concurrent_good_stream_completes(system, client, tmp_path):
    with ThreadPoolExecutor(1) as pool:
        good = pool.submit(speak, client, TEXT, 5)
        with Client(system.gateway_address, api_key=ALICE, cache_dir=tmp_path / "bad") as bad:
            cases = [
                (dict(text=""), InvalidArgument, "`text`"),
                (dict(text="x" * 6000), InvalidArgument, "5000"),
                (dict(text="hi", voice="nobody"), VoiceNotFound, "nobody"),
                (dict(text="hi", sampling=SamplingParams(top_k=0)), InvalidArgument, "`top_k`"),
                (dict(text="hi", sampling=SamplingParams(temperature=-1.0)), InvalidArgument, "`temperature`"),
            ]
            for kwargs, error, words in cases:
                with pytest.raises(error, match=re.escape(words)):
                    list(bad.synthesize(**kwargs))
        for key in (None, "wrong-key-0000000000"):
            with Client(system.gateway_address, api_key=key, cache_dir=tmp_path / "anon") as anon:
                with pytest.raises(Unauthenticated):
                    list(anon.synthesize("hi"))
        with Client(system.gateway_address, api_key=BOB, cache_dir=tmp_path / "bob") as bob:
            with pytest.raises(NotFound):
                bob.cancel(client.last_job_id or "0" * 32)
        audio = good.result(timeout=120)
    assert len(audio) > 0 and job_status(system, client.last_job_id) == "done"


def test_eight_concurrent_streams_complete_with_no_lost_chunk(system, tmp_path):
    def one(i: int) -> tuple[str, int]:
        with Client(system.gateway_address, api_key=ALICE, cache_dir=tmp_path / f"c{i}") as edge:
            audio = speak(edge, "Eight streams at once.", seed=100 + i)
            return edge.last_job_id, len(audio)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(8)))
    for job_id, samples in results:
        chunks = job_chunks(system, job_id)
        assert [c.seq for c in chunks] == list(range(1, len(chunks) + 1))
        tokens = sum(len(c.tokens) for c in chunks)
        segments = sum(c.segment_final for c in chunks)
        assert samples == tokens * 1280 + (segments - 1) * int(0.3 * 32000)


def test_metrics_show_every_histogram(system, client):
    speak(client, "Metrics, please.", seed=2)
    gateway = urllib.request.urlopen(f"http://127.0.0.1:{system.settings.metrics.gateway_port}/metrics").read().decode()
    worker = urllib.request.urlopen(f"http://127.0.0.1:{system.settings.metrics.worker_port}/metrics").read().decode()

    def count(text: str, name: str) -> float:
        found = re.findall(rf"^{name}_count(?:{{[^}}]*}})? ([0-9.e+]+)$", text, re.M)
        assert found, f"{name} missing"
        return sum(float(v) for v in found)

    for name in ("relaytts_time_to_first_chunk_seconds", "relaytts_edge_time_to_first_audio_seconds",
                 "relaytts_edge_rtf"):
        assert count(gateway, name) > 0, name
    assert 'relaytts_stage_seconds_count{stage="relay"}' in gateway
    assert count(worker, "relaytts_queue_wait_seconds") > 0
    for stage in ("frontend", "prefill", "decode_step"):
        assert re.search(rf'relaytts_stage_seconds_count{{stage="{stage}"}} [1-9]', worker), stage
    assert "relaytts_tokens_total" in worker and "relaytts_active_streams" in gateway


def test_say_writes_a_wav_and_raw_pcm(system, tmp_path):
    import subprocess
    import sys

    import soundfile

    base = [sys.executable, "-m", "relaytts.cli", "say", "Hello from say.", "--gateway", system.gateway_address,
            "--api-key", ALICE, "--seed", "4", "--cache-dir", str(tmp_path / "cache")]
    wav = tmp_path / "say.wav"
    proc = subprocess.run([*base, "-o", str(wav)], capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    audio, rate = soundfile.read(wav, dtype="float32")
    proc = subprocess.run([*base, "-o", "-"], capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    pcm = np.frombuffer(proc.stdout, "<i2")
    assert rate == 32000 and len(pcm) == len(audio) > 0  # same seed, same utterance, nothing else on stdout
    np.testing.assert_allclose(pcm / 32767, audio, atol=2e-4)
    proc = subprocess.run([*base[:5], "--gateway", system.gateway_address, "-o", str(tmp_path / "x.wav")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and proc.stderr.strip().startswith("error:")  # no API key: one line
