"""Inspecting an untrusted ZIP (EPUB books, voices files) before anything is expanded (issue 15).

A ZIP's central directory declares every entry's compressed and expanded size, and ``zipfile`` never hands
out more bytes of an entry than it declares (the CRC check fails instead), so checking the declared sizes
bounds the memory that expanding the file can take. A zip bomb (1 MiB that expands to 1 GiB) is refused
from the directory alone, in milliseconds, with the limit it broke named.
"""

from __future__ import annotations

import zipfile
from typing import Final

from relaytts.errors import InvalidArgument

__all__ = ["MAX_COMPRESSION_RATIO", "MAX_ENTRIES", "RATIO_MIN_BYTES", "check_zip"]

MAX_ENTRIES: Final = 10_000
"""Entries an uploaded ZIP may hold (a long EPUB has a few hundred)."""
MAX_COMPRESSION_RATIO: Final = 200
"""Largest expanded/compressed ratio of one entry: markup and text deflate 3-20x, a zip bomb 1000x."""
RATIO_MIN_BYTES: Final = 1 << 20
"""Entries smaller than this expanded are not ratio-checked (a tiny file of spaces is harmless)."""


def check_zip(archive: zipfile.ZipFile, max_expanded_bytes: int, what: str, setting: str = "") -> None:
    """``InvalidArgument`` naming the limit when ``archive``'s directory declares too much to expand.

    ``what`` names the file in the message ("the book", "voices file"); ``setting`` the variable that raises
    the total limit, if any.
    """
    entries = archive.infolist()
    if len(entries) > MAX_ENTRIES:
        raise InvalidArgument(f"{what} holds {len(entries)} files; at most {MAX_ENTRIES} are accepted")
    total = 0
    for info in entries:
        total += info.file_size
        if info.file_size >= RATIO_MIN_BYTES and info.file_size > MAX_COMPRESSION_RATIO * max(1, info.compress_size):
            raise InvalidArgument(
                f"{what}: {info.filename[:80]!r} expands {info.file_size // max(1, info.compress_size)}x "
                f"({info.compress_size} -> {info.file_size} bytes); at most {MAX_COMPRESSION_RATIO}x is accepted "
                "(a zip bomb?)"
            )
    if total > max_expanded_bytes:
        knob = f" (`{setting}`)" if setting else ""
        raise InvalidArgument(f"{what} expands to {total} bytes; at most {max_expanded_bytes}{knob} are accepted")
