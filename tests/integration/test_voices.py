"""The voice library end to end with real processes: redis-server, a Celery worker (2 processes) and the gateway,
as `relaytts up` runs them, driven through the edge client, raw gRPC and the `relaytts voices` commands."""

from __future__ import annotations

import io
import json
import os
import signal
import time
import zipfile
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
from relaytts.redis_server import free_port
from relaytts.sampling import SamplingParams
from relaytts.settings import load_settings
from relaytts.voices import new_id, voice_not_found_message
from tests.voice_support import SPEECH_TEXT, espeak_wav, speech_samples, wav_bytes

ALICE, BOB = "alice-key-0123456789", "bob-key-0123456789"
UPLOAD_LIMIT = 1_000_000
TOKENS = 12


@pytest.fixture(scope="module")
def system(voice_bundle, speech, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("voices")
    key_file = run_dir / "keys.json"
    key_file.write_text(json.dumps({ALICE: "alice", BOB: "bob"}))
    key_file.chmod(0o600)  # the gateway refuses a key file every user can read
    settings = load_settings(environ={}, overrides={
        "worker.bundle": str(voice_bundle.root), "gateway.bundle": str(voice_bundle.root),
        "gateway.port": free_port(), "gateway.api_keys_file": str(key_file), "worker.concurrency": 2,
        "gateway.max_voice_upload_bytes": UPLOAD_LIMIT, "gateway.queue_timeout_seconds": 60.0,
        "metrics.gateway_port": 0, "metrics.worker_port": 0,
    })
    with EmbeddedSystem(settings, run_dir).start() as running:
        yield running


@pytest.fixture
def store(system):
    client = redis.Redis.from_url(system.settings.redis.url)
    yield client
    client.close()


@pytest.fixture
def alice(system, tmp_path):
    with Client(system.gateway_address, api_key=ALICE, cache_dir=tmp_path / "alice") as edge:
        yield edge


@pytest.fixture
def bob(system, tmp_path):
    with Client(system.gateway_address, api_key=BOB, cache_dir=tmp_path / "bob") as edge:
        yield edge


@pytest.fixture(scope="module")
def registered(system, speech, tmp_path_factory):
    """Alice's voice from the espeak-ng recording."""
    with Client(system.gateway_address, api_key=ALICE, cache_dir=tmp_path_factory.mktemp("reg")) as edge:
        return edge.register_voice(speech, SPEECH_TEXT, language="en", name="fox")


def voice_fields(store: redis.Redis, tenant: str) -> dict[str, dict[bytes, bytes]]:
    found = {}
    for key in store.scan_iter(match=keys.voice_key(tenant, "*")):
        found[key.decode().rsplit(":", 1)[1]] = store.hgetall(key)
    return found


def pending_registrations(store: redis.Redis) -> list[bytes]:
    return [k for k in store.scan_iter(match=keys.voice_registration_key("*")) if not k.endswith(b":result")]


def job_chunks(store: redis.Redis, job_id: str) -> list[pb.LatentChunk]:
    return [pb.LatentChunk.FromString(f[CHUNK_FIELD]) for _, f in store.xrange(keys.job_stream_key(job_id))]


def speak(edge: Client, voice: str, text: str = "Hello there, in a registered voice.", seed: int = 3) -> np.ndarray:
    pieces = edge.synthesize(text, voice=voice, sampling=SamplingParams(seed=seed, max_new_tokens=TOKENS), seed=seed)
    return np.concatenate([p.samples for p in pieces])


def test_a_registered_recording_is_conditioned_exactly_like_the_pytorch_reference(
        registered, store, voice_bundle, hubert_dir, upstream_dir, speech):
    from exporter.onnx.hubert_export import load_hubert
    from exporter.sovits import load_sovits
    from exporter.voice_reference import reference_conditioning
    from workers.conditioning import decode_clip
    from workers.frontend import Frontend
    from workers.voice_store import load_voice

    info = registered
    assert info.bundle_id == voice_bundle.manifest.bundle_id and info.audio_format == "WAV"
    assert info.audio_seconds == pytest.approx(len(speech_samples(speech)[0]) / 22050, abs=1e-3)
    fields = store.hgetall(keys.voice_key("alice", info.voice_id))
    assert fields[b"audio"] == speech and fields[b"tenant"] == b"alice"  # the clip, byte for byte
    voice = load_voice(store, "alice", info.voice_id)
    clip = decode_clip(speech)
    want = reference_conditioning(load_sovits(upstream_dir / "sovits_v2.pth"), load_hubert(hubert_dir).model,
                                  clip.wav16k, clip.wav32k)
    clear = want["code_margin"] > 1e-3
    np.testing.assert_array_equal(voice.prompt_tokens[clear], want["prompt_tokens"][clear])
    assert len(voice.prompt_tokens) == len(want["prompt_tokens"]) == info.prompt_token_count
    assert np.abs(voice.ge - want["ge"]).max() <= 1e-4
    segments = Frontend().phonemize(SPEECH_TEXT, "en")
    np.testing.assert_array_equal(voice.prompt_phones, np.concatenate([s.ids for s in segments]))
    assert voice.prompt_bert.shape == (1024, info.prompt_phone_count)
    assert info.voice_hash == voice.voice_hash


def test_synthesis_uses_the_voices_prompt_and_sends_ge_once(registered, alice, store, voice_bundle):
    """The job's tokens are the in-process engine's with the stored prompt; the edge gets `ge` only once."""
    from workers.frontend import Frontend
    from workers.t2s import T2SEngine
    from workers.tasks import segment_params
    from workers.voice_store import load_voice

    text = "Hello there, in a registered voice."
    audio = speak(alice, registered.voice_id, text)
    chunks = job_chunks(store, alice.last_job_id)
    assert chunks[-1].status == pb.JOB_STATUS_DONE and len(audio) > 0
    assert chunks[0].voice_hash == registered.voice_hash and len(chunks[0].ge) == 512 * 4
    voice, frontend = load_voice(store, "alice", registered.voice_id), Frontend()
    engine = T2SEngine.load(voice_bundle)
    for index, segment in enumerate(frontend.phonemize(text, "auto")):
        params = segment_params({"max_new_tokens": TOKENS}, 3, index, len(segment.ids))
        phones = np.concatenate([voice.prompt_phones, segment.ids])
        bert = np.concatenate([voice.prompt_bert, frontend.bert_features(segment)], axis=1)
        want = engine.generate(phones, bert, voice.prompt_tokens, params).tokens.tolist()
        got = [t for c in chunks if c.segment_index == index and not c.final for t in c.tokens]
        assert got == want, f"segment {index}"
        without_prompt = engine.generate(segment.ids, frontend.bert_features(segment), np.zeros(0, np.int64),
                                         params).tokens.tolist()
        assert got != without_prompt  # the prompt changed what was generated
    again = speak(alice, registered.voice_id, text)
    second = job_chunks(store, alice.last_job_id)
    assert second[0].voice_hash == registered.voice_hash and not second[0].ge  # cached on this edge
    np.testing.assert_allclose(again, audio, atol=1e-5)


def test_every_rpc_keeps_tenants_apart(registered, alice, bob, system, speech):
    theirs = registered.voice_id
    nobody = new_id()

    def refused(call, *args, **kwargs):
        for voice_id in (theirs, nobody):
            with pytest.raises(NotFound) as caught:
                call(voice_id, *args, **kwargs)
            assert str(caught.value) == voice_not_found_message(voice_id), str(caught.value)

    refused(bob.get_voice)
    refused(lambda v: bob.update_voice(v, name="mine now"))
    refused(lambda v: bob.update_voice(v, recompute=True))
    refused(lambda v: bob.update_voice(v, audio=speech))
    refused(bob.delete_voice)
    refused(lambda v: bob.export_voices([v]))
    for voice_id in (theirs, nobody):
        with pytest.raises(VoiceNotFound, match="not found"):
            list(bob.synthesize("Hello.", voice=voice_id))
    assert theirs not in [v.voice_id for v in bob.list_voices()]
    own = bob.register_voice(speech, SPEECH_TEXT, language="en", name="bob's")
    assert own.voice_id not in [v.voice_id for v in alice.list_voices()]
    assert alice.get_voice(theirs) == registered  # untouched by all of the above
    with Client(system.gateway_address, cache_dir=None) as anonymous:
        with pytest.raises(Unauthenticated):
            anonymous.list_voices()


def test_bad_uploads_are_invalid_argument_and_leave_nothing(alice, store, system, speech):
    samples, rate = speech_samples(speech)
    loud = np.resize(samples, int(11 * rate))
    before = set(voice_fields(store, "alice"))
    cases = [
        (wav_bytes(samples[: int(2.5 * rate)], rate), SPEECH_TEXT, "en", "3-10 s long; given 2.50 s"),
        (wav_bytes(loud, rate), SPEECH_TEXT, "en", "3-10 s long; given 11.00 s"),
        (wav_bytes(np.zeros(5 * rate, np.float32), rate), SPEECH_TEXT, "en", "silent"),
        (b"RIFF" + os.urandom(50_000), SPEECH_TEXT, "en", "cannot be decoded"),
        (wav_bytes(samples, rate, "AIFF"), SPEECH_TEXT, "en", "AIFF file; send WAV, FLAC, OGG or MP3"),
        (os.urandom(UPLOAD_LIMIT + 1), SPEECH_TEXT, "en", f"at most {UPLOAD_LIMIT} bytes"),
        (speech, SPEECH_TEXT, "ko", "`language` must be one of auto, zh, en, ja; given 'ko'"),
        (speech, "   ", "en", "`transcript` must not be empty"),
        (speech, "?!", "en", "`transcript` has nothing to speak"),
    ]
    for audio, transcript, language, words in cases:
        with pytest.raises(InvalidArgument, match=words):
            alice.register_voice(audio, transcript, language=language)
    # Without the declared size the gateway stops reading as soon as the pieces pass the limit.
    stub = pb_grpc.VoicesStub(grpc.insecure_channel(system.gateway_address))
    pieces = [pb.RegisterVoiceRequest(metadata=pb.VoiceMetadata(transcript=SPEECH_TEXT, language="en"))]
    pieces += [pb.RegisterVoiceRequest(audio=b"\0" * 400_000)] * 3
    with pytest.raises(grpc.RpcError) as caught:
        stub.RegisterVoice(iter(pieces), metadata=(("authorization", f"Bearer {ALICE}"),), timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and str(UPLOAD_LIMIT) in caught.value.details()
    assert set(voice_fields(store, "alice")) == before and not pending_registrations(store)


def test_update_renames_or_recomputes_and_keeps_the_id(alice, store, speech):
    voice = alice.register_voice(speech, SPEECH_TEXT, language="en", name="before")
    arrays = {k: v for k, v in store.hgetall(keys.voice_key("alice", voice.voice_id)).items() if k != b"name"}
    renamed = alice.update_voice(voice.voice_id, name="after")
    assert renamed.name == "after" and renamed.updated_at > voice.updated_at
    after = store.hgetall(keys.voice_key("alice", voice.voice_id))
    assert {k: v for k, v in after.items() if k not in (b"name", b"updated_at")} == \
        {k: v for k, v in arrays.items() if k != b"updated_at"}
    shorter = alice.update_voice(voice.voice_id, transcript="The quick brown fox jumps.")
    assert shorter.prompt_phone_count < voice.prompt_phone_count
    assert shorter.prompt_token_count == voice.prompt_token_count and shorter.name == "after"
    other = espeak_wav("A different sentence, spoken a little higher than before.", pitch=70)
    moved = alice.update_voice(voice.voice_id, audio=other, transcript="A different sentence, spoken a little "
                               "higher than before.")
    assert moved.voice_id == voice.voice_id and moved.created_at == voice.created_at
    assert moved.content_hash != voice.content_hash and moved.voice_hash != voice.voice_hash
    assert store.hget(keys.voice_key("alice", voice.voice_id), "audio") == other
    with pytest.raises(InvalidArgument, match="silent"):  # a refused clip changes nothing
        alice.update_voice(voice.voice_id, audio=wav_bytes(np.zeros(80000, np.float32), 16000))
    assert alice.get_voice(voice.voice_id) == moved
    alice.delete_voice(voice.voice_id)


def test_export_delete_import_round_trips_byte_identically(alice, bob, store, speech):
    line = "Voice number {} says hello to the export file, and then it says goodbye."
    voices = [alice.register_voice(espeak_wav(line.format(i), pitch=40 + 10 * i), line.format(i), language="en",
                                   name=f"x{i}") for i in range(2)]
    ids = [v.voice_id for v in voices]
    records = {i: store.hgetall(keys.voice_key("alice", i)) for i in ids}
    data = alice.export_voices(ids)
    for voice_id in ids:
        alice.delete_voice(voice_id)
        assert not store.exists(keys.voice_key("alice", voice_id))
    result = alice.import_voices(data)
    assert result.imported == ids and result.skipped == []
    assert {i: store.hgetall(keys.voice_key("alice", i)) for i in ids} == records
    assert alice.export_voices(ids) == data
    assert [v for v in alice.list_voices() if v.voice_id in ids] == voices
    assert alice.import_voices(data).skipped == ids  # already there: left alone
    assert bob.import_voices(data).imported == ids  # bob gets his own copies; alice's stay hers
    bob.delete_voice(ids[0])
    assert alice.get_voice(ids[0]) == voices[0]
    tampered = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(tampered, "w") as dst:
        for info in src.infolist():
            body = src.read(info)
            dst.writestr(info, body.replace(b"Voice number 0", b"Voice number 9") if info.filename == "voices.json"
                         else body)
    tampered = tampered.getvalue()
    with pytest.raises(InvalidArgument, match="voices file"):
        alice.import_voices(tampered, replace_existing=True)
    assert {i: store.hgetall(keys.voice_key("alice", i)) for i in ids} == records


def worker_children(system) -> list[int]:
    parent = system.child("worker").process.pid
    return [int(p) for t in Path(f"/proc/{parent}/task").iterdir() for p in (t / "children").read_text().split()]


def test_a_worker_killed_mid_conditioning_leaves_nothing_and_the_redelivery_completes(system, alice, store):
    clip = espeak_wav("This clip is conditioned while its worker is killed, and then conditioned again.", speed=120)
    for _attempt in range(5):
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(alice.register_voice, clip, "This clip is conditioned while its worker is "
                                  "killed, and then conditioned again.", "en", "phoenix")
            deadline = time.monotonic() + 30
            claimed = []
            while not claimed and time.monotonic() < deadline:
                claimed = [k for k in pending_registrations(store) if store.hget(k, "deliveries") == b"1"]
            children = worker_children(system)
            for pid in children:
                os.kill(pid, signal.SIGSTOP)
            registration = claimed[0].decode().rsplit(":", 1)[1] if claimed else ""
            decided = store.exists(keys.voice_registration_result_key(registration))
            voice_id = store.hget(claimed[0], "voice_id").decode() if claimed and not decided else ""
            if voice_id:
                assert not store.exists(keys.voice_key("alice", voice_id))  # nothing partial mid-conditioning
            for pid in children:
                os.kill(pid, signal.SIGKILL if voice_id else signal.SIGCONT)
            info = pending.result(timeout=120)
        if voice_id:
            break
    else:
        pytest.fail("the conditioning always finished before the worker could be stopped")
    assert info.voice_id == voice_id and info.prompt_token_count > 0
    log = (system.run_dir / "worker.log").read_text()
    assert f"registration {registration}: delivery 2 conditions the clip again" in log
    assert not pending_registrations(store)


def test_fifty_voices_registered_and_used_concurrently(system, tmp_path, store):
    texts = [f"Speaker {i} reads a short line for the crowd test." for i in range(50)]
    clips = [espeak_wav(text, pitch=20 + i, speed=130 + i % 20) for i, text in enumerate(texts)]
    with Client(system.gateway_address, api_key=ALICE, cache_dir=tmp_path / "crowd") as edge:  # shared by threads
        with ThreadPoolExecutor(10) as pool:
            voices = list(pool.map(lambda i: edge.register_voice(clips[i], texts[i], "en", f"crowd {i}"), range(50)))
            assert len({v.voice_id for v in voices}) == 50 and len({v.voice_hash for v in voices}) == 50
            audio = list(pool.map(lambda v: speak(edge, v.voice_id, "Hi.", seed=1), voices))
    assert all(len(a) > 0 for a in audio)
    hashes = {v.voice_id: v.voice_hash for v in voices}
    jobs = {}
    for key in store.scan_iter(match=keys.job_key("*"), _type="hash"):
        voice = (store.hget(key, "voice") or b"").decode()
        if voice in hashes:
            jobs[voice] = key.decode().rsplit(":", 1)[1]
    assert set(jobs) == set(hashes)  # one job per voice, each with that voice
    for voice_id, job_id in jobs.items():
        chunks = job_chunks(store, job_id)
        assert chunks[0].voice_hash == hashes[voice_id] and len(chunks[0].ge) == 2048
        assert chunks[-1].status == pb.JOB_STATUS_DONE


def test_the_voices_commands(system, speech, tmp_path):
    from click.testing import CliRunner

    from edge_client.voices_cli import voices_group

    clip = tmp_path / "me.wav"
    clip.write_bytes(speech)
    runner = CliRunner()
    auth = ["--gateway", system.gateway_address, "--api-key", ALICE]

    def run(*args: str) -> str:
        result = runner.invoke(voices_group, [*args, *auth])
        assert result.exit_code == 0, result.output
        return result.output

    voice_id = run("add", str(clip), "--transcript", SPEECH_TEXT, "--lang", "en").splitlines()[0]
    assert voice_id in run("list") and "name: me" in run("show", voice_id)
    assert "renamed to 'cli'" in run("rename", voice_id, "cli")
    run("export", voice_id, "-o", str(tmp_path / "v.zip"))
    run("rm", voice_id)
    assert "imported 1 voice(s)" in run("import", str(tmp_path / "v.zip"))
    assert "0 voice(s) to recompute" in run("migrate", "--dry-run")
    missing = runner.invoke(voices_group, ["show", new_id(), *auth])
    assert missing.exit_code == 1 and missing.output.startswith("error: voice")
