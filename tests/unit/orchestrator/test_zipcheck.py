"""ZIP directories are checked before anything is expanded: ratio, total, entry count; EPUBs and voices files."""

from __future__ import annotations

import io
import random
import zipfile

import pytest

from orchestrator.bookfile import parse_book
from orchestrator.voice_archive import read_archive
from orchestrator.zipcheck import MAX_ENTRIES, check_zip
from relaytts.errors import InvalidArgument


def make_zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buf.getvalue()


BOMB = make_zip({"mimetype": b"application/epub+zip", "OEBPS/a.xhtml": bytes(8 << 20)})  # 8 MiB -> ~8 KiB


def test_an_entry_that_expands_too_much_is_refused_naming_the_ratio():
    with pytest.raises(InvalidArgument, match=r"expands \d+x .* at most 200x is accepted \(a zip bomb\?\)"):
        parse_book(BOMB, "bomb.epub")


def test_the_total_expanded_size_is_capped_by_the_setting():
    noise = random.Random(0).randbytes(1 << 20)  # does not compress: only the total can refuse it
    book = make_zip({f"OEBPS/{i}.xhtml": noise for i in range(3)})
    with pytest.raises(
        InvalidArgument,
        match=r"expands to 3145728 bytes; at most 2097152 "
        r"\(`RELAYTTS_BOOKS_MAX_EXPANDED_BYTES`\)",
    ):
        parse_book(book, "big.epub", max_expanded_bytes=2 << 20)


def test_too_many_entries_are_refused():
    many = make_zip({f"{i}": b"" for i in range(MAX_ENTRIES + 1)})
    with zipfile.ZipFile(io.BytesIO(many)) as archive, pytest.raises(InvalidArgument, match="at most 10000"):
        check_zip(archive, 1 << 30, "the file")


def test_a_voices_file_bomb_is_refused_before_expanding():
    with pytest.raises(InvalidArgument, match=r"voices file: .* at most 200x"):
        read_archive(BOMB)
