"""`relaytts voices migrate`: voices registered with one bundle, the deployment re-exported (another bundle id),
every voice recomputed from its stored clip, with real processes on both sides of the switch."""

from __future__ import annotations

import numpy as np
import pytest
import redis

from edge_client import Client
from relaytts import keys
from relaytts.embedded import EmbeddedSystem
from relaytts.errors import BundleMismatch
from relaytts.redis_server import free_port
from relaytts.sampling import SamplingParams
from relaytts.settings import load_settings
from relaytts.voices import new_id
from tests.voice_support import derive_bundle, espeak_wav, write_tiny_hubert

LINE = "Voice {} was registered before the bundle was exported again with another model."


@pytest.fixture(scope="module")
def new_bundle(voice_bundle, tmp_path_factory):
    """The same T2S and SoVITS with another HuBERT: a new bundle id, other prompt tokens, the same ge."""
    root = tmp_path_factory.mktemp("new-bundle")
    return derive_bundle(voice_bundle.root, root / "v2-hubert-b", write_tiny_hubert(root / "hubert-b", seed=1))


def system(bundle, redis_url: str, run_dir) -> EmbeddedSystem:
    settings = load_settings(environ={}, overrides={
        "redis.url": redis_url, "worker.bundle": str(bundle), "gateway.bundle": str(bundle),
        "gateway.port": free_port(), "metrics.gateway_port": 0, "metrics.worker_port": 0})
    return EmbeddedSystem(settings, run_dir).start()


def test_migrate_recomputes_every_voice_for_the_new_bundle(voice_bundle, new_bundle, redis_url, speech, tmp_path):
    from click.testing import CliRunner

    from edge_client.voices_cli import voices_group

    store = redis.Redis.from_url(redis_url)
    with system(voice_bundle.root, redis_url, tmp_path / "old") as old, \
            Client(old.gateway_address, cache_dir=tmp_path / "edge-old") as edge:
        before = [edge.register_voice(espeak_wav(LINE.format(i), pitch=30 + 20 * i), LINE.format(i), "en", f"v{i}")
                  for i in range(3)]
    tokens = {v.voice_id: store.hget(keys.voice_key("local", v.voice_id), "prompt_tokens") for v in before}

    with system(new_bundle, redis_url, tmp_path / "new") as new, \
            Client(new.gateway_address, cache_dir=tmp_path / "edge-new") as edge:
        served = edge.model_info().bundle_id
        assert served != voice_bundle.manifest.bundle_id
        with pytest.raises(BundleMismatch, match="recompute it.*relaytts voices migrate"):
            list(edge.synthesize("Hello.", voice=before[0].voice_id))
        result = CliRunner().invoke(voices_group, ["migrate", "--gateway", new.gateway_address])
        assert result.exit_code == 0, result.output
        assert "3 voice(s) recomputed" in result.output
        after = {v.voice_id: v for v in edge.list_voices()}
        for voice in before:
            fresh = after[voice.voice_id]
            assert fresh.bundle_id == served and fresh.created_at == voice.created_at and fresh.name == voice.name
            assert fresh.content_hash != voice.content_hash  # the bundle id is part of it
            assert fresh.voice_hash == voice.voice_hash  # same style encoder: the edge's cached ge stays valid
            assert store.hget(keys.voice_key("local", voice.voice_id), "prompt_tokens") != tokens[voice.voice_id]
        audio = np.concatenate([c.samples for c in edge.synthesize(
            "Hello after the migration.", voice=before[0].voice_id, sampling=SamplingParams(max_new_tokens=10))])
        assert len(audio) > 0
        again = CliRunner().invoke(voices_group, ["migrate", "--gateway", new.gateway_address])
        assert again.exit_code == 0 and "0 voice(s) to recompute" in again.output
    store.close()


def test_a_worker_refuses_a_voice_of_another_bundle(voice_bundle, redis_url):
    """The worker's own check (the gateway's pre-check is skipped when the gateway serves no bundle)."""
    from workers.voice import Voice
    from workers.voice_store import resolve_voice

    store = redis.Redis.from_url(redis_url)
    voice_id = new_id()
    store.hset(keys.voice_key("alice", voice_id), mapping={
        "format": "1", "bundle_id": "0123456789abcdef", "prompt_phones": np.ones(3, "<i8").tobytes(),
        "prompt_tokens": np.ones(5, "<i8").tobytes(), "prompt_bert": np.zeros((1024, 3), "<f4").tobytes(),
        "ge": np.ones(512, "<f4").tobytes()})
    default = Voice("default", np.zeros(512, np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64))
    with pytest.raises(BundleMismatch, match="computed with bundle 0123456789abcdef; this worker serves bundle"):
        resolve_voice(store, default, voice_bundle.manifest, "alice", voice_id)
    assert resolve_voice(store, default, voice_bundle.manifest, "alice", "default") is default
    store.close()
