"""The gateway end to end over loopback gRPC, against a real Redis; the test stands in for the worker.

The gateway runs in-process (its own event loop in a thread, built with ``build_server`` on port 0).
Where a worker would run, the test reads the Celery message the gateway really put on the
``t2s.interactive`` list and writes chunks into the job's stream exactly as docs/protocol.md §2 says.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import replace

import grpc
import pytest
import redis
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from bundle import Manifest
from orchestrator.celery_client import CeleryEnqueuer
from orchestrator.server import GatewayDeps, build_server, stop_server
from protos import relaytts_v1_pb2 as pb
from protos import relaytts_v1_pb2_grpc as pb_grpc
from relaytts import keys
from relaytts.jobs import CHUNK_FIELD, INTERACTIVE_QUEUE, SYNTHESIZE_TASK, SynthesisJob
from relaytts.redis_server import free_port
from relaytts.settings import GatewaySettings, MetricsSettings, RedisSettings, Settings

ALICE, BOB = "alice-key-0123456789", "bob-key-0123456789"
WAIT_S = 10.0


class Gateway:
    """A gateway on its own event loop in a background thread; ``stop()`` drains it."""

    def __init__(self, settings: Settings, deps: Callable[[Settings], GatewayDeps] | None = None) -> None:
        self.settings = settings
        self._deps = deps
        self._stopped = False
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(WAIT_S):
            raise RuntimeError("gateway did not start")
        if self._error is not None:
            raise self._error
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        self.synthesis = pb_grpc.SynthesisStub(self.channel)
        self.models = pb_grpc.ModelsStub(self.channel)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def start() -> None:
            deps = self._deps(self.settings) if self._deps else None
            self.server, self.port = build_server(self.settings, deps)
            await self.server.start()

        try:
            self.loop.run_until_complete(start())
        except BaseException as exc:  # reported to the test thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()

    def idle(self) -> bool:
        """No background write of the synthesis service is pending (grace decisions, detaches)."""
        from orchestrator.server import _running

        running = _running.get(self.server)
        return running is None or not running.synthesis._background.tasks

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        asyncio.run_coroutine_threadsafe(stop_server(self.server, 0), self.loop).result(WAIT_S)
        self.channel.close()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(WAIT_S)


@pytest.fixture
def start_gateway(redis_url, tmp_path) -> Iterator[Callable[..., Gateway]]:
    """``start_gateway(**gateway_settings)``; ``keys=True`` adds a key file (alice, bob); ``metrics=True``."""
    started: list[Gateway] = []

    def start(*, keys_file: bool = False, metrics: bool = False, deps=None, **gateway: object) -> Gateway:
        if keys_file:
            path = tmp_path / "keys.json"
            path.write_text(json.dumps({ALICE: "alice", BOB: "bob"}))
            path.chmod(0o600)  # the gateway refuses a key file every user can read
            gateway["api_keys_file"] = str(path)
        settings = Settings(
            redis=RedisSettings(url=redis_url, stream_ttl_seconds=600),
            gateway=replace(GatewaySettings(host="127.0.0.1", port=0, queue_timeout_seconds=10.0), **gateway),
            metrics=MetricsSettings(gateway_port=free_port() if metrics else 0),
        )
        started.append(Gateway(settings, deps))
        return started[-1]

    yield start
    for gateway in started:
        gateway.stop()


@pytest.fixture
def r(redis_url) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def auth(key: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {key}"),)


def queued_messages(r: redis.Redis) -> list[dict]:
    """The Celery messages on the interactive queue, decoded from kombu's JSON envelope."""
    out = []
    for raw in r.lrange(INTERACTIVE_QUEUE, 0, -1):
        envelope = json.loads(raw)
        assert envelope["content-type"] == "application/json"
        assert envelope["properties"]["body_encoding"] == "base64"
        args, kwargs, _embed = json.loads(base64.b64decode(envelope["body"]))
        out.append({"task": envelope["headers"]["task"], "id": envelope["headers"]["id"], "args": args,
                    "kwargs": kwargs})
    return out


