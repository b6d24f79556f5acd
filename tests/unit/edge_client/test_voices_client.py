"""The edge side of the voice library without a gateway: request building and the bounded style cache."""

from __future__ import annotations

import pytest

from edge_client.client import Client
from edge_client.voices import PIECE_BYTES, import_requests, read_clip, register_requests, update_requests
from relaytts.errors import InvalidArgument
from relaytts.voices import MAX_CACHED_VOICE_HASHES


def test_register_sends_metadata_then_the_clip_in_pieces():
    audio = bytes(range(256)) * ((2 * PIECE_BYTES + 100) // 256 + 1)
    messages = list(register_requests(audio, "Hello.", "en", "me"))
    first = messages[0].metadata
    assert (first.name, first.language, first.transcript, first.size_bytes) == ("me", "en", "Hello.", len(audio))
    pieces = [m.audio for m in messages[1:]]
    assert b"".join(pieces) == audio and max(map(len, pieces)) == PIECE_BYTES and len(pieces) == 3


def test_arguments_are_checked_before_anything_is_sent():
    with pytest.raises(InvalidArgument, match="`transcript` must not be empty"):
        register_requests(b"RIFF", " ")
    with pytest.raises(InvalidArgument, match="`audio` is empty"):
        register_requests(b"", "Hello.")
    with pytest.raises(InvalidArgument, match="`audio` is empty"):
        update_requests("0" * 32, audio=b"")
    with pytest.raises(InvalidArgument, match="cannot read the clip"):
        read_clip("/nonexistent/clip.wav")


def test_update_sets_only_what_changes():
    (only,) = update_requests("a" * 32, name="new")
    assert only.update.HasField("name") and not only.update.HasField("transcript")
    assert not only.update.HasField("language") and not only.update.recompute
    first, clip = update_requests("a" * 32, audio=b"xyz", recompute=True)
    assert first.update.size_bytes == 3 and first.update.recompute and clip.audio == b"xyz"
    options, data = import_requests(b"zip", replace_existing=True)
    assert options.options.replace_existing and data.data == b"zip"


def test_the_style_cache_is_bounded_by_what_a_request_may_announce(tmp_path):
    with pytest.raises(InvalidArgument, match=rf"`style_cache_entries` must be in \[0, {MAX_CACHED_VOICE_HASHES}\]"):
        Client("127.0.0.1:1", cache_dir=tmp_path, style_cache_entries=MAX_CACHED_VOICE_HASHES + 1)
    with Client("127.0.0.1:1", cache_dir=tmp_path, style_cache_entries=MAX_CACHED_VOICE_HASHES) as client:
        assert client.styles.max_entries == MAX_CACHED_VOICE_HASHES
