"""Untrusted input that expands: a 1 MiB EPUB that unpacks to 1 GiB, and a voices file doing the same, sent
to the real gateway. Each is refused from its ZIP directory with INVALID_ARGUMENT naming the limit, within a
second, and the gateway's resident memory (VmRSS) grows by less than 50 MB."""

from __future__ import annotations

import io
import time
import zipfile

import pytest

from edge_client import Client
from edge_client.books import BookClient
from relaytts.errors import InvalidArgument
from tests.chaos.conftest import record, rss_kib

GIB = 1 << 30
RSS_GROWTH_LIMIT_KIB = 50 * 1024
REJECT_DEADLINE_SECONDS = 1.0


@pytest.fixture(scope="module")
def bomb_entry() -> tuple[str, bytes]:
    """A ZIP whose one large entry is 1 GiB of zeros (about 1 MiB deflated)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        with archive.open("OEBPS/chapter.xhtml", "w", force_zip64=True) as entry:
            zeros = bytes(1 << 20)
            for _ in range(GIB >> 20):
                entry.write(zeros)
    return "chapter.xhtml", buf.getvalue()


@pytest.mark.parametrize("kind", ["epub", "voices"])
def test_a_zip_bomb_is_refused_cheaply(kind, system, bomb_entry, tmp_path):
    _, bomb = bomb_entry
    assert len(bomb) < 2 << 20
    gateway = system.child("gateway").process.pid
    before = rss_kib(gateway)
    with Client(system.gateway_address, cache_dir=tmp_path / "edge") as client:
        started = time.monotonic()
        with pytest.raises(InvalidArgument) as refused:
            if kind == "epub":
                BookClient(client).submit(bomb, filename="bomb.epub")
            else:
                client.import_voices(bomb)
        took = time.monotonic() - started
    grew = rss_kib(gateway) - before
    # The refusal names the limit it hit: a book by its expansion ratio; a voices file first meets the
    # archive's own size cap (checked from the zip directory, before anything is expanded).
    limit = "at most 200x" if kind == "epub" else "`max_voice_archive_bytes` is"
    assert limit in str(refused.value), refused.value
    assert took < REJECT_DEADLINE_SECONDS, took
    assert grew < RSS_GROWTH_LIMIT_KIB, f"gateway VmRSS grew {grew} KiB"
    record(
        f"{'EPUB' if kind == 'epub' else 'voices file'} zip bomb ({len(bomb) >> 10} KiB -> 1 GiB)",
        f"refused in {took * 1000:.0f} ms",
        f"INVALID_ARGUMENT: {str(refused.value)[:90]}...",
        f"none; gateway VmRSS +{max(0, grew) / 1024:.1f} MB",
    )
