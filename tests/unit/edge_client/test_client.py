"""The edge client against an in-process gRPC gateway over real loopback.

The test gateway serves canned latent chunks and the edge files of the fixture bundle (a real exported
bundle), so the client fetches and verifies a real vocoder and decodes real audio.
"""

from __future__ import annotations

import asyncio
import time
from concurrent import futures
from dataclasses import replace

import grpc
import numpy as np
import pytest
import soundfile
from click.testing import CliRunner

from edge_client import AsyncClient, Client, DeadlineExceeded, Unauthenticated, Unavailable
from edge_client.cli import say_command
from edge_client.client import JOB_ID_METADATA, map_rpc_error, sampling_to_pb
from edge_client.sinks import RawPcmSink, WavSink
from edge_client.vocoder import AudioChunk, Vocoder
from protos import relaytts_v1_pb2 as pb
from protos import relaytts_v1_pb2_grpc as pb_grpc
from relaytts.errors import (
    BundleMismatch,
    InvalidArgument,
    JobCancelled,
    NotFound,
    Overloaded,
    RelayError,
    VoiceNotFound,
)
from relaytts.local import SEGMENT_GAP_SECONDS
from relaytts.sampling import SamplingParams
from tests.unit.edge_client.test_stitch import make_job, segments_of

JOB = "0123456789abcdef0123456789abcdef"
SEED = 1234
NOISE_SCALE = 0.5
SEGMENTS = segments_of([40, 33])  # chunks of 8+25+7 and 8+25 tokens


class FakeGateway(pb_grpc.SynthesisServicer, pb_grpc.ModelsServicer):
    """Relays one canned job and serves the fixture bundle's edge files; records every call."""

    def __init__(self, bundle, ge: np.ndarray) -> None:
        self.bundle = bundle
        self.ge = ge
        edge = [f for f in bundle.manifest.files if f.side == "edge"]
        self.edge_files = edge
        self.manifest_bytes = replace(bundle.manifest, files=edge).to_json().encode()
        self.reset()

    def reset(self) -> None:
        self.chunks = make_job(SEGMENTS, job_id=JOB, seed=SEED, noise_scale=NOISE_SCALE, ge=self.ge, voice_hash="vh")
        self.breaks: list[int | None] = []
        """Stream n (Synthesize, then each Resume) aborts UNAVAILABLE after breaks[n] chunks."""
        self.stall: tuple[int, float] | None = None
        """The first stream goes quiet for that many seconds after that many chunks."""
        self.abort: tuple[grpc.StatusCode, str] | None = None
        self.send_job_id = True
        """Name the job in Synthesize's initial metadata before the first chunk (as the gateway does)."""
        self.list_manifest = False
        self.tamper: str | None = None
        self.streams = 0
        self.requests: list[pb.SynthesizeRequest] = []
        self.resumes: list[tuple[str, int]] = []
        self.fetches: list[str] = []
        self.reports: list[pb.PlaybackReport] = []
        self.cancels: list[str] = []
        self.metadata: list[dict] = []

    def info(self) -> pb.ModelInfo:
        files = [pb.ModelFile(path=f.path, role=f.role.value, precision=f.precision.value, sha256=f.sha256,
                              size_bytes=f.size_bytes) for f in self.edge_files]
        if self.list_manifest:
            import hashlib

            files.append(pb.ModelFile(path="manifest.json", role="manifest", sha256=hashlib.sha256(
                self.manifest_bytes).hexdigest(), size_bytes=len(self.manifest_bytes)))
        m = self.bundle.manifest
        return pb.ModelInfo(bundle_id=m.bundle_id, model_version=m.model_version, sample_rate_hz=m.sample_rate,
                            samples_per_token=m.samples_per_token, edge_files=files, edge_manifest=self.manifest_bytes)

    def GetModelInfo(self, request, context):
        self.metadata.append(dict(context.invocation_metadata()))
        return self.info()

    def FetchModelFile(self, request, context):
        self.fetches.append(request.path)
        data = (self.manifest_bytes if request.path == "manifest.json"
                else (self.bundle.root / request.path).read_bytes())
        if request.path == self.tamper:
            data = bytearray(data)
            data[len(data) // 2] ^= 0xFF
            data = bytes(data)
        piece = 1 << 20
        for offset in range(0, len(data), piece):
            yield pb.FileChunk(data=data[offset : offset + piece], offset=offset, total_size_bytes=len(data))

    def _relay(self, chunks, context):
        n, self.streams = self.streams, self.streams + 1
        limit = self.breaks[n] if n < len(self.breaks) else None
        for i, c in enumerate(chunks):
            if limit is not None and i == limit:
                context.abort(grpc.StatusCode.UNAVAILABLE, "Connection reset by peer")
            if n == 0 and self.stall is not None and i == self.stall[0]:
                time.sleep(self.stall[1])
                if not context.is_active():
                    return
            yield c

    def Synthesize(self, request, context):
        self.requests.append(request)
        self.metadata.append(dict(context.invocation_metadata()))
        if self.abort is not None:
            context.abort(*self.abort)
        if self.send_job_id:
            context.send_initial_metadata(((JOB_ID_METADATA, JOB),))
        chunks = []
        for c in self.chunks:  # what a worker writes: no ge for a hash the edge said it holds
            if c.voice_hash in request.cached_voice_hashes and c.ge:
                c = pb.LatentChunk.FromString(c.SerializeToString())
                c.ClearField("ge")
            chunks.append(c)
        yield from self._relay(chunks, context)

    def Resume(self, request, context):
        self.resumes.append((request.job_id, request.after_seq))
        if request.job_id != JOB:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no job {request.job_id}")
        yield from self._relay([c for c in self.chunks if c.seq > request.after_seq], context)

    def Cancel(self, request, context):
        self.cancels.append(request.job_id)
        return pb.CancelResponse(cancelled=True)

    def ReportPlayback(self, request, context):
        self.reports.append(request)
        return pb.PlaybackAck()


@pytest.fixture(scope="module")
def style(fixture_bundle):
    rng = np.random.default_rng(5)
    return (rng.standard_normal(fixture_bundle.manifest.sovits["gin_channels"]) * 0.5).astype(np.float32)


@pytest.fixture(scope="module")
def server(fixture_bundle, style):
    fake = FakeGateway(fixture_bundle, style)
    srv = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    pb_grpc.add_SynthesisServicer_to_server(fake, srv)
    pb_grpc.add_ModelsServicer_to_server(fake, srv)
    port = srv.add_insecure_port("127.0.0.1:0")
    srv.start()
    yield fake, f"127.0.0.1:{port}"
    srv.stop(grace=None)


@pytest.fixture
def gateway(server):
    fake, address = server
    fake.reset()
    return fake


@pytest.fixture
def address(server):
    return server[1]


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory, server):
    """A cache directory already holding the fixture vocoder (so most tests skip the download)."""
    root = tmp_path_factory.mktemp("edge-cache")
    with Client(server[1], cache_dir=root) as client:
        client.ensure_vocoder()
    return root