def put_chunk(r: redis.Redis, job_id: str, seq: int, *, final: bool = False, **fields: object) -> None:
    """What a worker does per chunk (docs/protocol.md §2.5)."""
    chunk = pb.LatentChunk(job_id=job_id, seq=seq, epoch=1, tokens=[] if final else [seq % 1024, 7], final=final,
                           status=pb.JOB_STATUS_DONE if final else pb.JOB_STATUS_RUNNING, **fields)
    r.xadd(keys.job_stream_key(job_id), {CHUNK_FIELD: chunk.SerializeToString()}, maxlen=10000, approximate=True)
    r.expire(keys.job_stream_key(job_id), 600)


def put_job(r: redis.Redis, job_id: str, tenant: str = "local", status: str = "running") -> None:
    """A job hash as the gateway writes it (for Resume/Cancel tests that need no Synthesize)."""
    r.hset(keys.job_key(job_id), mapping={"tenant": tenant, "status": status, "epoch": 1})
    r.expire(keys.job_key(job_id), 600)


def wait_for(predicate: Callable[[], object], what: str, timeout: float = WAIT_S) -> object:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)
    return value


def job_id_of(call: grpc.Call) -> str:
    return dict(call.initial_metadata())["relaytts-job-id"]


def metric(text: str, line_start: str) -> float:
    for line in text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{line_start} not in /metrics")


# --- Synthesize: enqueue and relay ---------------------------------------------------------------


