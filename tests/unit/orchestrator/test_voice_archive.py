"""The portable voices file: deterministic, no pickle, everything checked before anything is written."""

from __future__ import annotations

import io
import json
import pickle
import zipfile

import numpy as np
import pytest

from orchestrator import voice_archive
from orchestrator.voice_archive import read_archive, write_archive
from relaytts.errors import InvalidArgument
from relaytts.voices import content_hash, new_id, voice_hash_of


def record(seed: int = 0, phones: int = 5, tokens: int = 40) -> dict[str, bytes]:
    rng = np.random.default_rng(seed)
    ge = rng.standard_normal(512).astype("<f4").tobytes()
    audio = b"RIFF" + rng.bytes(1000)
    meta = {"voice_id": new_id(), "name": f"voice {seed}", "language": "en", "transcript": "Hello there.",
            "bundle_id": "b1", "model_version": "v2", "audio_format": "WAV", "created_at": repr(1.7e9 + seed + 0.123),
            "updated_at": repr(1.7e9 + seed + 0.5), "audio_seconds": "4.25"}
    fields = {k: v.encode() for k, v in meta.items()}
    fields |= {
        "content_hash": content_hash(audio, "Hello there.", "en", "b1").encode(),
        "voice_hash": voice_hash_of(ge).encode(), "ge": ge, "audio": audio,
        "prompt_phones": rng.integers(0, 732, phones).astype("<i8").tobytes(),
        "prompt_tokens": rng.integers(0, 1024, tokens).astype("<i8").tobytes(),
        "prompt_bert": rng.standard_normal((1024, phones)).astype("<f4").tobytes(),
        "tenant": b"alice", "format": b"1",
    }
    return fields


def test_round_trip_is_exact_and_deterministic():
    records = [record(0), record(1, phones=9, tokens=3)]
    data = write_archive(records)
    assert write_archive(records) == data  # same voices, same bytes
    back = read_archive(data)
    for original, read in zip(records, back, strict=True):
        expected = {k: v for k, v in original.items() if k not in ("tenant", "format")}  # re-scoped on import
        assert read == expected
    assert write_archive([r | {"tenant": b"alice", "format": b"1"} for r in back]) == data
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        index = json.loads(archive.read("voices.json"))
        assert index["kind"] == "relaytts-voices" and index["format"] == 1
        path = index["voices"][0]["files"]["prompt_bert"]
        assert np.lib.format.read_array(io.BytesIO(archive.read(path)), allow_pickle=False).shape == (1024, 5)
        assert index["voices"][0]["files"]["audio"].endswith("/audio.wav")


def test_a_pro_voice_carries_its_speaker_embedding():
    pro = record(2) | {"model_version": b"v2ProPlus",
                       "sv_emb": np.random.default_rng(2).standard_normal(20480).astype("<f4").tobytes()}
    data = write_archive([pro, record(3)])
    back = read_archive(data)
    assert back[0]["sv_emb"] == pro["sv_emb"] and "sv_emb" not in back[1]  # optional: only Pro voices have one
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        index = json.loads(archive.read("voices.json"))
        assert "sv_emb" in index["voices"][0]["files"] and "sv_emb" not in index["voices"][1]["files"]
    wrong = rewrite(data, lambda name, raw: _as_float64(raw) if name.endswith("sv_emb.npy") else raw)
    with pytest.raises(InvalidArgument, match="sv_emb: dtype <f8; <f4 expected"):
        read_archive(wrong)


def _as_float64(raw: bytes) -> bytes:
    out = io.BytesIO()
    array = np.lib.format.read_array(io.BytesIO(raw), allow_pickle=False)
    np.lib.format.write_array(out, array.astype("<f8"), allow_pickle=False)
    return out.getvalue()


def rewrite(data: bytes, change) -> bytes:
    """A copy of the zip ``data`` with ``change(name, bytes) -> bytes | None`` applied to each member."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            new = change(info.filename, src.read(info))
            if new is not None:
                dst.writestr(info, new)
    return out.getvalue()


def test_pickled_or_mistyped_arrays_are_refused():
    data = write_archive([record()])
    objects = io.BytesIO()
    np.save(objects, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    bad = rewrite(data, lambda n, b: objects.getvalue() if n.endswith("ge.npy") else b)
    with pytest.raises(InvalidArgument, match="ge: not a plain .npy array"):
        read_archive(bad)
    floats = io.BytesIO()
    np.save(floats, np.zeros(40, np.float64))
    bad = rewrite(data, lambda n, b: floats.getvalue() if n.endswith("prompt_tokens.npy") else b)
    with pytest.raises(InvalidArgument, match="prompt_tokens: dtype <f8; <i8 expected"):
        read_archive(bad)
    with pytest.raises(InvalidArgument, match="not a zip file"):
        read_archive(pickle.dumps({"voices": []}))


def test_altered_or_incomplete_files_are_refused():
    data = write_archive([record()])
    tampered = rewrite(data, lambda n, b: b + b"!" if n.endswith("audio.wav") else b)
    with pytest.raises(InvalidArgument, match="hashes do not match"):
        read_archive(tampered)
    missing = rewrite(data, lambda n, b: None if n.endswith("ge.npy") else b)
    with pytest.raises(InvalidArgument, match="is not in the file"):
        read_archive(missing)
    def doubled(name: str, body: bytes) -> bytes:
        if name != "voices.json":
            return body
        index = json.loads(body)
        return json.dumps(index | {"voices": index["voices"] * 2}).encode()

    twice = rewrite(data, doubled)
    with pytest.raises(InvalidArgument, match="appears twice"):
        read_archive(twice)
    newer = rewrite(data, lambda n, b: json.dumps(json.loads(b) | {"format": 99}).encode() if n == "voices.json"
                    else b)
    with pytest.raises(InvalidArgument, match="newer than this gateway reads"):
        read_archive(newer)


def test_oversized_members_are_refused_before_unpacking(monkeypatch):
    data = write_archive([record()])
    monkeypatch.setattr(voice_archive, "MAX_ARCHIVE_BYTES", 5000)
    with pytest.raises(InvalidArgument, match="bytes"):
        read_archive(data)
