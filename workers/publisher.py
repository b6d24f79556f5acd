"""Writing one job's chunks to its Redis stream (docs/protocol.md §2): epochs, seq, resume point, fencing.

A ``ChunkPublisher`` is bound to one job and one delivery of its task (an *epoch*). It stamps every
chunk with ``job_id``, ``epoch`` and the next ``seq``, and writes it with one Lua script that also
refreshes both TTLs and can set job-hash fields in the same step. The script refuses the write when
the job hash holds a newer epoch: a task that Celery delivered again while this one still runs (a
visibility timeout that ran out, a lost broker connection) has taken the job over, and the old one
must stop without writing, or two writers would reuse seq numbers. The refusal raises ``Superseded``.

The Redis client belongs to the worker child process (built after the fork, see ``workers.app``);
publishers are cheap objects made per task over it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from protos import relaytts_v1_pb2 as pb
from relaytts.jobs import CHUNK_FIELD
from relaytts.keys import job_cancel_key, job_key, job_stream_key
from relaytts.settings import RedisSettings

if TYPE_CHECKING:
    import redis

__all__ = ["ChunkPublisher", "ResumePoint", "Superseded"]

RESUME_PAGE: Final = 256
"""Entries read per ``XREVRANGE`` while looking back for the last finished segment."""

# KEYS[1] job hash, KEYS[2] job chunk stream
# ARGV[1] the caller's epoch, ARGV[2] approximate MAXLEN, ARGV[3] TTL (s), ARGV[4] stream field,
# ARGV[5] LatentChunk bytes, ARGV[6..] field/value pairs set on the job hash with the chunk (optional)
# Returns the new entry id, or false (nil in Python) when the hash holds another epoch (superseded).
PUBLISH_SCRIPT: Final = """
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return false end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', ARGV[4], ARGV[5])
if #ARGV > 5 then redis.call('HSET', KEYS[1], unpack(ARGV, 6)) end
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return id
"""

# KEYS[1] job hash
# ARGV[1] the caller's epoch, ARGV[2] TTL (s), ARGV[3..] field/value pairs to set
# Returns 1, or false (nil in Python) when the hash holds another epoch (superseded).
UPDATE_SCRIPT: Final = """
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return false end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""


class Superseded(Exception):  # noqa: N818 - a condition, not an error: never leaves the task
    """A newer delivery of the same job owns its stream; this one stops without writing anything."""


@dataclass(frozen=True)
class ResumePoint:
    """Where a delivery of a job picks up (docs/protocol.md §2.3)."""

    next_seq: int
    """seq of the next chunk: the stream's last seq + 1 (1 for an empty stream)."""
    first_segment: int
    """1 + the highest segment index with a ``segment_final`` chunk (0 if none)."""
    last_stop_reason: int = pb.STOP_REASON_UNSPECIFIED
    """The proto stop reason on that ``segment_final`` chunk (unspecified if none)."""
    final: pb.LatentChunk | None = None
    """The job's final chunk when the job already ended (a redelivery after the end: nothing to do)."""


class ChunkPublisher:
    """The stream and hash writes of one delivery of one job; ``begin()`` first, then the rest."""

    def __init__(self, client: redis.Redis, settings: RedisSettings, job_id: str) -> None:
        self.client = client
        self.settings = settings
        self.job_id = job_id
        self.hash_key = job_key(job_id)
        self.stream_key = job_stream_key(job_id)
        self.cancel_key = job_cancel_key(job_id)
        self.epoch = 0
        self.next_seq = 1
        self._publish = client.register_script(PUBLISH_SCRIPT)
        self._update = client.register_script(UPDATE_SCRIPT)

    def begin(self) -> ResumePoint:
        """Claim the next epoch (``HINCRBY epoch 1``), then read the resume point."""
        with self.client.pipeline(transaction=True) as pipe:
            pipe.hincrby(self.hash_key, "epoch", 1)
            pipe.expire(self.hash_key, self.settings.stream_ttl_seconds)
            self.epoch = int(pipe.execute()[0])
        resume = self.resume_point()
        self.next_seq = resume.next_seq
        return resume

    def resume_point(self) -> ResumePoint:
        """Read the stream backwards: the last seq, and the last finished segment (protocol §2.3)."""
        page = self.client.xrevrange(self.stream_key, "+", "-", count=RESUME_PAGE)
        if not page:
            return ResumePoint(next_seq=1, first_segment=0)
        last = _parse(page[0][1])
        next_seq = last.seq + 1
        if last.final:
            return ResumePoint(next_seq, 0, last.stop_reason, final=last)
        while True:
            for _, fields in page:
                chunk = _parse(fields)
                if chunk.segment_final:
                    return ResumePoint(next_seq, chunk.segment_index + 1, chunk.stop_reason)
            if len(page) < RESUME_PAGE:
                return ResumePoint(next_seq, 0)
            page = self.client.xrevrange(self.stream_key, f"({page[-1][0].decode()}", "-", count=RESUME_PAGE)

    @property
    def cancel_keys(self) -> tuple[str, ...]:
        """Keys whose existence cancels the job (the decode loop checks them itself between steps)."""
        return (self.cancel_key,)

    def cancelled(self) -> bool:
        """Whether the job's cancel key exists (asked before every decode step)."""
        return bool(self.client.exists(*self.cancel_keys))

    def publish(self, chunk: pb.LatentChunk, **fields: str | int | float) -> bytes:
        """Stamp ``chunk`` (job id, epoch, next seq), ``XADD`` it, refresh both TTLs, set ``fields`` on the hash.

        Raises ``Superseded`` (and writes nothing) when a newer epoch owns the job.
        """
        chunk.job_id = self.job_id
        chunk.epoch = self.epoch
        chunk.seq = self.next_seq
        args = [self.epoch, self.settings.stream_maxlen, self.settings.stream_ttl_seconds, CHUNK_FIELD,
                chunk.SerializeToString(), *_pairs(fields)]
        entry_id = self._publish(keys=[self.hash_key, self.stream_key], args=args)
        if entry_id is None:
            raise Superseded(f"job {self.job_id}: epoch {self.epoch} was superseded before seq {chunk.seq}")
        self.next_seq += 1
        return entry_id

    def update(self, **fields: str | int | float) -> None:
        """Set fields on the job hash (and refresh its TTL); ``Superseded`` when a newer epoch owns the job."""
        if self._update(keys=[self.hash_key], args=[self.epoch, self.settings.stream_ttl_seconds,
                                                    *_pairs(fields)]) is None:
            raise Superseded(f"job {self.job_id}: epoch {self.epoch} was superseded")


def _parse(fields: dict[bytes, bytes]) -> pb.LatentChunk:
    return pb.LatentChunk.FromString(fields[CHUNK_FIELD])


def _pairs(fields: dict[str, str | int | float]) -> list[str | int | float]:
    return [item for pair in fields.items() for item in pair]
