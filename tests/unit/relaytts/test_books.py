"""The book vocabulary: ETA and speed, chapter status, and the protobuf round trips."""

from __future__ import annotations

import pytest

from protos import relaytts_v1_pb2 as pb
from relaytts.books import (
    BookChapterState,
    BookFormat,
    BookSegmentState,
    BookState,
    EventKind,
    JobEventState,
    SegmentTask,
    chapter_status,
    progress_rate,
    segment_field,
)
from relaytts.jobs import JobStatus


def test_eta_comes_from_the_characters_per_second_of_the_current_run():
    # 300 of 1000 characters in 30 s since the run started: 700 left at 10/s
    eta, speed = progress_rate(1000, 300, 0, 0.0, 45.0, 100.0, 130.0, finished=False)
    assert eta == pytest.approx(70.0) and speed == pytest.approx(1.5)
    # a run reopened by a re-roll measures only what it did itself
    eta, speed = progress_rate(1000, 950, 900, 100.0, 110.0, 200.0, 210.0, finished=False)
    assert eta == pytest.approx(10.0) and speed == pytest.approx(1.0)
    assert progress_rate(1000, 0, 0, 0.0, 0.0, 100.0, 110.0, finished=False)[0] is None  # nothing measured yet
    assert progress_rate(1000, 1000, 0, 0.0, 9.0, 100.0, 110.0, finished=True)[0] is None
    assert progress_rate(1000, 0, 0, 0.0, 0.0, 0.0, 110.0, finished=False) == (None, 0.0)  # not started


def test_chapter_status():
    done, running, queued, failed = JobStatus.DONE, JobStatus.RUNNING, JobStatus.QUEUED, JobStatus.FAILED
    assert chapter_status([done, done], running) is done
    assert chapter_status([done, failed], JobStatus.FAILED) is failed
    assert chapter_status([done, queued], running) is running
    assert chapter_status([queued, queued], running) is queued
    assert chapter_status([done, queued], JobStatus.CANCELLED) is JobStatus.CANCELLED
    assert chapter_status([], queued) is queued


def test_book_state_from_the_hash_and_through_protobuf():
    fields = {"title": "T", "format": "epub", "voice": "default", "status": "running", "seed": "7",
              "noise_scale": "0.5", "created_at": "10.0", "started_at": "11.0", "planned": "1", "chapters_total": "2",
              "segments_total": "4", "segments_done": "2", "chars_total": "100", "chars_done": "50",
              "tokens_done": "40", "audio_seconds_done": "1.6", "run_started_at": "11.0", "run_chars": "0",
              "run_audio": "0"}
    state = BookState.from_fields("a" * 32, fields, now=21.0)
    assert state.eta_seconds == pytest.approx(10.0) and state.audio_seconds_per_second == pytest.approx(0.16)
    segment = BookSegmentState(1, 0, JobStatus.DONE, "Hi.", 9, 1, "b" * 32, 20, 0.8, "STOP_REASON_EOS", "")
    state.chapters = [BookChapterState(0, "One"), BookChapterState(1, "Two", JobStatus.RUNNING, 1, 1, 0, 0.8,
                                                                   [segment])]
    msg = state.to_pb()
    assert msg.format == pb.BOOK_FORMAT_EPUB and msg.status == pb.JOB_STATUS_RUNNING and msg.HasField("eta_seconds")
    assert msg.chapters[1].segments[0].stop_reason == pb.STOP_REASON_EOS
    back = BookState.from_pb(msg)
    assert back == state
    assert not state.to_pb(include_segments=False).chapters[1].segments
    assert BookFormat.from_pb(pb.BOOK_FORMAT_UNSPECIFIED) is None


def test_events_from_stream_entries_and_back():
    entry = {"kind": "segment", "at": "5.0", "status": "done", "segments_total": "3", "segments_done": "3",
             "segments_failed": "0", "audio_seconds_done": "2.4", "chapter": "2", "segment": "0",
             "seg_status": "done", "take": "0", "take_id": "c" * 32, "seed": "44", "tokens": "20", "seconds": "0.8",
             "stop_reason": "STOP_REASON_MAX_TOKENS"}
    event = JobEventState.from_entry("a" * 32, entry, now=6.0)
    assert event.final and event.kind is EventKind.SEGMENT and event.segment.chapter == 2
    msg = event.to_pb()
    assert msg.final and msg.kind == pb.JOB_EVENT_KIND_SEGMENT and msg.segment.tokens == 20
    assert not msg.HasField("eta_seconds")
    assert JobEventState.from_pb(msg) == event
    snapshot = JobEventState.from_entry("a" * 32, {"kind": "snapshot", "status": "queued"}, now=1.0)
    assert not snapshot.final and snapshot.segment is None and not snapshot.to_pb().HasField("segment")


def test_segment_task_payload_and_field_names():
    task = SegmentTask("a" * 32, 3, 14, "b" * 32)
    assert SegmentTask.from_json(task.to_json()) == task
    assert segment_field(3, 14, "take_id") == "3.14.take_id"
