"""Where the audio goes: a WAV file, or raw 16-bit PCM on stdout (for a player: ``| aplay -f S16_LE -r 32000``).

Sinks only consume ``AudioChunk``s; both write the chunks' ``pcm16`` bytes, so a WAV file and the raw
stream hold the same samples. ``live`` tells the client whether the consumer plays in real time
(underruns are only counted for live sinks).
"""

from __future__ import annotations

import glob
import os
import sys
import tempfile
from pathlib import Path
from typing import BinaryIO, Protocol

import numpy as np

from edge_client.vocoder import AudioChunk

__all__ = ["RawPcmSink", "Sink", "WavSink", "open_sink"]


class Sink(Protocol):
    live: bool

    def write(self, chunk: AudioChunk) -> None: ...

    def close(self) -> None:
        """Finish the output (the audio is complete)."""

    def abort(self) -> None:
        """Stop after a failure (a file sink leaves no partial file)."""


class WavSink:
    """A mono 16-bit WAV file, written under a temporary name and renamed into place by ``close()``.

    ``abort()`` (or leaving the ``with`` block by an exception) deletes it: a failed synthesis never
    leaves a truncated file behind. The sample rate is that of the first chunk unless given.
    """

    live = False

    def __init__(self, path: str | Path, sample_rate: int | None = None) -> None:
        self.path = Path(path)
        self.sample_rate = sample_rate
        self.frames = 0
        self._file = None
        _remove_orphaned_parts(self.path)
        # The pid in the name tells a later writer whether the file's owner is still alive (SIGKILL
        # leaves no chance to clean up; the next WavSink for the same path does it).
        fd, name = tempfile.mkstemp(prefix=f".{self.path.name}.{os.getpid()}.", suffix=".part",
                                    dir=self.path.parent or ".")
        os.close(fd)
        self._part = Path(name)

    def __enter__(self) -> WavSink:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def _open(self, sample_rate: int):  # noqa: ANN202 - soundfile.SoundFile
        import soundfile

        self.sample_rate = self.sample_rate or sample_rate
        self._file = soundfile.SoundFile(self._part, "w", self.sample_rate, 1, "PCM_16", format="WAV")
        return self._file

    def write(self, chunk: AudioChunk) -> None:
        handle = self._file or self._open(chunk.sample_rate)
        if chunk.sample_rate != self.sample_rate:
            raise ValueError(f"chunk at {chunk.sample_rate} Hz written to a {self.sample_rate} Hz WAV file")
        handle.write(np.frombuffer(chunk.pcm16, "<i2"))
        self.frames += len(chunk.samples)

    def close(self) -> None:
        if not self._part.exists():
            return
        handle = self._file or self._open(32000)
        handle.close()
        os.replace(self._part, self.path)

    def abort(self) -> None:
        if self._file is not None:
            self._file.close()
        self._part.unlink(missing_ok=True)


def _remove_orphaned_parts(path: Path) -> None:
    """Delete ``.NAME.PID.*.part`` files beside ``path`` whose writing process no longer exists."""
    prefix = f".{path.name}."
    for part in (path.parent or Path(".")).glob(f"{glob.escape(prefix)}*.part"):
        pid = part.name[len(prefix):].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            part.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


class RawPcmSink:
    """Little-endian signed 16-bit mono PCM to a binary stream (stdout by default), flushed per chunk."""

    live = True

    def __init__(self, stream: BinaryIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout.buffer
        self.frames = 0

    def __enter__(self) -> RawPcmSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, chunk: AudioChunk) -> None:
        self.stream.write(chunk.pcm16)
        self.stream.flush()
        self.frames += len(chunk.samples)

    def close(self) -> None:
        self.stream.flush()

    def abort(self) -> None:
        """Nothing to undo: what was written has been played."""


def open_sink(target: str | Path, sample_rate: int | None = None) -> WavSink | RawPcmSink:
    """``-`` = raw PCM on stdout, anything else = a WAV file at that path."""
    if str(target) == "-":
        return RawPcmSink()
    return WavSink(target, sample_rate)
