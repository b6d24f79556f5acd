"""Bounded uploads: how many ImportVoices/SubmitBook calls run at once, and what a voices file may hold.

Both RPCs hold their whole upload in memory (up to ``max_voice_archive_bytes`` or
``books.max_file_bytes``), so ``ImportSlots`` admits at most ``gateway.max_concurrent_imports`` of them
at a time, try-acquire: past it the call fails at once with RESOURCE_EXHAUSTED naming the limit.

``check_voice_archive`` looks at a voices file before any voice is read: the zip's central directory
(member count, each member's and the total unpacked size, the index's size) and then the index alone
(how many voices, and that no member is named by two voices). A file whose index points 10 000
voices at one 1 MB clip is refused here, after reading a few kilobytes, instead of unpacking 10 GB.
"""

from __future__ import annotations

import contextlib
import io
import json
import zipfile
from collections import Counter
from collections.abc import Iterator
from typing import Final

from orchestrator.voice_archive import INDEX_NAME, read_archive
from relaytts.errors import InvalidArgument, Overloaded

__all__ = [
    "MAX_ARCHIVE_VOICES",
    "ImportSlots",
    "TooManyImports",
    "check_voice_archive",
    "read_bounded_archive",
]

MAX_ARCHIVE_VOICES: Final = 1000
"""Most voices one voices file may hold (export in parts beyond that)."""
FILES_PER_VOICE: Final = 5
"""Members a voice owns in a voices file: four ``.npy`` arrays and its clip."""
MAX_INDEX_BYTES: Final = 8 * 1024 * 1024
"""Largest ``voices.json`` (a voice's entry is well under 1 KB)."""


class TooManyImports(Overloaded):
    """``max_concurrent_imports`` uploads are being handled already."""

    reason = "too_many_imports"


class ImportSlots:
    """Try-acquire slots for uploads held in memory; ``limit`` 0 = no limit."""

    def __init__(self, limit: int = 0) -> None:
        self.limit = limit
        self.active = 0

    @contextlib.contextmanager
    def slot(self, method: str) -> Iterator[None]:
        if self.limit and self.active >= self.limit:
            raise TooManyImports(
                f"`max_concurrent_imports` is {self.limit} and {self.active} ImportVoices/SubmitBook calls are "
                f"running; retry {method} with backoff"
            )
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1


def _bad(problem: str) -> InvalidArgument:
    return InvalidArgument(f"voices file: {problem}")


def check_voice_archive(data: bytes, max_bytes: int) -> None:
    """Refuse a voices file by its sizes and its index alone; ``InvalidArgument`` naming the first problem."""
    if len(data) > max_bytes:
        raise _bad(f"{len(data)} bytes; `max_voice_archive_bytes` is {max_bytes}")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise _bad(f"not a zip file ({exc})") from None
    with archive:
        members = archive.infolist()
        if len(members) > 1 + FILES_PER_VOICE * MAX_ARCHIVE_VOICES:
            raise _bad(
                f"{len(members)} members; at most {1 + FILES_PER_VOICE * MAX_ARCHIVE_VOICES} "
                f"({MAX_ARCHIVE_VOICES} voices)"
            )
        unpacked = sum(m.file_size for m in members)
        if unpacked > max_bytes:
            raise _bad(f"unpacks to {unpacked} bytes; `max_voice_archive_bytes` is {max_bytes}")
        names = {m.filename for m in members}
        if len(names) != len(members):
            raise _bad("a member name appears twice in the zip")
        try:
            index_info = archive.getinfo(INDEX_NAME)
        except KeyError:
            raise _bad(f"no {INDEX_NAME}") from None
        if index_info.file_size > MAX_INDEX_BYTES:
            raise _bad(f"{INDEX_NAME} unpacks to {index_info.file_size} bytes; at most {MAX_INDEX_BYTES}")
        try:
            document = json.loads(archive.read(index_info))
        except (json.JSONDecodeError, UnicodeDecodeError, zipfile.BadZipFile, OSError, ValueError) as exc:
            raise _bad(f"{INDEX_NAME} is unreadable ({exc})") from None
    voices = document.get("voices") if isinstance(document, dict) else None
    if not isinstance(voices, list):
        raise _bad("`voices` must be a list")
    references = Counter(
        path
        for entry in voices
        if isinstance(entry, dict) and isinstance(entry.get("files"), dict)
        for path in entry["files"].values()
        if isinstance(path, str)
    )
    if references:
        path, count = references.most_common(1)[0]
        if count > 1:
            raise _bad(f"member {path[:120]} is named by {count} voices; each voice must have its own files")
    if len(voices) > MAX_ARCHIVE_VOICES:
        raise _bad(f"{len(voices)} voices; at most {MAX_ARCHIVE_VOICES} per file")


def read_bounded_archive(data: bytes, max_bytes: int) -> list[dict[str, bytes]]:
    """``check_voice_archive``, then the full validation and read (``voice_archive.read_archive``)."""
    check_voice_archive(data, max_bytes)
    return read_archive(data)