@pytest.fixture
def client(address, warm_cache, gateway):
    with Client(address, api_key="k3y", cache_dir=warm_cache, retry_backoff=0.01) as c:
        yield c


@pytest.fixture(scope="module")
def expected(fixture_bundle, style):
    """The job's audio decoded straight from its tokens with the parameters the worker sent."""
    vocoder = Vocoder.load(fixture_bundle)
    gap = np.zeros(int(round(SEGMENT_GAP_SECONDS * vocoder.sample_rate)), np.float32)
    parts = []
    for index, (tokens, phones) in enumerate(SEGMENTS):
        if index:
            parts.append(gap)
        stream = vocoder.stream(np.asarray(phones), style, noise_scale=NOISE_SCALE, seed=SEED + index)
        for start, end in ((0, 8), (8, 33), (33, len(tokens))):
            parts.append(stream.push(np.asarray(tokens[start:end])))
        parts.append(stream.finish())
    return np.concatenate(parts)


def speak(client, **kwargs) -> np.ndarray:
    return np.concatenate([c.samples for c in client.synthesize("Hello there.", **kwargs)])


# --- models: fetch, verify, cache -------------------------------------------------------------------------------


def test_model_info_describes_the_served_bundle(client, gateway, fixture_bundle):
    info = client.model_info()
    assert info.bundle_id == fixture_bundle.manifest.bundle_id
    assert info.sample_rate_hz == 32000 and info.samples_per_token == 1280
    assert [f.path for f in info.edge_files] == ["vocoder.onnx", "vocoder.int8.onnx"]
    assert gateway.metadata[-1]["authorization"] == "Bearer k3y"


