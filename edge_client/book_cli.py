"""``relaytts book``: audiobook jobs from the command line (``book_group``; ``relaytts/cli.py`` registers it).

    relaytts book submit moby-dick.epub --voice default     # prints the job id
    relaytts book watch JOB                                 # progress bar until it ends
    relaytts book render JOB -o out/ --follow               # chapter files, while the job still runs

Chapters and segments are numbered from 1 here (as ``book status`` shows them). Unset flags fall back
to ``RELAYTTS_EDGE_*`` variables, then to the defaults. Only click is imported at module level.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from edge_client.tls_cli import tls_options
from relaytts.errors import RelayError

__all__ = ["book_group"]

F = TypeVar("F", bound=Callable[..., Any])


def _edge_options(func: F) -> F:
    """--gateway, --api-key and --cache-dir on every subcommand, one-line errors."""

    @click.option("--gateway", default=None, help="Gateway host:port [env RELAYTTS_EDGE_GATEWAY; 127.0.0.1:50051].")
    @click.option("--api-key", default=None, help="API key sent as a bearer token [env RELAYTTS_EDGE_API_KEY].")
    @click.option("--cache-dir", default=None, type=click.Path(file_okay=False),
                  help="Vocoder cache [env RELAYTTS_EDGE_CACHE_DIR; ~/.cache/relaytts].")
    @tls_options
    @functools.wraps(func)
    def wrapper(*args: Any, gateway: str | None, api_key: str | None, cache_dir: str | None,  # noqa: ANN401
                edge_tls: dict[str, Any], **kwargs: Any) -> Any:  # noqa: ANN401
        from edge_client.books import BookClient
        from edge_client.client import Client
        from relaytts.settings import load_settings

        try:
            settings = load_settings(overrides={"edge.gateway": gateway, "edge.api_key": api_key,
                                                "edge.cache_dir": cache_dir, **edge_tls})
            with Client.from_settings(settings.edge) as client:
                return func(BookClient(client), *args, **kwargs)
        except RelayError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def _when(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else \
        f"{seconds // 60}:{seconds % 60:02d}"


def _describe(job: Any) -> str:  # noqa: ANN401 - relaytts.books.BookState
    eta = f", ETA {_when(job.eta_seconds)}" if job.eta_seconds is not None else ""
    speed = f", {job.audio_seconds_per_second:.2f}x real time" if job.audio_seconds_per_second else ""
    failed = f", {job.segments_failed} failed" if job.segments_failed else ""
    segments = f"{job.segments_done}/{job.segments_total} segments" if job.planned else "not planned yet"
    return (f"job {job.job_id} {job.status.value}: {job.title!r}, {job.chapters_total} chapters, {segments}{failed}, "
            f"{_when(job.audio_seconds_done)} of audio{speed}{eta}")


@click.group(name="book")
def book_group() -> None:
    """Audiobook jobs: submit a book, follow it, re-roll a segment, render chapter files here."""


@book_group.command(name="submit")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--voice", required=True, help="Voice id (`default`: the bundle's default voice).")
@click.option("--title", default="", help="Title (default: the book's own, or the file name).")
@click.option("--lang", default="auto", show_default=True, type=click.Choice(["auto", "zh", "en", "ja"]))
@click.option("--format", "fmt", default="auto", show_default=True,
              type=click.Choice(["auto", "text", "markdown", "epub"]), help="Book format (auto: from the name).")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=None,
              help="Job seed (segment k uses seed + k); default random.")
@click.option("--max-tokens", type=click.IntRange(1, 1500), default=None, help="Cap on tokens per segment.")
@_edge_options
def submit_command(books: Any, file: Path, voice: str, title: str, lang: str, fmt: str, seed: int | None,  # noqa: ANN401
                   max_tokens: int | None) -> None:
    """Upload FILE (plain text, Markdown or EPUB) as a book job; prints its id."""
    from relaytts.books import BookFormat
    from relaytts.sampling import SamplingParams

    sampling = SamplingParams(max_new_tokens=max_tokens) if max_tokens else None
    job = books.submit(file, voice=voice, title=title, language=lang,
                       fmt=None if fmt == "auto" else BookFormat(fmt), sampling=sampling, seed=seed)
    click.echo(job.job_id)
    click.echo(f"{job.title!r}: {job.chapters_total} chapters queued", err=True)


@book_group.command(name="status")
@click.argument("job_id", metavar="JOB")
@click.option("--segments", is_flag=True, help="List every segment too.")
@_edge_options
def status_command(books: Any, job_id: str, segments: bool) -> None:  # noqa: ANN401
    """A job's progress, chapter by chapter."""
    from relaytts.console import print_table

    job = books.get(job_id, segments=segments)
    click.echo(_describe(job))
    if job.error:
        click.echo(f"error: {job.error}")
    print_table(["#", "chapter", "status", "segments", "audio"],
                [[c.index + 1, c.title, c.status.value, f"{c.segments_done}/{c.segments_total}",
                  _when(c.audio_seconds)] for c in job.chapters])
    if segments:
        print_table(["chapter", "segment", "status", "take", "seed", "tokens", "text"],
                    [[s.chapter + 1, s.index + 1, s.status.value, s.take, s.seed, s.tokens,
                      s.text if len(s.text) <= 60 else s.text[:57] + "..."] for s in job.segments])


