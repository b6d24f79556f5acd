"""Uploads held in memory: the concurrency cap of ImportVoices/SubmitBook and the voices-file pre-checks."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from orchestrator.imports import MAX_ARCHIVE_VOICES, ImportSlots, TooManyImports, check_voice_archive
from relaytts.errors import InvalidArgument


def test_past_max_concurrent_imports_a_call_is_refused_at_once_naming_the_limit():
    slots = ImportSlots(2)
    with slots.slot("ImportVoices"), slots.slot("SubmitBook"):
        with pytest.raises(TooManyImports, match="`max_concurrent_imports` is 2") as caught:
            with slots.slot("SubmitBook"):
                pass
        assert caught.value.code == "RESOURCE_EXHAUSTED"
    with slots.slot("SubmitBook"):  # released
        assert slots.active == 1


def archive(voices: list[dict], members: dict[str, bytes] | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("voices.json", json.dumps({"kind": "relaytts-voices", "format": 1, "voices": voices}))
        for name, data in (members or {}).items():
            z.writestr(name, data)
    return out.getvalue()


def test_checks_refuse_by_sizes_and_index_before_reading_voices():
    with pytest.raises(InvalidArgument, match="unpacks to .* `max_voice_archive_bytes` is 1000"):
        check_voice_archive(archive([], {"big": bytes(5000)}), 1000)
    with pytest.raises(InvalidArgument, match="is named by 2 voices"):
        check_voice_archive(archive([{"files": {"audio": "a"}}, {"files": {"audio": "a"}}]), 1 << 20)
    with pytest.raises(InvalidArgument, match=f"at most {MAX_ARCHIVE_VOICES} per file"):
        check_voice_archive(archive([{}] * (MAX_ARCHIVE_VOICES + 1)), 1 << 20)
    with pytest.raises(InvalidArgument, match="not a zip file"):
        check_voice_archive(b"plain bytes", 1 << 20)
    check_voice_archive(archive([{"files": {"audio": "a"}}, {"files": {"audio": "b"}}]), 1 << 20)