@pytest.mark.parametrize("list_manifest", [False, True], ids=["manifest-inline", "manifest-listed"])
def test_ensure_vocoder_fetches_verifies_and_caches_the_edge_files(address, gateway, tmp_path, fixture_bundle,
                                                                   list_manifest):
    gateway.list_manifest = list_manifest
    with Client(address, cache_dir=tmp_path) as client:
        vocoder = client.ensure_vocoder()
        assert vocoder.sample_rate == 32000
        assert client.ensure_vocoder() is vocoder  # same client: loaded once
    edge = ["vocoder.int8.onnx", "vocoder.onnx"]  # every variant comes along: --precision picks one later
    assert sorted(gateway.fetches) == sorted(edge + (["manifest.json"] if list_manifest else []))
    bundle_id = fixture_bundle.manifest.bundle_id
    assert sorted(p.name for p in tmp_path.iterdir()) == [bundle_id]  # no staging leftovers
    assert sorted(p.name for p in (tmp_path / bundle_id).iterdir()) == ["manifest.json", *edge]


def test_a_second_client_uses_the_cache_without_fetching(address, gateway, warm_cache):
    with Client(address, cache_dir=warm_cache) as client:
        client.ensure_vocoder()
    assert gateway.fetches == []


def test_a_tampered_edge_file_is_refused_and_nothing_is_cached(address, gateway, tmp_path):
    gateway.tamper = "vocoder.onnx"
    with Client(address, cache_dir=tmp_path) as client, pytest.raises(BundleMismatch, match="sha256"):
        client.ensure_vocoder()
    assert list(tmp_path.iterdir()) == []


def test_a_damaged_cache_entry_is_fetched_again(address, gateway, tmp_path, fixture_bundle):
    with Client(address, cache_dir=tmp_path) as client:
        client.ensure_vocoder()
    cached = tmp_path / fixture_bundle.manifest.bundle_id / "vocoder.onnx"
    data = bytearray(cached.read_bytes())
    data[100] ^= 0xFF
    cached.write_bytes(bytes(data))
    gateway.fetches.clear()
    with Client(address, cache_dir=tmp_path) as client:
        client.ensure_vocoder()
    assert gateway.fetches == ["vocoder.onnx", "vocoder.int8.onnx"]  # the whole edge set again


# --- synthesis ----------------------------------------------------------------------------------------------------


def test_synthesize_plays_what_the_chunks_say_and_reports_playback(client, gateway, expected, fixture_bundle):
    chunks = list(client.synthesize("Hello there.", voice="default", language="en", seed=SEED, noise_scale=0.5))
    assert all(isinstance(c, AudioChunk) and c.sample_rate == 32000 for c in chunks)
    audio = np.concatenate([c.samples for c in chunks])
    np.testing.assert_allclose(audio, expected, atol=1e-5)
    request = gateway.requests[-1]
    assert (request.text, request.voice, request.language) == ("Hello there.", "default", "en")
    assert request.sampling.seed == SEED and request.noise_scale == 0.5
    assert request.bundle_id == fixture_bundle.manifest.bundle_id
    assert list(request.cached_voice_hashes) == []
    assert gateway.metadata[-1]["authorization"] == "Bearer k3y"
    assert client.last_job_id == JOB
    (report,) = gateway.reports
    assert report.job_id == JOB and report.underruns == 0
    assert report.audio_seconds == pytest.approx(len(expected) / 32000)
    assert 0 < report.time_to_first_audio_seconds < 30 and report.real_time_factor > 0
    assert client.last_playback.audio_seconds == pytest.approx(report.audio_seconds)


@pytest.mark.parametrize("k", [1, 2, 4])
def test_a_dropped_stream_is_resumed_and_sounds_unbroken(client, gateway, expected, k):
    gateway.breaks = [k]
    audio = speak(client)
    assert gateway.resumes == [(JOB, k)]  # after_seq = the last seq the client holds
    np.testing.assert_allclose(audio, expected, atol=1e-5)
    assert len(gateway.requests) == 1


def test_several_drops_in_a_row_are_resumed(client, gateway, expected):
    gateway.breaks = [3, 0, 1, 0]
    np.testing.assert_allclose(speak(client), expected, atol=1e-5)
    assert gateway.resumes == [(JOB, 3), (JOB, 3), (JOB, 4), (JOB, 4)]


