"""The voice-library vocabulary: ids, keys, content hash, task payload, record shapes, VoiceInfo <-> proto."""

from __future__ import annotations

import numpy as np
import pytest

from relaytts import keys
from relaytts.errors import InvalidArgument
from relaytts.voices import VoiceInfo, VoiceTask, array_shapes, check_voice_id, content_hash, new_id, voice_hash_of


def test_ids_and_keys_are_tenant_scoped():
    voice_id = new_id()
    assert check_voice_id(voice_id) == voice_id
    for bad in ("", "x" * 32, voice_id.upper(), voice_id + "0", "../" + voice_id[3:]):
        with pytest.raises(InvalidArgument, match="`voice_id` must be 32 lowercase hex"):
            check_voice_id(bad)
    assert keys.voice_key("alice", voice_id) == f"relaytts:tenant:alice:voice:{voice_id}"
    assert keys.voice_key("alice", voice_id) != keys.voice_key("bob", voice_id)
    assert keys.tenant_voices_key("alice") == "relaytts:tenant:alice:voices"
    assert keys.voice_registration_result_key("r") == keys.voice_registration_key("r") + ":result"


def test_content_hash_covers_clip_transcript_language_and_bundle():
    base = content_hash(b"clip", "hello", "en", "b1")
    assert base == content_hash(b"clip", "hello", "en", "b1") and len(base) == 64
    variants = [content_hash(b"clip!", "hello", "en", "b1"), content_hash(b"clip", "hello.", "en", "b1"),
                content_hash(b"clip", "hello", "auto", "b1"), content_hash(b"clip", "hello", "en", "b2"),
                content_hash(b"cli", "phello", "en", "b1")]  # length prefixes: no ambiguous concatenation
    assert base not in variants and len(set(variants)) == len(variants)


def test_voice_hash_is_the_default_voices_rule():
    from workers.voice import Voice

    ge = np.linspace(-1, 1, 512, dtype=np.float32)
    voice = Voice("v", ge, np.zeros(0, np.int64), np.zeros(0, np.int64))
    assert voice_hash_of(ge.astype("<f4").tobytes()) == voice.voice_hash


def test_task_payload_round_trips_as_json():
    task = VoiceTask(new_id(), "alice", new_id(), "update", "zh", "你好。", None, stored_audio=True, enqueued_at=1.5)
    assert VoiceTask.from_json(task.to_json()) == task
    assert "你好" in task.to_json()  # JSON, not escaped bytes, never pickle


def test_array_shapes_follow_from_the_byte_lengths():
    fields = {"prompt_phones": np.zeros(7, "<i8").tobytes(), "prompt_tokens": np.zeros(20, "<i8").tobytes(),
              "prompt_bert": np.zeros((1024, 7), "<f4").tobytes(), "ge": np.zeros(512, "<f4").tobytes()}
    assert array_shapes(fields) == {"prompt_phones": (7,), "prompt_tokens": (20,), "prompt_bert": (1024, 7),
                                    "ge": (512,)}
    with pytest.raises(ValueError, match=r"\[1024, 7\] expected"):
        array_shapes(fields | {"prompt_bert": b"\0" * 4096})
    with pytest.raises(ValueError, match="whole number"):
        array_shapes(fields | {"prompt_tokens": b"\0" * 12})
    with pytest.raises(ValueError, match="needs prompt phones, prompt tokens and a style vector"):
        array_shapes(fields | {"prompt_tokens": b""})


def test_voice_info_round_trips_through_the_proto():
    info = VoiceInfo(new_id(), "me", "en", "Hello.", "b1", "v2", "c" * 64, "h" * 16, 1.25, 2.5, 4.2, "WAV", 12, 30)
    assert VoiceInfo.from_pb(info.to_pb()) == info
