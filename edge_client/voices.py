"""The voice library from the edge: register, list, show, update, delete, export and import voices.

    with Client("gateway:50051", api_key="...") as client:
        voice = client.register_voice("me.wav", "What the clip says.", language="en", name="me")
        for chunk in client.synthesize("Hello in my voice.", voice=voice.voice_id):
            ...

The request building is sans-IO (``register_requests``, ``update_requests``, ``import_requests``);
``VoicesMixin`` only sends them over the ``Client``'s channel. Registration answers once a worker has
conditioned the clip, so it gets a longer default deadline than other unary calls.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

import grpc

from protos import relaytts_v1_pb2 as pb
from relaytts.errors import InvalidArgument, RelayError
from relaytts.voices import VoiceInfo

if TYPE_CHECKING:
    from edge_client.client import _Watchdog

__all__ = [
    "DEFAULT_REGISTER_TIMEOUT_SECONDS",
    "PIECE_BYTES",
    "ImportResult",
    "VoiceInfo",
    "VoicesMixin",
    "import_requests",
    "read_clip",
    "register_requests",
    "update_requests",
]

PIECE_BYTES: Final = 1 << 20
"""Upload piece size (gRPC's default message limit is 4 MB)."""
DEFAULT_REGISTER_TIMEOUT_SECONDS: Final = 180.0
"""Deadline of RegisterVoice/UpdateVoice/ImportVoices: the gateway waits up to its queue timeout for a worker."""


@dataclass(frozen=True)
class ImportResult:
    """What ImportVoices did."""

    imported: list[str]
    skipped: list[str]
    """Ids the tenant already had, left unchanged (without ``replace_existing``)."""


def read_clip(source: bytes | str | Path | IO[bytes]) -> bytes:
    """The clip's file bytes from bytes, a path or a binary file object."""
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    if isinstance(source, str | Path):
        try:
            return Path(source).read_bytes()
        except OSError as exc:
            raise InvalidArgument(f"{source}: cannot read the clip ({exc.strerror})") from None
    return source.read()


def _pieces(data: bytes) -> Iterator[bytes]:
    for offset in range(0, len(data), PIECE_BYTES):
        yield data[offset:offset + PIECE_BYTES]


def register_requests(audio: bytes, transcript: str, language: str = "auto",
                      name: str = "") -> Iterator[pb.RegisterVoiceRequest]:
    """RegisterVoice's messages: the metadata, then the clip in pieces (arguments are checked now)."""
    if not transcript or not transcript.strip():
        raise InvalidArgument("`transcript` must not be empty: the words the clip says")
    if not audio:
        raise InvalidArgument("`audio` is empty")
    first = pb.RegisterVoiceRequest(metadata=pb.VoiceMetadata(name=name, language=language, transcript=transcript,
                                                              size_bytes=len(audio)))
    return iter([first, *(pb.RegisterVoiceRequest(audio=piece) for piece in _pieces(audio))])


def update_requests(voice_id: str, name: str | None = None, transcript: str | None = None,
                    language: str | None = None, audio: bytes | None = None,
                    recompute: bool = False) -> Iterator[pb.UpdateVoiceRequest]:
    """UpdateVoice's messages: what changes, then a new clip in pieces (if any)."""
    update = pb.VoiceUpdate(voice_id=voice_id, recompute=recompute, size_bytes=len(audio or b""))
    for field, value in (("name", name), ("transcript", transcript), ("language", language)):
        if value is not None:
            setattr(update, field, value)
    if audio is not None and not audio:
        raise InvalidArgument("`audio` is empty")
    pieces = [pb.UpdateVoiceRequest(audio=piece) for piece in _pieces(audio or b"")]
    return iter([pb.UpdateVoiceRequest(update=update), *pieces])


def import_requests(data: bytes, replace_existing: bool = False) -> Iterator[pb.ImportVoicesRequest]:
    """ImportVoices' messages: the options, then the file in pieces."""
    options = pb.ImportVoicesRequest(options=pb.ImportVoicesOptions(replace_existing=replace_existing))
    return iter([options, *(pb.ImportVoicesRequest(data=piece) for piece in _pieces(data))])


class VoicesMixin:
    """The Voices RPCs of the synchronous ``Client`` (which provides the channel, metadata and error mapping)."""

    timeout: float
    _metadata: tuple[tuple[str, str], ...]
    _voices: Any  # pb_grpc.VoicesStub; `_error(exc, method)` comes from the client base

    def _call(self, method: str, request: Any, timeout: float | None = None) -> Any:  # noqa: ANN401
        try:
            return getattr(self._voices, method)(request, timeout=timeout or self.timeout, metadata=self._metadata)
        except grpc.RpcError as exc:
            raise self._error(exc, method) from None

    def _long_timeout(self, timeout: float | None) -> float:
        if timeout is not None and not (timeout > 0 and math.isfinite(timeout)):
            raise InvalidArgument(f"`timeout` must be a positive number of seconds; given {timeout!r}")
        return timeout or max(self.timeout, DEFAULT_REGISTER_TIMEOUT_SECONDS)

    def register_voice(self, audio: bytes | str | Path | IO[bytes], transcript: str, language: str = "auto",
                       name: str = "", *, timeout: float | None = None) -> VoiceInfo:
        """Register a voice from a 3-10 s clip (WAV, FLAC, OGG or MP3; bytes, a path or a file) and its transcript.

        Returns once a worker has conditioned and stored it; the id goes in ``synthesize(voice=...)``.
        """
        requests = register_requests(read_clip(audio), transcript, language, name)
        return VoiceInfo.from_pb(self._call("RegisterVoice", requests, self._long_timeout(timeout)))

    def list_voices(self, page_size: int = 0) -> list[VoiceInfo]:
        """Every voice of this client's tenant, oldest first (fetched a page at a time)."""
        voices: list[VoiceInfo] = []
        token = ""
        while True:
            reply = self._call("ListVoices", pb.ListVoicesRequest(page_size=page_size, page_token=token))
            voices += [VoiceInfo.from_pb(v) for v in reply.voices]
            token = reply.next_page_token
            if not token:
                return voices

    def get_voice(self, voice_id: str) -> VoiceInfo:
        return VoiceInfo.from_pb(self._call("GetVoice", pb.GetVoiceRequest(voice_id=voice_id)))

    def update_voice(self, voice_id: str, *, name: str | None = None, transcript: str | None = None,
                     language: str | None = None, audio: bytes | str | Path | IO[bytes] | None = None,
                     recompute: bool = False, timeout: float | None = None) -> VoiceInfo:
        """Rename (``name`` alone) or recompute a voice (new ``transcript``/``language``/``audio``, or ``recompute``
        with the bundle the workers serve now)."""
        clip = None if audio is None else read_clip(audio)
        requests = update_requests(voice_id, name, transcript, language, clip, recompute)
        return VoiceInfo.from_pb(self._call("UpdateVoice", requests, self._long_timeout(timeout)))

    def delete_voice(self, voice_id: str) -> None:
        self._call("DeleteVoice", pb.DeleteVoiceRequest(voice_id=voice_id))

    def export_voices(self, voice_ids: Iterable[str] = ()) -> bytes:
        """The portable voices file (zip) of ``voice_ids``, or of every voice of the tenant."""
        from edge_client.client import _read, _Watchdog

        watchdog: _Watchdog = _Watchdog()
        call = self._voices.ExportVoices(pb.ExportVoicesRequest(voice_ids=list(voice_ids)), metadata=self._metadata)
        pieces: list[bytes] = []
        try:
            for piece in _read(call, self.timeout, watchdog, "piece of the voices file"):
                if piece.offset != sum(map(len, pieces)):
                    raise RelayError(f"voices file piece at offset {piece.offset} arrived out of order")
                pieces.append(piece.data)
        except grpc.RpcError as exc:
            raise self._error(exc, "ExportVoices") from None
        finally:
            watchdog.close()
        return b"".join(pieces)

    def import_voices(self, data: bytes | str | Path | IO[bytes], replace_existing: bool = False, *,
                      timeout: float | None = None) -> ImportResult:
        """Load a file made by ``export_voices`` into this client's tenant (all or nothing)."""
        reply = self._call("ImportVoices", import_requests(read_clip(data), replace_existing),
                           self._long_timeout(timeout))
        return ImportResult(list(reply.imported_voice_ids), list(reply.skipped_voice_ids))