@book_group.command(name="list")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 500))
@_edge_options
def list_command(books: Any, limit: int) -> None:  # noqa: ANN401
    """Your book jobs, newest first."""
    import time

    from relaytts.console import print_table

    print_table(["job", "title", "status", "segments", "audio", "ETA", "submitted"],
                [[j.job_id, j.title, j.status.value, f"{j.segments_done}/{j.segments_total}",
                  _when(j.audio_seconds_done), _when(j.eta_seconds),
                  time.strftime("%Y-%m-%d %H:%M", time.localtime(j.created_at))] for j in books.list(limit)])


@book_group.command(name="watch")
@click.argument("job_id", metavar="JOB")
@_edge_options
def watch_command(books: Any, job_id: str) -> None:  # noqa: ANN401
    """Follow a job with a progress bar until it ends."""
    from relaytts.console import progress

    last = None
    with progress() as bar:
        task = bar.add_task("waiting", total=None)
        for event in books.watch(job_id):
            last = event
            eta = f" ETA {_when(event.eta_seconds)}" if event.eta_seconds is not None else ""
            bar.update(task, total=event.segments_total or None, completed=event.segments_done,
                       description=f"{event.status.value}, {_when(event.audio_seconds_done)} audio{eta}")
    if last is not None:
        click.echo(f"job {job_id} {last.status.value}: {last.segments_done}/{last.segments_total} segments, "
                   f"{_when(last.audio_seconds_done)} of audio" + (f"; {last.error}" if last.error else ""))
        if last.status.value != "done":
            sys.exit(1)


@book_group.command(name="cancel")
@click.argument("job_id", metavar="JOB")
@_edge_options
def cancel_command(books: Any, job_id: str) -> None:  # noqa: ANN401
    """Stop a job (running segments stop within one decode step)."""
    click.echo(f"job {job_id} " + ("cancelled" if books.cancel(job_id) else "had already ended"))


@book_group.command(name="reroll")
@click.argument("job_id", metavar="JOB")
@click.argument("chapter", type=click.IntRange(min=1))
@click.argument("segment", type=click.IntRange(min=1))
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=None, help="The new seed (default random).")
@_edge_options
def reroll_command(books: Any, job_id: str, chapter: int, segment: int, seed: int | None) -> None:  # noqa: ANN401
    """Redo segment SEGMENT of chapter CHAPTER (from 1, as `book status --segments` shows) with a new seed."""
    state = books.reroll(job_id, chapter - 1, segment - 1, seed)
    click.echo(f"chapter {chapter} segment {segment}: take {state.take} (seed {state.seed}) queued; "
               f"`relaytts book render {job_id} -o DIR` redoes only its chapter")


class _Bar:
    """``RenderProgress`` on a rich progress bar."""

    def __init__(self, bar: Any, task: Any) -> None:  # noqa: ANN401
        self.bar, self.task = bar, task

    def total(self, segments: int) -> None:
        self.bar.update(self.task, total=segments or None)

    def advance(self, segments: int, description: str) -> None:
        self.bar.update(self.task, advance=segments, description=description[:40])


@book_group.command(name="render")
@click.argument("job_id", metavar="JOB")
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory for the chapter files (created if missing).")
@click.option("--format", "fmt", default="wav", show_default=True,
              type=click.Choice(["wav", "flac", "mp3", "opus", "m4b"]),
              help="wav and flac always; mp3, opus and m4b (one file, chapter marks) need ffmpeg on PATH.")
@click.option("--follow", is_flag=True, help="Keep going while the job runs, rendering chapters as they finish.")
@_edge_options
def render_command(books: Any, job_id: str, out_dir: Path, fmt: str, follow: bool) -> None:  # noqa: ANN401
    """Vocode a job's finished chapters here, one file each; a second run redoes only what changed."""
    from edge_client.books import BookRenderer
    from relaytts.console import progress

    with progress() as bar:
        renderer = BookRenderer(books, job_id, out_dir, fmt, follow, _Bar(bar, bar.add_task("starting", total=None)))
        report = renderer.run()
    made = sum(c.rendered for c in report.chapters)
    click.echo(f"{len(report.chapters)} chapter file(s) in {out_dir} ({made} rendered now, "
               f"{len(report.chapters) - made} already current)")
    if report.book_file is not None:
        click.echo(f"audiobook: {report.book_file}")
    if report.pending:
        numbers = ", ".join(str(i + 1) for i in report.pending)
        hint = "" if follow else " (not finished yet? add --follow)"
        click.echo(f"not rendered: chapter(s) {numbers}{hint}", err=True)
        if report.job.status.finished:
            sys.exit(1)