def test_synthesize_enqueues_a_json_job_and_relays_every_chunk_in_order(start_gateway, r):
    gw = start_gateway(metrics=True)
    request = pb.SynthesizeRequest(text="Hello there.", language="en", voice="default", noise_scale=0.3,
                                   sampling=pb.SamplingParams(top_k=5, temperature=0.8, seed=42),
                                   cached_voice_hashes=["abc"])
    call = gw.synthesis.Synthesize(request, timeout=WAIT_S)
    job_id = job_id_of(call)

    [message] = queued_messages(r)
    assert message["task"] == SYNTHESIZE_TASK and message["id"] == job_id and message["kwargs"] == {}
    job = SynthesisJob.from_json(message["args"][0])
    assert job == SynthesisJob(job_id=job_id, tenant="local", text="Hello there.", language="en", voice="default",
                               sampling={"top_k": 5, "temperature": pytest.approx(0.8)}, noise_scale=pytest.approx(0.3),
                               seed=42, cached_voice_hashes=["abc"], enqueued_at=job.enqueued_at)
    fields = {k.decode(): v.decode() for k, v in r.hgetall(keys.job_key(job_id)).items()}
    assert fields["tenant"] == "local" and fields["status"] == "queued" and fields["epoch"] == "0"
    assert fields["voice"] == "default" and fields["language"] == "en"
    assert float(fields["enqueued_at"]) == pytest.approx(job.enqueued_at) and float(fields["created_at"]) > 0
    assert 0 < r.ttl(keys.job_key(job_id)) <= 600

    total = 600  # more than one XRANGE page, written while the client is attached and reading

    received: list[pb.LatentChunk] = []

    def worker() -> None:
        for seq in range(1, total):
            put_chunk(r, job_id, seq, segment_index=seq // 100)
            if seq % 150 == 0:  # the client has everything so far: the relay is tailing (XREAD) now
                wait_for(lambda seq=seq: len(received) >= seq, f"chunk {seq} at the client")
        put_chunk(r, job_id, total, final=True)

    writer = threading.Thread(target=worker)
    writer.start()
    received.extend(call)
    writer.join()
    assert [c.seq for c in received] == list(range(1, total + 1))
    assert received[-1].final and all(c.job_id == job_id for c in received)
    assert received[10].tokens == [11, 7]

    text = urllib.request.urlopen(f"http://127.0.0.1:{gw.settings.metrics.gateway_port}/metrics").read().decode()
    assert metric(text, "relaytts_time_to_first_chunk_seconds_count") == 1
    assert metric(text, 'relaytts_stage_seconds_count{stage="relay"}') == total
    assert metric(text, "relaytts_jobs_submitted_total") == 1
    assert metric(text, "relaytts_active_streams") == 0


def test_resume_replays_then_tails_with_exactly_seq_after(start_gateway, r):
    gw = start_gateway()
    job_id = "a" * 32
    put_job(r, job_id)
    for seq in range(1, 301):  # before the client attaches (more than one XRANGE page)
        put_chunk(r, job_id, seq)
    call = gw.synthesis.Resume(pb.ResumeRequest(job_id=job_id, after_seq=120), timeout=WAIT_S)
    got = [next(call).seq for _ in range(180)]  # 121..300 replayed
    assert got == list(range(121, 301))
    for seq in range(301, 351):  # after it attached: tailed
        put_chunk(r, job_id, seq)
    put_chunk(r, job_id, 351, final=True)
    got += [c.seq for c in call]
    assert got == list(range(121, 352))

    # The whole job again from the start, and a resume past the end still ends at the final chunk.
    assert [c.seq for c in gw.synthesis.Resume(pb.ResumeRequest(job_id=job_id), timeout=WAIT_S)] == \
        list(range(1, 352))
    assert [c.seq for c in gw.synthesis.Resume(pb.ResumeRequest(job_id=job_id, after_seq=999), timeout=WAIT_S)] == []


# --- validation and admission --------------------------------------------------------------------


@pytest.mark.parametrize(("request_fields", "code", "words"), [
    ({"text": "   "}, grpc.StatusCode.INVALID_ARGUMENT, ["`text`", "non-empty"]),
    ({"text": "x" * 101}, grpc.StatusCode.INVALID_ARGUMENT, ["`text`", "at most 100", "given 101"]),
    ({"language": "fr"}, grpc.StatusCode.INVALID_ARGUMENT, ["`language`", "auto, zh, en, ja", "'fr'"]),
    ({"voice": "alice"}, grpc.StatusCode.NOT_FOUND, ["`voice`", "'alice'"]),
    ({"sampling": pb.SamplingParams(top_k=0)}, grpc.StatusCode.INVALID_ARGUMENT, ["`top_k`", "[1, 1025]", "0"]),
    ({"sampling": pb.SamplingParams(temperature=9)}, grpc.StatusCode.INVALID_ARGUMENT, ["`temperature`", "9"]),
    ({"noise_scale": -1}, grpc.StatusCode.INVALID_ARGUMENT, ["`noise_scale`", "-1"]),
    ({"bundle_id": "0123456789abcdef"}, grpc.StatusCode.FAILED_PRECONDITION, ["`bundle_id`", "0123456789abcdef"]),
])
def test_invalid_requests_fail_before_anything_is_written(start_gateway, r, fixture_bundle, request_fields, code,
                                                          words):
    gw = start_gateway(max_text_chars=100, bundle=str(fixture_bundle.root))
    request = pb.SynthesizeRequest(**({"text": "hello"} | request_fields))
    with pytest.raises(grpc.RpcError) as caught:
        list(gw.synthesis.Synthesize(request, timeout=WAIT_S))
    assert caught.value.code() == code, caught.value.details()
    for word in words:
        assert word in caught.value.details()
    assert r.dbsize() == 0  # no job hash, no Celery message


def test_matching_bundle_ids_are_accepted(start_gateway, r, fixture_bundle):
    gw = start_gateway(bundle=str(fixture_bundle.root))
    info = gw.models.GetModelInfo(pb.GetModelInfoRequest(), timeout=WAIT_S)
    edge_id = Manifest.from_json(info.edge_manifest.decode()).bundle_id
    assert info.bundle_id == fixture_bundle.manifest.bundle_id != edge_id
    for bundle_id in (info.bundle_id, edge_id):
        call = gw.synthesis.Synthesize(pb.SynthesizeRequest(text="hi", bundle_id=bundle_id), timeout=WAIT_S)
        job_id_of(call)
        call.cancel()
    wait_for(lambda: r.llen(INTERACTIVE_QUEUE) == 2, "two enqueued jobs")


def test_past_max_active_streams_is_resource_exhausted_at_once(start_gateway, r):
    gw = start_gateway(max_active_streams=1)
    first = gw.synthesis.Synthesize(pb.SynthesizeRequest(text="one"), timeout=WAIT_S)
    job_id = job_id_of(first)  # its stream is open, waiting for chunks
    with pytest.raises(grpc.RpcError) as caught:
        list(gw.synthesis.Synthesize(pb.SynthesizeRequest(text="two"), timeout=WAIT_S))
    # RESOURCE_EXHAUSTED, not DEADLINE_EXCEEDED: the call was refused, it did not wait for a slot
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "`max_active_streams` is 1" in caught.value.details()
    assert r.llen(INTERACTIVE_QUEUE) == 1
    put_chunk(r, job_id, 1, final=True)  # the first one ends, its slot frees
    assert [c.seq for c in first] == [1]
    call = gw.synthesis.Synthesize(pb.SynthesizeRequest(text="three"), timeout=WAIT_S)
    put_chunk(r, job_id_of(call), 1, final=True)
    assert [c.seq for c in call] == [1]


def test_no_chunk_within_the_queue_timeout_is_unavailable(start_gateway, r):
    gw = start_gateway(queue_timeout_seconds=0.3)
    with pytest.raises(grpc.RpcError) as caught:
        list(gw.synthesis.Synthesize(pb.SynthesizeRequest(text="nobody listens"), timeout=WAIT_S))
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE  # the queue timeout, well before the deadline
    assert "`queue_timeout_seconds` = 0.3" in caught.value.details()
    assert r.llen(INTERACTIVE_QUEUE) == 1  # the job stays queued: a later Resume can still get it


def test_an_unreachable_broker_is_unavailable_and_the_job_is_marked_failed(start_gateway, r):
    dead = f"redis://127.0.0.1:{free_port()}/0"

    def deps(settings: Settings) -> GatewayDeps:
        real = GatewayDeps.from_settings(settings)
        real.enqueuer.close()
        return replace(real, enqueuer=CeleryEnqueuer.from_url(dead))

    gw = start_gateway(deps=deps)
    with pytest.raises(grpc.RpcError) as caught:
        list(gw.synthesis.Synthesize(pb.SynthesizeRequest(text="hi"), timeout=WAIT_S))
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "could not enqueue the job" in caught.value.details()
    [key] = r.keys(keys.job_key("*"))
    assert r.hget(key, "status") == b"failed"


# --- auth and tenants ----------------------------------------------------------------------------


def test_missing_or_unknown_keys_are_unauthenticated_and_health_and_reflection_are_open(start_gateway, r):
    gw = start_gateway(keys_file=True)
    for metadata in ((), auth("nope"), (("authorization", ALICE),)):
        for rpc in (lambda m: list(gw.synthesis.Synthesize(pb.SynthesizeRequest(text="hi"), metadata=m, timeout=5)),
                    lambda m: gw.models.GetModelInfo(pb.GetModelInfoRequest(), metadata=m, timeout=5)):
            with pytest.raises(grpc.RpcError) as caught:
                rpc(metadata)
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED, caught.value.details()
    assert r.dbsize() == 0
    health = health_pb2_grpc.HealthStub(gw.channel)
    assert health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == health_pb2.HealthCheckResponse.SERVING
    reflection = reflection_pb2_grpc.ServerReflectionStub(gw.channel)
    [reply] = reflection.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                                              timeout=5)
    services = {s.name for s in reply.list_services_response.service}
    assert {"relaytts.v1.Synthesis", "relaytts.v1.Models", "grpc.health.v1.Health"} <= services


