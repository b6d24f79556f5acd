"""Book jobs from the edge: submit, follow, cancel, re-roll, and render chapter files locally.

    from edge_client import Client
    from edge_client.books import BookClient

    with Client("127.0.0.1:50051") as client:
        books = BookClient(client)
        job = books.submit("moby-dick.epub", voice="default")
        for event in books.watch(job.job_id):
            print(event.segments_done, "/", event.segments_total, "ETA", event.eta_seconds)
        books.render(job.job_id, "out/")            # one WAV per chapter

``BookClient`` rides on a ``Client``: its channel, API key, deadlines, vocoder cache and style cache.
A segment is fetched with ``StreamSegment`` (a one-segment job in the Synthesize chunk format) and
decoded by the same ``ChunkAssembler`` as live speech, so a segment renders exactly as it would have
streamed. ``render`` (``BookRenderer``) writes one file per chapter under a temporary name and renames
it when complete, and keeps ``.relaytts-book.json`` beside the files: which takes each file holds. A
second render redoes only chapters that are missing or whose segments were re-rolled since.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import grpc
import numpy as np

from edge_client.client import _read, _Watchdog, backoff_seconds, checked_noise_scale, sampling_to_pb
from edge_client.stitch import ChunkAssembler
from protos import relaytts_v1_pb2 as pb
from protos import relaytts_v1_pb2_grpc as pb_grpc
from relaytts.books import BookChapterState, BookFormat, BookSegmentState, BookState, JobEventState
from relaytts.errors import DeadlineExceeded, InvalidArgument, RelayError, Unavailable
from relaytts.jobs import JobStatus
from relaytts.local import SEGMENT_GAP_SECONDS
from relaytts.sampling import SamplingParams

if TYPE_CHECKING:
    from edge_client.client import Client
    from edge_client.vocoder import Vocoder

__all__ = ["AUDIO_FORMATS", "FFMPEG_FORMATS", "BookClient", "BookRenderer", "RenderReport", "RenderedChapter"]

UPLOAD_PIECE_BYTES: Final = 1024 * 1024
"""SubmitBook data pieces (gRPC's default message cap is 4 MiB)."""
UPLOAD_BYTES_PER_SECOND: Final = 1024 * 1024
"""The slowest upload the SubmitBook deadline allows for, beyond the client's timeout."""
WATCH_IDLE_SECONDS: Final = 30.0
"""A watch silent this long is dropped and resumed (the gateway refreshes every few seconds)."""
MANIFEST_NAME: Final = ".relaytts-book.json"
AUDIO_FORMATS: Final = ("wav", "flac")
"""Written with soundfile, always available."""
FFMPEG_FORMATS: Final = ("mp3", "opus", "m4b")
"""Need ``ffmpeg`` on PATH; m4b is one file for the whole book, with chapter marks."""
_UNSAFE = re.compile(r"[^\w\s.,'()&-]+")


@dataclass
class RenderedChapter:
    index: int
    title: str
    path: Path
    seconds: float
    rendered: bool
    """False when the file from an earlier render was still current."""


@dataclass
class RenderReport:
    job: BookState
    chapters: list[RenderedChapter] = field(default_factory=list)
    pending: list[int] = field(default_factory=list)
    """Chapters not rendered: not finished yet (without ``follow``), failed or cancelled."""
    book_file: Path | None = None
    """The m4b file, for that format."""


class RenderProgress:
    """What ``BookRenderer`` tells its caller (the CLI draws a rich progress bar from it)."""

    def total(self, segments: int) -> None:
        """Segments the render covers (grows once a followed job is planned)."""

    def advance(self, segments: int, description: str) -> None:
        """``segments`` more are rendered (or were current already)."""


class BookClient:
    """The Books service over ``client``'s channel (see the module docstring)."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._stub = pb_grpc.BooksStub(client._channel)

    def _call(self, method: str, request: Any, timeout: float | None = None) -> Any:  # noqa: ANN401
        try:
            return getattr(self._stub, method)(request, timeout=timeout or self.client.timeout,
                                               metadata=self.client._metadata)
        except grpc.RpcError as exc:
            raise self.client._error(exc, method) from None

    def submit(self, source: str | Path | bytes, *, filename: str = "", voice: str = "", title: str = "",
               language: str = "auto", fmt: BookFormat | None = None, sampling: SamplingParams | None = None,
               seed: int | None = None, noise_scale: float | None = None) -> BookState:
        """Upload a book (a path, or the file's bytes with ``filename``) and queue it; the job, chapters included."""
        if isinstance(source, bytes):
            data = source
        else:
            path = Path(source)
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise InvalidArgument(f"{path}: cannot read the book ({exc.strerror})") from None
            filename = filename or path.name
        header = pb.BookHeader(filename=filename, format=fmt.to_pb() if fmt else pb.BOOK_FORMAT_UNSPECIFIED,
                               title=title, voice=voice, language=language, size_bytes=len(data))
        params = sampling_to_pb(sampling, seed)
        if params is not None:
            header.sampling.CopyFrom(params)
        if noise_scale is not None:
            header.noise_scale = checked_noise_scale(noise_scale)

        def messages() -> Iterator[pb.SubmitBookRequest]:
            yield pb.SubmitBookRequest(header=header)
            for start in range(0, len(data), UPLOAD_PIECE_BYTES):
                yield pb.SubmitBookRequest(data=data[start : start + UPLOAD_PIECE_BYTES])

        deadline = self.client.timeout + len(data) / UPLOAD_BYTES_PER_SECOND
        return BookState.from_pb(self._call("SubmitBook", messages(), deadline))

    def get(self, job_id: str, segments: bool = False) -> BookState:
        return BookState.from_pb(self._call("GetJob", pb.GetJobRequest(job_id=job_id, include_segments=segments)))

    def list(self, limit: int = 50) -> list[BookState]:
        """The caller's jobs, newest first (without chapters)."""
        return [BookState.from_pb(j) for j in self._call("ListJobs", pb.ListJobsRequest(limit=limit)).jobs]

    def cancel(self, job_id: str) -> bool:
        """False when the job had already ended."""
        return self._call("CancelJob", pb.CancelJobRequest(job_id=job_id)).cancelled

    def reroll(self, job_id: str, chapter: int, segment: int, seed: int | None = None) -> BookSegmentState:
        """Redo one segment (indexes from 0) with a new seed; the new take, queued."""
        request = pb.RerollSegmentRequest(job_id=job_id, chapter_index=chapter, segment_index=segment)
        if seed is not None:
            request.seed = seed
        return BookSegmentState.from_pb(self._call("RerollSegment", request))

    def watch(self, job_id: str) -> Iterator[JobEventState]:
        """Progress events until the job ends (the last one has ``final``); a dropped watch is resumed
        (it restarts with a snapshot), at most ``client.retry_limit`` times in a row."""
        failures = 0
        watchdog = _Watchdog()
        try:
            while True:
                call = self._stub.WatchJob(pb.WatchJobRequest(job_id=job_id), metadata=self.client._metadata)
                error: RelayError | None = None
                try:
                    for message in _read(call, max(WATCH_IDLE_SECONDS, self.client.timeout), watchdog, "event"):
                        failures = 0
                        event = JobEventState.from_pb(message)
                        yield event
                        if event.final:
                            return
                except grpc.RpcError as exc:
                    error = self.client._error(exc, "WatchJob")
                except DeadlineExceeded as exc:
                    error = exc
                finally:
                    call.cancel()
                failures += 1
                if (error is not None and not isinstance(error, Unavailable)) or failures > self.client.retry_limit:
                    raise error or Unavailable(f"job {job_id}: the watch ended before the job did")
                time.sleep(backoff_seconds(failures, self.client.retry_backoff))
        finally:
            watchdog.close()

    def segment_audio(self, job_id: str, chapter: int, segment: int,
                      vocoder: Vocoder | None = None) -> tuple[np.ndarray, str]:
        """One segment's audio (float32) and the take it is; dropped streams resume after the last seq."""
        vocoder = vocoder or self.client.ensure_vocoder()
        assembler = ChunkAssembler(vocoder, self.client.styles, gap_seconds=0.0)
        pieces: list[np.ndarray] = []
        failures = 0
        watchdog = _Watchdog()
        try:
            while not assembler.done:
                request = pb.StreamSegmentRequest(job_id=job_id, chapter_index=chapter, segment_index=segment,
                                                  after_seq=assembler.last_seq,
                                                  cached_voice_hashes=assembler.announced_voice_hashes)
                call = self._stub.StreamSegment(request, metadata=self.client._metadata)
                error: RelayError | None = None
                try:
                    for chunk in _read(call, self.client.timeout, watchdog, "chunk"):
                        before = assembler.last_seq
                        pieces.extend(piece.samples for piece in assembler.feed(chunk))
                        if assembler.last_seq > before:
                            failures = 0
                        if assembler.done:
                            break
                except grpc.RpcError as exc:
                    error = self.client._error(exc, "StreamSegment")
                except DeadlineExceeded as exc:
                    error = exc
                finally:
                    call.cancel()
                if assembler.done:
                    break
                failures += 1
                if (error is not None and not isinstance(error, Unavailable)) or failures > self.client.retry_limit:
                    raise error or Unavailable(f"job {job_id}: segment {chapter}.{segment} ended early")
                time.sleep(backoff_seconds(failures, self.client.retry_backoff))
        finally:
            watchdog.close()
        if assembler.status != pb.JOB_STATUS_DONE:
            status = pb.JobStatus.Name(assembler.status).removeprefix("JOB_STATUS_").lower()
            raise RelayError(f"job {job_id}: segment {segment} of chapter {chapter} is {status}"
                             f"{f': {assembler.error}' if assembler.error else ''}")
        audio = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
        return audio, assembler.job_id

    def render(self, job_id: str, out_dir: str | Path, fmt: str = "wav", follow: bool = False,
               progress: RenderProgress | None = None) -> RenderReport:
        """Write one file per chapter into ``out_dir`` (see ``BookRenderer``)."""
        return BookRenderer(self, job_id, Path(out_dir), fmt, follow, progress).run()


def chapter_file_name(chapter: BookChapterState, chapters: int, ext: str) -> str:
    """``07 - The Whiteness of the Whale.wav``: numbered from 1, with the title made safe for file systems."""
    width = max(2, len(str(chapters)))
    title = _UNSAFE.sub("_", chapter.title).strip(" ._")
    title = re.sub(r"\s+", " ", title)[:80].strip() or f"Chapter {chapter.index + 1}"
    return f"{chapter.index + 1:0{width}d} - {title}.{ext}"


class BookRenderer:
    """Render a job's chapters: finished chapters now, the rest as they finish with ``follow``.

    A chapter is its segments' audio joined with ``SEGMENT_GAP_SECONDS`` of silence between two
    non-empty segments (as a live stream joins segments), written under a temporary name and renamed
    once complete. Rendering is resumable: ``.relaytts-book.json`` records each file's takes, and a
    chapter whose file is present with the same takes (and format) is not redone.
    """

    def __init__(self, books: BookClient, job_id: str, out_dir: Path, fmt: str = "wav", follow: bool = False,
                 progress: RenderProgress | None = None) -> None:
        fmt = fmt.lower()
        if fmt not in AUDIO_FORMATS + FFMPEG_FORMATS:
            raise InvalidArgument(f"`format` must be one of {', '.join(AUDIO_FORMATS + FFMPEG_FORMATS)}; given {fmt!r}")
        if fmt in FFMPEG_FORMATS and shutil.which("ffmpeg") is None:
            raise InvalidArgument(f"`--format {fmt}` needs ffmpeg on PATH, and there is none: install ffmpeg, or "
                                  f"render {' or '.join(AUDIO_FORMATS)} (written without it)")
        self.books = books
        self.job_id = job_id
        self.out_dir = out_dir
        self.fmt = fmt
        self.follow = follow
        self.progress = progress or RenderProgress()
        # m4b: chapters are rendered (and resumed) as WAV in a hidden folder, then joined with chapter marks
        self.chapter_dir = out_dir / ".chapters" if fmt == "m4b" else out_dir
        self.chapter_fmt = "wav" if fmt == "m4b" else fmt
        self.manifest_path = self.chapter_dir / MANIFEST_NAME
        self.manifest: dict[str, Any] = {}

    def _load_manifest(self) -> None:
        self.chapter_dir.mkdir(parents=True, exist_ok=True)
        try:
            manifest = json.loads(self.manifest_path.read_text())
        except (OSError, ValueError):
            manifest = {}
        if manifest.get("job_id") not in (None, self.job_id):
            raise InvalidArgument(f"{self.out_dir} holds the chapters of job {manifest['job_id']}; render job "
                                  f"{self.job_id} into another directory")
        self.manifest = {"job_id": self.job_id, "chapters": manifest.get("chapters", {})}

    def _save_manifest(self) -> None:
        fd, name = tempfile.mkstemp(prefix=f"{MANIFEST_NAME}.", dir=self.chapter_dir)
        with os.fdopen(fd, "w") as out:
            json.dump(self.manifest, out, indent=1)
        os.replace(name, self.manifest_path)

    def _current(self, chapter: BookChapterState) -> dict[str, Any] | None:
        entry = self.manifest["chapters"].get(str(chapter.index))
        takes = [s.take_id for s in chapter.segments]
        if (entry and entry.get("takes") == takes and entry.get("format") == self.chapter_fmt
                and (self.chapter_dir / entry["file"]).is_file()):
            return entry
        return None

    def run(self) -> RenderReport:
        vocoder = self.books.client.ensure_vocoder()
        self._load_manifest()
        done: dict[int, RenderedChapter] = {}
        counted: set[int] = set()
        events: Iterator[JobEventState] | None = None
        try:
            while True:
                job = self.books.get(self.job_id, segments=True)
                self.progress.total(sum(len(c.segments) for c in job.chapters))
                for chapter in job.chapters:
                    if chapter.index in done:
                        continue
                    entry = self._current(chapter)
                    if entry is None and chapter.status is not JobStatus.DONE:
                        continue
                    if entry is not None:
                        result = RenderedChapter(chapter.index, chapter.title, self.chapter_dir / entry["file"],
                                                 entry["seconds"], rendered=False)
                        self.progress.advance(len(chapter.segments), chapter.title)
                    else:
                        result = self._render(chapter, len(job.chapters), vocoder)
                        if result is None:  # a segment was re-rolled while we read it: look again
                            continue
                    done[chapter.index] = result
                    counted.add(chapter.index)
                waiting = [c for c in job.chapters if c.index not in done and c.status
                           not in (JobStatus.FAILED, JobStatus.CANCELLED)]
                if not self.follow or not waiting or job.status.finished:
                    break
                events = events or self.books.watch(self.job_id)
                if not self._wait_for_chapter(events, {c.index for c in waiting}):
                    events = None  # that watch saw the job end; a re-roll reopened it: watch again
        finally:
            if events is not None:
                events.close()  # type: ignore[attr-defined]
        report = RenderReport(job, [done[i] for i in sorted(done)],
                              [c.index for c in job.chapters if c.index not in done])
        if self.fmt == "m4b" and not report.pending and report.chapters:
            report.book_file = self._m4b(job, report.chapters, rebuild=any(c.rendered for c in report.chapters))
        return report

    @staticmethod
    def _wait_for_chapter(events: Iterator[JobEventState], waiting: set[int]) -> bool:
        """Consume events until one may have finished a waiting chapter or ended the job; False when the
        watch has ended."""
        for event in events:
            if event.final or event.kind.value in ("planned", "cancelled", "failed"):
                return not event.final
            if event.segment is not None and event.segment.chapter in waiting and event.segment.status.finished:
                return True
        return False

    def _render(self, chapter: BookChapterState, chapters: int, vocoder: Vocoder) -> RenderedChapter | None:
        import soundfile

        name = chapter_file_name(chapter, chapters, self.chapter_fmt if self.chapter_fmt in AUDIO_FORMATS else "wav")
        final = self.chapter_dir / name
        part = self.chapter_dir / f".{name}.part"
        rate = vocoder.sample_rate
        gap = np.zeros(int(round(SEGMENT_GAP_SECONDS * rate)), np.float32)
        takes, samples, written = [], 0, False
        subtype = "PCM_16"
        fmt = "FLAC" if self.chapter_fmt == "flac" else "WAV"
        try:
            with soundfile.SoundFile(part, "w", rate, 1, subtype, format=fmt) as out:
                for segment in chapter.segments:
                    audio, take = self.books.segment_audio(self.job_id, chapter.index, segment.index, vocoder)
                    takes.append(take)
                    if len(audio):
                        if written:
                            out.write(gap)
                            samples += len(gap)
                        out.write(audio)
                        samples += len(audio)
                        written = True
                    self.progress.advance(1, chapter.title)
            if takes != [s.take_id for s in chapter.segments]:
                part.unlink(missing_ok=True)
                return None
            if self.chapter_fmt in FFMPEG_FORMATS:
                final = final.with_suffix(f".{self.chapter_fmt}")
                self._encode(part, final, chapter, chapters)
            else:
                os.replace(part, final)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        seconds = samples / rate
        self.manifest["chapters"][str(chapter.index)] = {
            "file": final.name, "title": chapter.title, "takes": takes, "format": self.chapter_fmt,
            "samples": samples, "seconds": seconds}
        self._save_manifest()
        return RenderedChapter(chapter.index, chapter.title, final, seconds, rendered=True)

    def _encode(self, wav: Path, final: Path, chapter: BookChapterState, chapters: int) -> None:
        """WAV -> mp3/opus with ffmpeg (title and track tags), through a temporary name."""
        part = final.with_name(f".{final.name}.part")
        codec = {"mp3": ["-c:a", "libmp3lame", "-q:a", "4", "-f", "mp3"],
                 "opus": ["-c:a", "libopus", "-b:a", "48k", "-f", "ogg"]}[self.chapter_fmt]
        command = ["ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-i", str(wav),
                   "-metadata", f"title={chapter.title}", "-metadata", f"track={chapter.index + 1}/{chapters}",
                   *codec, str(part)]
        try:
            proc = subprocess.run(command, capture_output=True, text=True)
            if proc.returncode != 0:
                raise RelayError(f"ffmpeg could not write {final.name}: {proc.stderr.strip()[-500:]}")
            os.replace(part, final)
        finally:
            wav.unlink(missing_ok=True)
            part.unlink(missing_ok=True)

    def _m4b(self, job: BookState, chapters: list[RenderedChapter], rebuild: bool) -> Path:
        """Join the chapter WAVs into one AAC audiobook with chapter marks (ffmpeg); kept when no chapter changed."""
        title = _UNSAFE.sub("_", job.title).strip(" ._")[:80] or job.job_id
        final = self.out_dir / f"{title}.m4b"
        if final.is_file() and not rebuild:
            return final
        part = self.out_dir / f".{title}.m4b.part"
        listing = self.chapter_dir / "concat.txt"
        metadata = self.chapter_dir / "chapters.txt"
        quoted = (c.path.resolve().as_posix().replace("'", "'\\''") for c in chapters)  # the concat format's quoting
        listing.write_text("".join(f"file '{path}'\n" for path in quoted))
        lines, start = [";FFMETADATA1", f"title={_ffmeta(job.title)}"], 0
        for chapter in chapters:
            end = start + int(round(chapter.seconds * 1000))
            lines += ["[CHAPTER]", "TIMEBASE=1/1000", f"START={start}", f"END={end}",
                      f"title={_ffmeta(chapter.title)}"]
            start = end
        metadata.write_text("\n".join(lines) + "\n")
        command = ["ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-f", "concat", "-safe", "0", "-i", str(listing),
                   "-i", str(metadata), "-map_metadata", "1", "-map_chapters", "1", "-map", "0:a", "-c:a", "aac",
                   "-b:a", "64k", "-f", "mp4", str(part)]
        proc = subprocess.run(command, capture_output=True, text=True)
        if proc.returncode != 0:
            part.unlink(missing_ok=True)
            raise RelayError(f"ffmpeg could not write {final.name}: {proc.stderr.strip()[-500:]}")
        os.replace(part, final)
        return final


def _ffmeta(text: str) -> str:
    """Escape a value for ffmpeg's metadata file format."""
    return re.sub(r"([=;#\\\n])", r"\\\1", text)