def test_resuming_gives_up_after_max_retries(address, warm_cache, gateway):
    gateway.breaks = [2] + [0] * 10
    with Client(address, cache_dir=warm_cache, max_retries=2, retry_backoff=0.01) as client:
        with pytest.raises(Unavailable, match="gave up after 2 resume attempts"):
            speak(client)
    assert gateway.resumes == [(JOB, 2), (JOB, 2)]


@pytest.mark.parametrize("quiet_after", [0, 2])
def test_a_stalled_stream_is_resumed(address, warm_cache, gateway, expected, quiet_after):
    gateway.stall = (quiet_after, 1.5)
    with Client(address, cache_dir=warm_cache, timeout=0.5, retry_backoff=0.01) as client:
        audio = speak(client)
    assert gateway.resumes == [(JOB, quiet_after)]
    np.testing.assert_allclose(audio, expected, atol=1e-5)


def test_a_drop_before_the_first_chunk_resumes_the_job_named_in_the_metadata(client, gateway, expected):
    gateway.breaks = [0]
    np.testing.assert_allclose(speak(client), expected, atol=1e-5)
    assert len(gateway.requests) == 1 and gateway.resumes == [(JOB, 0)]


def test_a_drop_before_the_job_is_known_is_resent_with_the_same_idempotency_key(client, gateway, expected):
    gateway.send_job_id = False
    gateway.breaks = [0]
    np.testing.assert_allclose(speak(client), expected, atol=1e-5)
    first, again = gateway.requests
    assert first.request_id and again.request_id == first.request_id and gateway.resumes == []


def test_a_drop_is_given_up_once_the_resume_budget_is_spent(address, warm_cache, gateway):
    gateway.breaks = [2] + [0] * 1000
    with Client(address, cache_dir=warm_cache, retry_backoff=0.05, resume_budget=0.5) as client:
        with pytest.raises(Unavailable, match=r"gave up after \d+ resume attempts over \d+ s \(`resume_budget` 0.5"):
            speak(client)
    assert 5 <= len(gateway.resumes) < 20  # at least MIN_RESUME_ATTEMPTS, then the budget decides


@pytest.mark.parametrize("crash_after", [2, 3, 5])
def test_a_worker_crash_mid_job_sounds_unbroken(client, gateway, expected, crash_after):
    first = gateway.chunks[:crash_after]
    done = max((c.segment_index for c in first if c.segment_final), default=-1)
    redo = make_job(SEGMENTS, job_id=JOB, seed=SEED, noise_scale=NOISE_SCALE, ge=gateway.ge, voice_hash="vh",
                    epoch=2, first_seq=crash_after + 1, first_segment=done + 1)
    gateway.chunks = first + redo
    gateway.breaks = [crash_after + 1]  # and the connection drops right after the new epoch began
    np.testing.assert_allclose(speak(client), expected, atol=1e-5)


def test_the_style_vector_is_sent_once_per_client(client, gateway, expected):
    speak(client)
    audio = speak(client)
    assert [list(r.cached_voice_hashes) for r in gateway.requests] == [[], ["vh"]]
    np.testing.assert_allclose(audio, expected, atol=1e-5)


@pytest.mark.parametrize(("code", "kind"), [
    (grpc.StatusCode.INVALID_ARGUMENT, InvalidArgument),
    (grpc.StatusCode.NOT_FOUND, VoiceNotFound),
    (grpc.StatusCode.UNAUTHENTICATED, Unauthenticated),
    (grpc.StatusCode.RESOURCE_EXHAUSTED, Overloaded),
    (grpc.StatusCode.FAILED_PRECONDITION, BundleMismatch),
])
def test_gateway_errors_become_relay_errors(client, gateway, code, kind):
    gateway.abort = (code, "`text` must be at most 5000 characters; given 7312")
    with pytest.raises(kind, match="given 7312") as info:
        speak(client)
    assert info.value.code == code.name


