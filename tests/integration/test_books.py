"""Book jobs through the real system: redis-server, the live worker, the t2s.batch worker (its own
process, niced), the gateway, and the edge rendering chapter files, exactly as `relaytts up` runs them."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import redis
import soundfile

from edge_client import Client
from edge_client.books import BookClient
from protos import relaytts_v1_pb2 as pb
from relaytts import keys
from relaytts.books import BookFormat, EventKind
from relaytts.embedded import EmbeddedSystem
from relaytts.errors import InvalidArgument, JobCancelled, NotFound
from relaytts.jobs import CHUNK_FIELD, JobStatus
from relaytts.redis_server import free_port
from relaytts.sampling import SamplingParams
from relaytts.settings import load_settings

ALICE, BOB = "alice-key-0123456789", "bob-key-0123456789"
TOKENS = 20  # per segment: a segment takes a fraction of a second on two cores
GAP = int(0.3 * 32000)
SAMPLES_PER_TOKEN = 1280

CHAPTERS = [
    ("The Harbour", "The ship came in at dawn. Gulls circled over the quay, and the sailors sang."),
    ("The Storm", "By noon the sky was black. Rain hammered the deck. Nobody slept that night."),
    ("The Return", "Morning brought calm water. They sailed home, tired and glad."),
]


def make_epub(chapters=CHAPTERS, title: str = "A Short Voyage") -> bytes:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("relaytts-test-voyage")
    book.set_title(title)
    book.set_language("en")
    items = []
    for i, (name, text) in enumerate(chapters, 1):
        item = epub.EpubHtml(title=name, file_name=f"chap_{i}.xhtml", lang="en")
        item.content = f"<html><body><h1>{name}</h1><p>{text}</p></body></html>"
        book.add_item(item)
        items.append(item)
    book.toc = tuple(items)
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *items]
    out = io.BytesIO()
    epub.write_epub(out, book)
    return out.getvalue()


@pytest.fixture(scope="module")
def system(fixture_bundle, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("books")
    key_file = run_dir / "keys.json"
    key_file.write_text(json.dumps({ALICE: "alice", BOB: "bob"}))
    key_file.chmod(0o600)  # the gateway refuses a key file every user can read
    settings = load_settings(environ={}, overrides={
        "worker.bundle": str(fixture_bundle.root), "gateway.bundle": str(fixture_bundle.root),
        "gateway.port": free_port(), "gateway.api_keys_file": str(key_file),
        "metrics.gateway_port": 0, "metrics.worker_port": 0, "books.max_file_bytes": 400_000,
    })
    with EmbeddedSystem(settings, run_dir).start() as running:
        yield running


@pytest.fixture
def books(system, tmp_path):
    with Client(system.gateway_address, api_key=ALICE, cache_dir=tmp_path / "edge") as client:
        yield BookClient(client)


def store(system) -> redis.Redis:
    return redis.Redis.from_url(system.settings.redis.url)


def take_chunks(system, take_id: str) -> list[pb.LatentChunk]:
    client = store(system)
    try:
        return [pb.LatentChunk.FromString(f[CHUNK_FIELD]) for _, f in client.xrange(keys.job_stream_key(take_id))]
    finally:
        client.close()


def batch_child_pid(system) -> int:
    parent = system.child("batch").process.pid
    children = [int(p) for t in Path(f"/proc/{parent}/task").iterdir() for p in (t / "children").read_text().split()]
    assert len(children) == 1, children
    return children[0]


def running_take(system, book_id: str) -> str | None:
    """A take of the book in the middle of its segment: its first chunk is out, its last one is not."""
    client = store(system)
    try:
        fields = {k.decode(): v.decode() for k, v in client.hgetall(keys.book_segments_key(book_id)).items()}
        for name, value in fields.items():
            if name.endswith(".status") and value == "running":
                take = fields[name.removesuffix("status") + "take_id"]
                last = client.xrevrange(keys.job_stream_key(take), count=1)
                if last and not pb.LatentChunk.FromString(last[0][1][CHUNK_FIELD]).segment_final:
                    return take
        return None
    finally:
        client.close()


def deliveries(system, take_id: str) -> int:
    client = store(system)
    try:
        return int(client.hget(keys.job_key(take_id), "epoch") or 0)
    finally:
        client.close()


def chapter_files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.glob("*.wav"))}


def expected_samples(chapter) -> int:
    tokens = [s.tokens for s in chapter.segments if s.tokens]
    return sum(tokens) * SAMPLES_PER_TOKEN + (len(tokens) - 1) * GAP


def test_an_epub_book_end_to_end_with_a_worker_crash_a_reroll_and_resumable_renders(system, books, tmp_path):
    job = books.submit(make_epub(), filename="voyage.epub", voice="default", seed=42,
                       sampling=SamplingParams(max_new_tokens=2 * TOKENS))  # 8 tokens out, 32 to go: time to kill
    assert job.format is BookFormat.EPUB and job.title == "A Short Voyage"
    assert [c.title for c in job.chapters] == [name for name, _ in CHAPTERS]

    events, killed = [], {}

    def watch() -> None:
        for event in books.watch(job.job_id):
            events.append(event)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    deadline = time.monotonic() + 60
    while not killed:  # SIGKILL the batch worker's child while it is in the middle of a segment
        assert time.monotonic() < deadline, "no segment was seen running"
        take = running_take(system, job.job_id)
        if take is not None:
            os.kill(batch_child_pid(system), signal.SIGKILL)
            killed["take"] = take
        time.sleep(0.01)
    watcher.join(120)
    assert not watcher.is_alive(), "the book did not finish"

    final = events[-1]
    assert final.final and final.status is JobStatus.DONE, final
    assert events[0].kind is EventKind.SNAPSHOT
    done = [e.segments_done for e in events if e.kind is EventKind.SEGMENT]
    assert done == sorted(done) and done[-1] == final.segments_total > 3
    assert any(e.eta_seconds is not None for e in events), "no event carried an ETA"
    assert final.audio_seconds_done > 0

    state = books.get(job.job_id, segments=True)
    assert state.status is JobStatus.DONE and state.segments_done == state.segments_total
    redelivered = {s.take_id: deliveries(system, s.take_id) for s in state.segments}
    assert redelivered[killed["take"]] == 2, "the killed segment was not redelivered"
    assert [t for t, n in redelivered.items() if n != 1] == [killed["take"]], "another segment was redone"
    redone = take_chunks(system, killed["take"])
    assert {c.epoch for c in redone} == {1, 2}, "the killed segment was not redone under a new epoch"
    first, second = ([t for c in redone if c.epoch == e and not c.final for t in c.tokens] for e in (1, 2))
    assert second[: len(first)] == first, "the redone segment did not reproduce the lost tokens"

    # render: one file per chapter, with the segments' exact length plus the gaps
    out = tmp_path / "render"
    report = books.render(job.job_id, out)
    assert [c.rendered for c in report.chapters] == [True] * 3 and not report.pending
    for chapter, rendered in zip(state.chapters, report.chapters, strict=True):
        audio, rate = soundfile.read(rendered.path, dtype="int16")
        assert rate == 32000 and len(audio) == expected_samples(chapter)
    before = chapter_files(out)
    assert len(before) == 3

    # a second render does nothing; a gateway restart loses nothing
    system.kill("gateway")
    system.respawn("gateway")
    assert [c.rendered for c in books.render(job.job_id, out).chapters] == [False] * 3
    assert chapter_files(out) == before

    # re-roll one segment of chapter 2: only that chapter changes
    target = state.chapters[1].segments[0]
    rerolled = books.reroll(job.job_id, 1, 0, seed=target.seed + 1000)
    assert rerolled.take == 1 and rerolled.status is JobStatus.QUEUED and rerolled.take_id != target.take_id
    assert list(books.watch(job.job_id))[-1].status is JobStatus.DONE
    after_state = books.get(job.job_id, segments=True)
    new_segment = after_state.chapters[1].segments[0]
    assert new_segment.take_id == rerolled.take_id and new_segment.status is JobStatus.DONE
    old_tokens = [t for c in take_chunks(system, target.take_id) if not c.final for t in c.tokens]
    new_tokens = [t for c in take_chunks(system, new_segment.take_id) if not c.final for t in c.tokens]
    assert old_tokens != new_tokens
    report = books.render(job.job_id, out)
    assert [c.rendered for c in report.chapters] == [False, True, False]
    after = chapter_files(out)
    names = sorted(before)
    assert after[names[0]] == before[names[0]] and after[names[2]] == before[names[2]]
    assert after[names[1]] != before[names[1]]
    audio, _ = soundfile.read(out / names[1], dtype="int16")
    assert len(audio) == expected_samples(after_state.chapters[1])
    fresh = tmp_path / "fresh"
    books.render(job.job_id, fresh)
    assert chapter_files(fresh) == after, "re-rendering untouched takes is not byte-identical"


def test_markdown_and_text_books_list_cancel_and_tenant_scope(system, books, tmp_path):
    markdown = "# Field Notes\n\n## Monday\n\nRain all day, and cold.\n\n## Tuesday\n\nSun at last.\n"
    job = books.submit(markdown.encode(), filename="notes.md", voice="default",
                       sampling=SamplingParams(max_new_tokens=TOKENS))
    assert job.format is BookFormat.MARKDOWN and job.title == "Field Notes"
    assert [c.title for c in job.chapters] == ["Monday", "Tuesday"]

    long_text = "\n\n".join(f"Chapter {i}\n\n" + " ".join(f"Sentence {j} of chapter {i}, told slowly." for j in
                                                          range(30)) for i in range(1, 4))
    big = books.submit(long_text.encode(), filename="long.txt", voice="default",
                       sampling=SamplingParams(max_new_tokens=200))
    assert [c.title for c in big.chapters] == ["Chapter 1", "Chapter 2", "Chapter 3"]
    assert [j.job_id for j in books.list()][:2] == [big.job_id, job.job_id]
    events = books.watch(big.job_id)
    while next(events).segments_done < 1:
        pass
    assert books.cancel(big.job_id) is True
    assert list(events)[-1].status is JobStatus.CANCELLED
    cancelled = books.get(big.job_id)
    assert cancelled.status is JobStatus.CANCELLED and cancelled.segments_done < cancelled.segments_total
    assert books.cancel(big.job_id) is False
    with pytest.raises(JobCancelled):
        books.reroll(big.job_id, 0, 0)

    with Client(system.gateway_address, api_key=BOB, cache_dir=tmp_path / "bob") as other:
        bob = BookClient(other)
        assert bob.list() == []
        with pytest.raises(NotFound):
            bob.get(job.job_id)
        with pytest.raises(NotFound):
            bob.cancel(job.job_id)
    assert list(books.watch(job.job_id))[-1].status is JobStatus.DONE


def test_bad_books_are_refused_and_write_nothing(system, books):
    client = store(system)
    before = set(client.scan_iter(match=f"{keys.PREFIX}:book:*"))
    cases = [
        (b"not a zip at all", "bad.epub", "not a readable EPUB"),
        (b"", "empty.txt", "empty"),
        (b"caf\xe9 au lait", "latin1.txt", "must be UTF-8"),
        (b"*** --- ***", "marks.txt", "nothing to speak"),
        (b"x" * 500_000, "huge.txt", "at most 400000 bytes"),
    ]
    for data, name, words in cases:
        with pytest.raises(InvalidArgument, match=words):
            books.submit(data, filename=name, voice="default")
    with pytest.raises(Exception, match="voice"):
        books.submit(b"Hello there.", filename="a.txt", voice="nobody")
    assert set(client.scan_iter(match=f"{keys.PREFIX}:book:*")) == before
    client.close()


def test_the_book_commands(system, tmp_path):
    from click.testing import CliRunner

    from edge_client.book_cli import book_group

    runner = CliRunner()
    base = ["--gateway", system.gateway_address, "--api-key", ALICE, "--cache-dir", str(tmp_path / "cache")]

    def invoke(*args: str, code: int = 0):
        result = runner.invoke(book_group, [*args, *base])
        assert result.exit_code == code, result.output
        return result.output

    source = tmp_path / "tiny.md"
    source.write_text("# One\n\nHello there.\n\n# Two\n\nGoodbye now, friend.\n")
    job = invoke("submit", str(source), "--voice", "default", "--seed", "3", "--max-tokens", "15").split()[0]
    out = tmp_path / "out"
    assert "2 chapter file(s)" in invoke("render", job, "-o", str(out), "--follow")  # follows the running job
    assert sorted(p.name for p in out.glob("*.wav")) == ["01 - One.wav", "02 - Two.wav"]
    status = invoke("status", job, "--segments")
    assert f"job {job} done" in status and "Goodbye now" in status
    assert job in invoke("list")
    assert "take 1" in invoke("reroll", job, "2", "1", "--seed", "99")
    assert "done" in invoke("watch", job)
    assert "(1 rendered now, 1 already current)" in invoke("render", job, "-o", str(out))
    assert "had already ended" in invoke("cancel", job)
    assert "error:" in invoke("status", "f" * 32, code=1)
    if shutil.which("ffmpeg") is None:
        assert "needs ffmpeg" in invoke("render", job, "-o", str(tmp_path / "mp3"), "--format", "mp3", code=1)
    else:  # one audiobook file with a chapter mark per chapter
        assert "audiobook:" in invoke("render", job, "-o", str(tmp_path / "m4b"), "--format", "m4b")
        probe = subprocess.run(["ffmpeg", "-hide_banner", "-i", str(next((tmp_path / "m4b").glob("*.m4b")))],
                               capture_output=True, text=True).stderr
        assert probe.count("Chapter #") == 2


def test_live_time_to_first_chunk_with_a_book_running(fixture_bundle, tmp_path, capsys):
    """A measurement, not a timed assert: `relaytts bench system --with-batch` on the fixture bundle."""
    from relaytts.bench_system import bench_system
    from relaytts.console import print_table

    settings = load_settings(environ={}, overrides={
        "worker.bundle": str(fixture_bundle.root), "gateway.bundle": str(fixture_bundle.root),
        "gateway.port": free_port(), "metrics.gateway_port": 0, "metrics.worker_port": 0})
    rows = bench_system(settings, tmp_path / "bench", runs=6, streams=2, with_batch=True)
    by_metric = {row[0]: row for row in rows}
    busy = next(row for name, row in by_metric.items() if name.startswith("time to first chunk p50 (ms): a book"))
    assert busy[1] > 0 and busy[2] > 0
    with capsys.disabled():
        print_table(["metric", "system", "reference", "difference", "target", "verdict"], rows,
                    title="live time to first chunk with a book running (fixture bundle)")
