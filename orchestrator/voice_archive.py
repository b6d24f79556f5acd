"""The portable voices file of ExportVoices / ImportVoices: a zip of JSON metadata, ``.npy`` arrays and clips.

Layout (docs/protocol.md §5.5)::

    voices.json                         {"kind": "relaytts-voices", "format": 1, "voices": [{...}, ...]}
    voices/<voice_id>/prompt_phones.npy int64   [Np]
    voices/<voice_id>/prompt_tokens.npy int64   [Tp]
    voices/<voice_id>/prompt_bert.npy   float32 [1024, Np]
    voices/<voice_id>/ge.npy            float32 [gin]
    voices/<voice_id>/sv_emb.npy        float32 [20480]  (v2Pro / v2ProPlus voices only)
    voices/<voice_id>/audio.<ext>       the clip as uploaded (wav, flac, ogg or mp3)

No pickle anywhere: arrays are read with ``allow_pickle=False`` and must have exactly the dtype and
shape above. The file is deterministic (entries in voice order, fixed timestamps, sorted JSON keys),
so exporting the same voices twice gives the same bytes, also after a delete and an import.
Reading checks everything before anything is written: sizes (no zip bombs), names, dtypes, shapes,
and each voice's content hash and voice hash against its clip and arrays (a tampered file is refused).
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from typing import Any, Final

import numpy as np

from orchestrator.zipcheck import check_zip
from relaytts.errors import InvalidArgument
from relaytts.voices import (
    ARRAY_DTYPES,
    AUDIO_FIELD,
    MAX_NAME_CHARS,
    MAX_TRANSCRIPT_CHARS,
    OPTIONAL_ARRAY_DTYPES,
    RECORD_FORMAT,
    TRANSCRIPT_LANGUAGES,
    array_shapes,
    check_voice_id,
    content_hash,
    voice_hash_of,
)

__all__ = ["ARCHIVE_KIND", "MAX_ARCHIVE_BYTES", "read_archive", "write_archive"]

ARCHIVE_KIND: Final = "relaytts-voices"
INDEX_NAME: Final = "voices.json"
MAX_ARCHIVE_BYTES: Final = 1 << 30
"""Largest voices file ImportVoices reads, compressed or not (about 1000 voices of 1 MB clips)."""
AUDIO_EXTENSIONS: Final = {"WAV": "wav", "FLAC": "flac", "OGG": "ogg", "MP3": "mp3"}
_DATE: Final = (1980, 1, 1, 0, 0, 0)
_TEXT: Final = ("name", "language", "transcript", "content_hash", "bundle_id", "model_version", "voice_hash",
                "audio_format")
_TIMES: Final = ("created_at", "updated_at", "audio_seconds")


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def _npy(raw: bytes, dtype: str, shape: tuple[int, ...]) -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array(out, np.frombuffer(raw, dtype).reshape(shape), version=(1, 0), allow_pickle=False)
    return out.getvalue()


def write_archive(records: list[dict[str, bytes]]) -> bytes:
    """The voices file of whole voice records (``VoiceStore.records``)."""
    out = io.BytesIO()
    index: list[dict[str, Any]] = []
    with zipfile.ZipFile(out, "w") as archive:
        for record in records:
            voice_id = record["voice_id"].decode()
            entry: dict[str, Any] = {"voice_id": voice_id}
            entry |= {name: record.get(name, b"").decode() for name in _TEXT}
            entry |= {name: float(record.get(name, b"0")) for name in _TIMES}
            shapes = array_shapes(record)
            files = {}
            for name, dtype in (ARRAY_DTYPES | OPTIONAL_ARRAY_DTYPES).items():
                if name not in shapes:
                    continue
                path = f"voices/{voice_id}/{name}.npy"
                archive.writestr(_entry(path), _npy(record[name], dtype, shapes[name]))
                files[name] = path
            ext = AUDIO_EXTENSIONS.get(entry["audio_format"], "bin")
            files[AUDIO_FIELD] = f"voices/{voice_id}/audio.{ext}"
            archive.writestr(_entry(files[AUDIO_FIELD]), record[AUDIO_FIELD])
            entry["files"] = files
            index.append(entry)
        document = {"kind": ARCHIVE_KIND, "format": RECORD_FORMAT, "voices": index}
        archive.writestr(_entry(INDEX_NAME), json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False))
    return out.getvalue()


def _bad(problem: str) -> InvalidArgument:
    return InvalidArgument(f"voices file: {problem}")


def _read_member(archive: zipfile.ZipFile, name: object, what: str) -> bytes:
    if not isinstance(name, str):
        raise _bad(f"{what}: file name missing")
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise _bad(f"{what}: {name} is not in the file") from None
    if info.file_size > MAX_ARCHIVE_BYTES:
        raise _bad(f"{name} unpacks to {info.file_size} bytes (at most {MAX_ARCHIVE_BYTES})")
    return archive.read(info)


def _array(archive: zipfile.ZipFile, path: object, name: str, voice_id: str) -> bytes:
    data = _read_member(archive, path, f"voice {voice_id} {name}")
    try:
        array = np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise _bad(f"voice {voice_id} {name}: not a plain .npy array ({exc})") from None
    dtype = (ARRAY_DTYPES | OPTIONAL_ARRAY_DTYPES)[name]
    if array.dtype.str != dtype:
        raise _bad(f"voice {voice_id} {name}: dtype {array.dtype.str}; {dtype} expected")
    return np.ascontiguousarray(array).tobytes()


def _record(archive: zipfile.ZipFile, entry: Any) -> dict[str, bytes]:  # noqa: ANN401 - JSON
    if not isinstance(entry, dict):
        raise _bad("each voice must be a JSON object")
    try:
        voice_id = check_voice_id(str(entry.get("voice_id", "")))
    except InvalidArgument as exc:
        raise _bad(str(exc)) from None
    text = {name: entry.get(name) for name in _TEXT}
    if not all(isinstance(v, str) for v in text.values()):
        raise _bad(f"voice {voice_id}: {', '.join(_TEXT)} must be strings")
    if text["language"] not in TRANSCRIPT_LANGUAGES or not text["transcript"].strip() or \
            len(text["transcript"]) > MAX_TRANSCRIPT_CHARS or len(text["name"]) > MAX_NAME_CHARS:
        raise _bad(f"voice {voice_id}: bad language, transcript or name")
    times = {name: entry.get(name) for name in _TIMES}
    if not all(isinstance(v, int | float) and math.isfinite(v) and v >= 0 for v in times.values()):
        raise _bad(f"voice {voice_id}: {', '.join(_TIMES)} must be finite numbers >= 0")
    files = entry.get("files")
    if not isinstance(files, dict):
        raise _bad(f"voice {voice_id}: no `files`")
    record = {name: value.encode() for name, value in text.items()}
    record |= {name: repr(float(value)).encode() for name, value in times.items()}
    record["voice_id"] = voice_id.encode()
    for name in ARRAY_DTYPES:
        record[name] = _array(archive, files.get(name), name, voice_id)
    for name in OPTIONAL_ARRAY_DTYPES:
        if name in files:
            record[name] = _array(archive, files[name], name, voice_id)
    record[AUDIO_FIELD] = _read_member(archive, files.get(AUDIO_FIELD), f"voice {voice_id} clip")
    try:
        array_shapes(record)
    except ValueError as exc:
        raise _bad(f"voice {voice_id}: {exc}") from None
    expected = content_hash(record[AUDIO_FIELD], text["transcript"], text["language"], text["bundle_id"])
    if text["content_hash"] != expected or text["voice_hash"] != voice_hash_of(record["ge"]):
        raise _bad(f"voice {voice_id}: its hashes do not match its clip and arrays (altered file)")
    return record


def read_archive(data: bytes) -> list[dict[str, bytes]]:
    """Validated voice records (no tenant) from a voices file; ``InvalidArgument`` naming the first problem."""
    if len(data) > MAX_ARCHIVE_BYTES:
        raise _bad(f"{len(data)} bytes (at most {MAX_ARCHIVE_BYTES})")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise _bad(f"not a zip file ({exc})") from None
    with archive:
        check_zip(archive, MAX_ARCHIVE_BYTES, "voices file")  # sizes, entries and ratios, before expanding
        try:
            document = json.loads(_read_member(archive, INDEX_NAME, "index"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise _bad(f"{INDEX_NAME} is not JSON ({exc})") from None
        if not isinstance(document, dict) or document.get("kind") != ARCHIVE_KIND:
            raise _bad(f"{INDEX_NAME} is not a relaytts voices index")
        version = document.get("format")
        if not isinstance(version, int) or version > RECORD_FORMAT:
            raise _bad(f"format {version!r} is newer than this gateway reads ({RECORD_FORMAT}); upgrade relaytts")
        voices = document.get("voices")
        if not isinstance(voices, list):
            raise _bad("`voices` must be a list")
        try:
            records = [_record(archive, entry) for entry in voices]
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
            raise _bad(f"unreadable ({exc})") from None
    ids = [r["voice_id"] for r in records]
    if len(set(ids)) != len(ids):
        raise _bad("a voice id appears twice")
    return records