def test_another_tenants_job_is_not_found_like_a_missing_one(start_gateway, r):
    gw = start_gateway(keys_file=True)
    call = gw.synthesis.Synthesize(pb.SynthesizeRequest(text="mine"), metadata=auth(ALICE), timeout=WAIT_S)
    job_id = job_id_of(call)
    assert queued_messages(r)[0]["args"][0].count('"tenant": "alice"') == 1
    missing = "f" * 32
    details = {}
    for name, job in (("theirs", job_id), ("missing", missing)):
        for rpc in ("Resume", "Cancel"):
            with pytest.raises(grpc.RpcError) as caught:
                if rpc == "Resume":
                    list(gw.synthesis.Resume(pb.ResumeRequest(job_id=job), metadata=auth(BOB), timeout=5))
                else:
                    gw.synthesis.Cancel(pb.CancelRequest(job_id=job), metadata=auth(BOB), timeout=5)
            assert caught.value.code() == grpc.StatusCode.NOT_FOUND
            details[name, rpc] = caught.value.details().replace(job, "<id>")
    assert details["theirs", "Resume"] == details["missing", "Resume"] == details["missing", "Cancel"] \
        == details["theirs", "Cancel"]
    assert not r.exists(keys.job_cancel_key(job_id))
    # The owner can.
    assert gw.synthesis.Cancel(pb.CancelRequest(job_id=job_id), metadata=auth(ALICE), timeout=5).cancelled
    call.cancel()


