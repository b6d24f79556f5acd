"""v2ProPlus end to end with real processes, as for v2: a voice registered from an espeak-ng clip (its
speaker-verification embedding computed by the bundle's ``sv`` graph and stored with it), streaming through the
gateway to the edge vocoder, `relaytts say`, a one-chapter book, and the voices file carrying the embedding.

The bundle is the upstream fixtures exported with ``--sv`` and ``--hubert`` (``voice_bundle_pp``): random weights
with upstream's real architectures (the sv net at reduced split width), so CI stays within minutes.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import redis
import soundfile

from edge_client import Client
from edge_client.books import BookClient
from relaytts import keys
from relaytts.embedded import EmbeddedSystem
from relaytts.redis_server import free_port
from relaytts.sampling import SamplingParams
from relaytts.settings import load_settings
from tests.voice_support import SPEECH_TEXT

ALICE = "alice-key-0123456789"
TOKENS = 12


@pytest.fixture(scope="module")
def system(voice_bundle_pp, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("v2pp")
    key_file = run_dir / "keys.json"
    key_file.write_text(json.dumps({ALICE: "alice"}))
    key_file.chmod(0o600)  # the gateway refuses a key file others can read
    settings = load_settings(
        environ={},
        overrides={
            "worker.bundle": str(voice_bundle_pp.root),
            "gateway.bundle": str(voice_bundle_pp.root),
            "gateway.port": free_port(),
            "gateway.api_keys_file": str(key_file),
            "gateway.queue_timeout_seconds": 120.0,
            "metrics.gateway_port": 0,
            "metrics.worker_port": 0,
        },
    )
    with EmbeddedSystem(settings, run_dir).start() as running:
        yield running


@pytest.fixture
def alice(system, tmp_path):
    with Client(system.gateway_address, api_key=ALICE, cache_dir=tmp_path / "alice") as edge:
        yield edge


@pytest.fixture(scope="module")
def registered(system, speech, tmp_path_factory):
    with Client(system.gateway_address, api_key=ALICE, cache_dir=tmp_path_factory.mktemp("reg")) as edge:
        return edge.register_voice(speech, SPEECH_TEXT, language="en", name="fox")


def test_a_registered_voice_stores_its_speaker_embedding_and_speaks(system, alice, registered, voice_bundle_pp):
    sovits = voice_bundle_pp.manifest.sovits
    store = redis.Redis.from_url(system.settings.redis.url)
    record = store.hgetall(keys.voice_key("alice", registered.voice_id))
    store.close()
    emb = np.frombuffer(record[b"sv_emb"], "<f4")
    assert emb.shape == (sovits["sv_dim"],) and np.isfinite(emb).all() and emb.any()
    assert np.frombuffer(record[b"ge"], "<f4").shape == (sovits["gin_channels"],)
    assert record[b"model_version"] == b"v2ProPlus"
    chunks = list(
        alice.synthesize(
            "Hello from a pro voice.",
            voice=registered.voice_id,
            language="en",
            sampling=SamplingParams(seed=3, max_new_tokens=TOKENS),
        )
    )
    audio = np.concatenate([c.samples for c in chunks])
    assert len(audio) > 0 and np.isfinite(audio).all() and np.abs(audio).max() > 0


def test_recompute_gives_the_same_embedding_and_the_voices_file_carries_it(system, alice, registered):
    store = redis.Redis.from_url(system.settings.redis.url)
    key = keys.voice_key("alice", registered.voice_id)
    before = store.hget(key, "sv_emb")
    alice.update_voice(registered.voice_id, recompute=True)  # what `relaytts voices migrate` runs per voice
    after = store.hget(key, "sv_emb")
    # Same clip, same bundle: the same embedding (up to thread scheduling inside ONNX Runtime).
    np.testing.assert_allclose(np.frombuffer(after, "<f4"), np.frombuffer(before, "<f4"), atol=1e-5)
    data = alice.export_voices([registered.voice_id])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        saved = np.load(io.BytesIO(archive.read(f"voices/{registered.voice_id}/sv_emb.npy")))
    assert saved.tobytes() == after
    record = store.hgetall(key)
    alice.delete_voice(registered.voice_id)
    assert alice.import_voices(data).imported == [registered.voice_id]
    assert store.hgetall(key) == record
    store.close()


def test_say_and_a_one_chapter_book(system, registered, tmp_path):
    wav = tmp_path / "say.wav"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "relaytts.cli",
            "say",
            "Hello from say.",
            "--gateway",
            system.gateway_address,
            "--api-key",
            ALICE,
            "--seed",
            "4",
            "--voice",
            registered.voice_id,
            "--cache-dir",
            str(tmp_path / "cache"),
            "-o",
            str(wav),
        ],
        capture_output=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    audio, rate = soundfile.read(wav, dtype="float32")
    assert rate == 32000 and len(audio) > 0
    with Client(system.gateway_address, api_key=ALICE, cache_dir=tmp_path / "edge") as client:
        books = BookClient(client)
        job = books.submit(
            b"# Only\n\nA single short chapter.\n",
            filename="one.md",
            voice=registered.voice_id,
            sampling=SamplingParams(seed=5, max_new_tokens=TOKENS),
        )
        books.render(job.job_id, tmp_path / "book", follow=True)
    files = sorted((tmp_path / "book").glob("*.wav"))
    assert [f.name for f in files] == ["01 - Only.wav"]
    chapter, rate = soundfile.read(files[0], dtype="float32")
    assert rate == 32000 and len(chapter) > 0