def test_error_mapping_without_a_server():
    class Fake(grpc.RpcError):
        def __init__(self, code, details):
            self._code, self._details = code, details

        def code(self):
            return self._code

        def details(self):
            return self._details

    assert type(map_rpc_error(Fake(grpc.StatusCode.NOT_FOUND, "x"), "Resume")) is NotFound
    assert type(map_rpc_error(Fake(grpc.StatusCode.INTERNAL, "Received RST_STREAM with error code 2"))) is Unavailable
    assert type(map_rpc_error(Fake(grpc.StatusCode.DEADLINE_EXCEEDED, "late"))) is DeadlineExceeded
    assert type(map_rpc_error(Fake(grpc.StatusCode.CANCELLED, "x"))) is JobCancelled
    assert type(map_rpc_error(Fake(grpc.StatusCode.DATA_LOSS, "x"))) is RelayError


def test_an_unreachable_gateway_is_one_clear_error(warm_cache):
    with Client("127.0.0.1:1", cache_dir=warm_cache, timeout=2) as client:
        with pytest.raises(Unavailable, match="127.0.0.1:1"):
            client.model_info()


def test_a_failed_job_raises_after_its_audio(client, gateway):
    gateway.chunks[-1].status = pb.JOB_STATUS_FAILED
    gateway.chunks[-1].error = "decoder out of memory"
    got = []
    with pytest.raises(RelayError, match="decoder out of memory"):
        got.extend(client.synthesize("Hello."))
    assert got and len(gateway.reports) == 1


def test_a_job_cancelled_elsewhere_raises_but_our_own_cancel_ends_quietly(client, gateway):
    gateway.chunks[-1].status = pb.JOB_STATUS_CANCELLED
    with pytest.raises(JobCancelled):
        speak(client)
    assert client.cancel(JOB) is True
    speak(client)  # cancelled by this client: the stream just ends


def test_abandoning_the_stream_cancels_the_job(client, gateway):
    stream = client.synthesize("Hello there.")
    next(stream)
    stream.close()
    assert gateway.cancels == [JOB]
    assert gateway.reports == []


def test_arguments_are_checked_before_anything_is_sent(client, gateway):
    with pytest.raises(InvalidArgument, match="top_k"):
        client.synthesize("Hi", sampling=SamplingParams(top_k=0))
    with pytest.raises(InvalidArgument, match="text"):
        client.synthesize("   ")
    with pytest.raises(InvalidArgument, match="noise_scale"):
        client.synthesize("Hi", noise_scale=-1)
    assert gateway.requests == []


def test_only_sampling_fields_that_differ_from_the_defaults_are_sent():
    msg = sampling_to_pb(SamplingParams(top_k=5, seed=7), None)
    assert msg.HasField("top_k") and msg.top_k == 5 and msg.seed == 7
    assert not msg.HasField("temperature") and not msg.HasField("max_new_tokens")
    assert sampling_to_pb(None, None) is None
    assert sampling_to_pb(None, 3).seed == 3


# --- asyncio twin -------------------------------------------------------------------------------------------------


def test_the_async_client_fetches_resumes_and_sounds_the_same(address, gateway, tmp_path, expected):
    gateway.breaks = [3]

    async def main():
        async with AsyncClient(address, api_key="k3y", cache_dir=tmp_path, retry_backoff=0.01) as client:
            await client.ensure_vocoder()
            fetched = list(gateway.fetches)
            chunks = [c async for c in client.synthesize("Hello there.", seed=SEED)]
            gateway.abort = (grpc.StatusCode.NOT_FOUND, "voice `x` not found")
            with pytest.raises(VoiceNotFound):
                [c async for c in client.synthesize("Hello there.", voice="x")]
            return fetched, chunks, client.last_job_id

    fetched, chunks, job_id = asyncio.run(main())
    assert sorted(fetched) == ["vocoder.int8.onnx", "vocoder.onnx"] and job_id == JOB
    assert gateway.resumes == [(JOB, 3)]
    np.testing.assert_allclose(np.concatenate([c.samples for c in chunks]), expected, atol=1e-5)
    assert len(gateway.reports) == 1 and gateway.metadata[-1]["authorization"] == "Bearer k3y"


def test_the_async_client_resumes_a_stall_and_cancels_when_abandoned(address, warm_cache, gateway, expected):
    gateway.stall = (0, 1.5)  # quiet before the first chunk: the job id comes from the initial metadata

    async def main():
        async with AsyncClient(address, cache_dir=warm_cache, timeout=0.5, retry_backoff=0.01) as client:
            audio = np.concatenate([c.samples async for c in client.synthesize("Hello there.")])
            stream = client.synthesize("Hello there.")
            await anext(stream)
            await stream.aclose()
            return audio

    np.testing.assert_allclose(asyncio.run(main()), expected, atol=1e-5)
    assert gateway.resumes == [(JOB, 0)] and gateway.cancels == [JOB]