# --- cancellation --------------------------------------------------------------------------------


def test_a_client_that_leaves_is_cancelled_after_the_resume_grace(start_gateway, r):
    gw = start_gateway(metrics=True, resume_grace_seconds=0.5)
    call = gw.synthesis.Synthesize(pb.SynthesizeRequest(text="long story"), timeout=WAIT_S)
    job_id = job_id_of(call)
    put_chunk(r, job_id, 1)
    assert next(call).seq == 1
    assert not r.exists(keys.job_cancel_key(job_id))
    left = time.monotonic()
    call.cancel()
    wait_for(lambda: r.get(keys.job_cancel_key(job_id)) == b"1", "the cancel key")
    assert time.monotonic() - left >= 0.5  # the job waited for a Resume first
    assert 0 < r.ttl(keys.job_cancel_key(job_id)) <= 600
    url = f"http://127.0.0.1:{gw.settings.metrics.gateway_port}/metrics"
    wait_for(lambda: "relaytts_active_streams 0.0" in urllib.request.urlopen(url).read().decode(), "gauge back to 0")
    assert metric(urllib.request.urlopen(url).read().decode(), "relaytts_stream_cancellations_total") == 1


def test_a_resume_within_the_grace_keeps_the_job_alive(start_gateway, r):
    gw = start_gateway(resume_grace_seconds=1.0)
    call = gw.synthesis.Synthesize(pb.SynthesizeRequest(text="dropped connection"), timeout=WAIT_S)
    job_id = job_id_of(call)
    put_chunk(r, job_id, 1)
    assert next(call).seq == 1
    call.cancel()  # the connection drops
    resumed = gw.synthesis.Resume(pb.ResumeRequest(job_id=job_id, after_seq=1), timeout=WAIT_S)
    put_chunk(r, job_id, 2)
    assert next(resumed).seq == 2
    # the cut stream's grace decision has been taken (its background task ended): no cancel
    wait_for(gw.idle, "the grace decision", WAIT_S)
    assert not r.exists(keys.job_cancel_key(job_id))
    resumed.cancel()


def test_cancel_rpc_sets_the_key_unless_the_job_has_finished(start_gateway, r):
    gw = start_gateway()
    running, done = "b" * 32, "c" * 32
    put_job(r, running, status="queued")
    put_job(r, done, status="done")
    assert gw.synthesis.Cancel(pb.CancelRequest(job_id=running), timeout=5).cancelled is True
    assert r.get(keys.job_cancel_key(running)) == b"1"
    assert gw.synthesis.Cancel(pb.CancelRequest(job_id=done), timeout=5).cancelled is False
    assert not r.exists(keys.job_cancel_key(done))
    with pytest.raises(grpc.RpcError) as caught:
        gw.synthesis.Cancel(pb.CancelRequest(job_id="../x"), timeout=5)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "`job_id`" in caught.value.details()


