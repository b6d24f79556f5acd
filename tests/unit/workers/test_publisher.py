"""ChunkPublisher against a real redis-server: seq and epoch stamping, TTLs, resume point, fencing, trimming."""

from __future__ import annotations

import pytest
import redis

from protos import relaytts_v1_pb2 as pb
from relaytts.jobs import CHUNK_FIELD
from relaytts.keys import job_cancel_key, job_key, job_stream_key
from relaytts.redis_server import RedisServer
from relaytts.settings import RedisSettings
from workers.publisher import RESUME_PAGE, ChunkPublisher, ResumePoint, Superseded

SETTINGS = RedisSettings(stream_ttl_seconds=600, stream_maxlen=10000)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    started = RedisServer.start(workdir=tmp_path_factory.mktemp("redis"))
    yield started
    started.stop()


@pytest.fixture
def client(server):
    client = redis.Redis.from_url(server.url)
    client.flushall()
    yield client
    client.close()


def stream(client, job_id="j") -> list[pb.LatentChunk]:
    return [pb.LatentChunk.FromString(f[CHUNK_FIELD]) for _, f in client.xrange(job_stream_key(job_id))]


def segment(pub: ChunkPublisher, index: int, chunks: int, finish: bool) -> None:
    for i in range(chunks):
        last = finish and i == chunks - 1
        pub.publish(pb.LatentChunk(segment_index=index, tokens=[i, i + 1], segment_final=last,
                                   stop_reason=pb.STOP_REASON_EOS if last else 0))


def test_a_fresh_job_starts_at_seq_1_and_chunks_are_stamped(client):
    pub = ChunkPublisher(client, SETTINGS, "j")
    assert pub.begin() == ResumePoint(next_seq=1, first_segment=0) and pub.epoch == 1
    segment(pub, 0, 3, finish=True)
    pub.publish(pb.LatentChunk(final=True, status=pb.JOB_STATUS_DONE), status="done", finished_at=1.5)

    chunks = stream(client)
    assert [(c.job_id, c.epoch, c.seq) for c in chunks] == [("j", 1, s) for s in (1, 2, 3, 4)]
    assert client.hget(job_key("j"), "status") == b"done" and client.hget(job_key("j"), "finished_at") == b"1.5"
    assert 0 < client.ttl(job_stream_key("j")) <= 600 and 0 < client.ttl(job_key("j")) <= 600


def test_a_new_epoch_resumes_after_the_last_seq_at_the_first_unfinished_segment(client):
    first = ChunkPublisher(client, SETTINGS, "j")
    first.begin()
    segment(first, 0, 2, finish=True)
    segment(first, 1, 3, finish=False)  # then the worker dies

    second = ChunkPublisher(client, SETTINGS, "j")
    resume = second.begin()
    assert resume == ResumePoint(next_seq=6, first_segment=1, last_stop_reason=pb.STOP_REASON_EOS)
    assert second.epoch == 2 and client.hget(job_key("j"), "epoch") == b"2"
    segment(second, 1, 1, finish=True)
    assert [(c.seq, c.epoch) for c in stream(client)][-2:] == [(5, 1), (6, 2)]


def test_an_older_epoch_is_fenced_off_and_writes_nothing(client):
    old = ChunkPublisher(client, SETTINGS, "j")
    old.begin()
    segment(old, 0, 1, finish=False)
    new = ChunkPublisher(client, SETTINGS, "j")
    new.begin()  # a second delivery took the job over

    with pytest.raises(Superseded):
        old.publish(pb.LatentChunk(segment_index=0, tokens=[1]))
    with pytest.raises(Superseded):
        old.update(status="done")
    new.publish(pb.LatentChunk(segment_index=0, tokens=[2]))
    assert [(c.seq, c.epoch) for c in stream(client)] == [(1, 1), (2, 2)]
    assert client.hget(job_key("j"), "status") is None


def test_a_finished_job_reports_its_final_chunk(client):
    pub = ChunkPublisher(client, SETTINGS, "j")
    pub.begin()
    segment(pub, 0, 1, finish=True)
    pub.publish(pb.LatentChunk(final=True, status=pb.JOB_STATUS_CANCELLED, stop_reason=pb.STOP_REASON_CANCELLED))

    resume = ChunkPublisher(client, SETTINGS, "j").begin()
    assert resume.final is not None and resume.final.status == pb.JOB_STATUS_CANCELLED and resume.next_seq == 3


@pytest.mark.parametrize("finished_segment", [True, False])
def test_the_look_back_reads_past_one_page(client, finished_segment):
    pub = ChunkPublisher(client, SETTINGS, "j")
    pub.begin()
    segment(pub, 0, 2, finish=finished_segment)
    segment(pub, 1, 2 * RESUME_PAGE + 10, finish=False)  # the segment_final is three pages back

    resume = ChunkPublisher(client, SETTINGS, "j").begin()
    assert resume.next_seq == 2 * RESUME_PAGE + 13
    assert resume.first_segment == (1 if finished_segment else 0)


def test_streams_are_trimmed_near_maxlen(client):
    pub = ChunkPublisher(client, RedisSettings(stream_ttl_seconds=600, stream_maxlen=50), "j")
    pub.begin()
    segment(pub, 0, 600, finish=False)
    assert 50 <= client.xlen(job_stream_key("j")) < 300  # MAXLEN ~ trims whole nodes (100 entries each)
    assert stream(client)[-1].seq == 600


def test_the_cancel_key_is_seen(client):
    pub = ChunkPublisher(client, SETTINGS, "j")
    assert not pub.cancelled()
    client.set(job_cancel_key("j"), 1, ex=60)
    assert pub.cancelled()