# --- sinks and the command line -----------------------------------------------------------------------------------


def test_the_wav_sink_writes_on_close_and_leaves_nothing_on_abort(tmp_path):
    chunk = AudioChunk(np.linspace(-1, 1, 320, dtype=np.float32))
    with WavSink(tmp_path / "a.wav") as sink:
        sink.write(chunk)
        sink.write(chunk)
    data, rate = soundfile.read(tmp_path / "a.wav", dtype="int16")
    assert rate == 32000 and np.array_equal(data, np.frombuffer(chunk.pcm16 * 2, "<i2"))
    with pytest.raises(RuntimeError), WavSink(tmp_path / "b.wav") as sink:
        sink.write(chunk)
        raise RuntimeError("synthesis failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav"]


def test_the_raw_sink_writes_pcm16(tmp_path):
    import io

    buffer = io.BytesIO()
    chunk = AudioChunk(np.array([0.0, 0.5, -1.0], np.float32))
    RawPcmSink(buffer).write(chunk)
    assert buffer.getvalue() == chunk.pcm16


def test_say_writes_a_wav_file(address, warm_cache, gateway, tmp_path, expected):
    out = tmp_path / "out.wav"
    result = CliRunner().invoke(say_command, ["Hello there.", "--voice", "default", "-o", str(out), "--gateway",
                                              address, "--cache-dir", str(warm_cache), "--lang", "en", "--seed", "7"])
    assert result.exit_code == 0, result.output
    data, rate = soundfile.read(out, dtype="int16")
    assert rate == 32000 and len(data) == len(expected)
    assert "wrote" in result.stdout
    assert gateway.requests[-1].sampling.seed == 7 and gateway.requests[-1].language == "en"


def test_say_to_stdout_writes_only_pcm_there(address, warm_cache, gateway, expected):
    result = CliRunner().invoke(say_command, ["Hello there.", "-o", "-", "--cache-dir", str(warm_cache)],
                                env={"RELAYTTS_EDGE_GATEWAY": address, "RELAYTTS_EDGE_API_KEY": "envkey"})
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout_bytes) == 2 * len(expected)
    pcm = np.frombuffer(result.stdout_bytes, "<i2").astype(np.float32) / 32767
    np.testing.assert_allclose(pcm, expected, atol=2e-4)
    assert "wrote stdout" in result.stderr
    assert gateway.metadata[-1]["authorization"] == "Bearer envkey"


def test_say_prints_a_relay_error_as_one_line(address, warm_cache, gateway, tmp_path):
    gateway.abort = (grpc.StatusCode.INVALID_ARGUMENT, "`language` must be one of auto, zh, en, ja; given 'xx'")
    out = tmp_path / "out.wav"
    result = CliRunner().invoke(say_command, ["Hi", "-o", str(out), "--gateway", address, "--cache-dir",
                                              str(warm_cache)])
    assert result.exit_code == 1
    assert result.stderr == "error: `language` must be one of auto, zh, en, ja; given 'xx'\n"
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_say_precision_picks_the_edge_vocoder_variant(address, warm_cache, gateway, expected):
    """--precision int8 decodes with the bundle's int8 vocoder: same length, close to but not the fp32 audio."""
    result = CliRunner().invoke(
        say_command, ["Hello there.", "-o", "-", "--cache-dir", str(warm_cache), "--precision", "int8"],
        env={"RELAYTTS_EDGE_GATEWAY": address},
    )
    assert result.exit_code == 0, result.stderr
    pcm = np.frombuffer(result.stdout_bytes, "<i2").astype(np.float32) / 32767
    assert len(pcm) == len(expected) and not np.allclose(pcm, expected, atol=2e-4)
    snr = 10 * np.log10(np.mean(expected**2) / np.mean((pcm - expected) ** 2))
    assert snr >= 15, f"SNR {snr:.1f} dB"


def test_an_unknown_vocoder_precision_is_refused(address):
    with pytest.raises(InvalidArgument, match="`vocoder_precision` must be one of fp32, fp16, int8; given 'int4'"):
        Client(address, vocoder_precision="int4")