def test_a_gateway_shutting_down_does_not_cancel_the_jobs_it_relays(start_gateway, r):
    gw = start_gateway()
    call = gw.synthesis.Synthesize(pb.SynthesizeRequest(text="survive a restart"), timeout=WAIT_S)
    job_id = job_id_of(call)
    put_chunk(r, job_id, 1)
    assert next(call).seq == 1
    gw.stop()  # grace 0: the stream is cut; stop returns once the gateway's background writes ended
    with pytest.raises(grpc.RpcError):
        next(call)
    assert not r.exists(keys.job_cancel_key(job_id))


# --- models --------------------------------------------------------------------------------------


def fetch(gw: Gateway, path: str) -> bytes:
    pieces = list(gw.models.FetchModelFile(pb.FetchModelFileRequest(path=path), timeout=WAIT_S))
    assert [p.offset for p in pieces] == [sum(len(q.data) for q in pieces[:i]) for i in range(len(pieces))]
    return b"".join(p.data for p in pieces)


def test_model_info_and_files_round_trip_the_edge_subset(start_gateway, fixture_bundle):
    gw = start_gateway(bundle=str(fixture_bundle.root))
    info = gw.models.GetModelInfo(pb.GetModelInfoRequest(), timeout=WAIT_S)
    manifest = fixture_bundle.manifest
    assert (info.model_version, info.sample_rate_hz, info.samples_per_token) == \
        (manifest.model_version, manifest.sample_rate, manifest.samples_per_token)
    files = {f.path: f for f in info.edge_files}
    vocoders = [f.path for f in manifest.files if f.side == "edge"]
    assert sorted(files) == sorted(["manifest.json", *vocoders])
    edge_manifest = Manifest.from_json(info.edge_manifest.decode())
    assert [f.path for f in edge_manifest.files] == vocoders
    assert fetch(gw, "manifest.json") == info.edge_manifest
    assert hashlib.sha256(info.edge_manifest).hexdigest() == files["manifest.json"].sha256
    for path in vocoders:
        data = fetch(gw, path)
        assert len(data) == files[path].size_bytes > 1 << 20  # several pieces
        assert hashlib.sha256(data).hexdigest() == files[path].sha256
        assert data == (fixture_bundle.root / path).read_bytes()
    for bad in ("../etc/passwd", "/etc/passwd", "t2s.onnx", "./vocoder.onnx", "", "vocoder.onnx/../t2s.onnx"):
        with pytest.raises(grpc.RpcError) as caught:
            fetch(gw, bad)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND, bad
        assert "`path` must be one of the edge files" in caught.value.details()


def test_playback_reports_feed_the_edge_histograms(start_gateway, r):
    gw = start_gateway(metrics=True)
    job_id = "d" * 32
    put_job(r, job_id)
    gw.synthesis.ReportPlayback(pb.PlaybackReport(job_id=job_id, time_to_first_audio_seconds=0.42,
                                                  real_time_factor=0.3, underruns=2, audio_seconds=3.0), timeout=5)
    with pytest.raises(grpc.RpcError) as caught:
        gw.synthesis.ReportPlayback(pb.PlaybackReport(job_id=job_id, real_time_factor=float("nan")), timeout=5)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    text = urllib.request.urlopen(f"http://127.0.0.1:{gw.settings.metrics.gateway_port}/metrics").read().decode()
    assert metric(text, "relaytts_edge_time_to_first_audio_seconds_sum") == pytest.approx(0.42)
    assert metric(text, "relaytts_edge_rtf_count") == 1
    assert metric(text, "relaytts_edge_underruns_total") == 2
    assert metric(text, 'relaytts_errors_total{reason="invalid_argument"}') == 1
