"""Voice-library vocabulary shared by the gateway and the workers: ids, the task payload, the record
layout in Redis, the content hash and the Lua scripts that keep every write atomic (docs/protocol.md §5).

A voice lives in one hash, ``keys.voice_key(tenant, voice_id)``, listed in ``keys.tenant_voices_key``.
Its fields are bytes: the metadata in ``META_FIELDS`` (UTF-8 text; times are ``repr(float)`` unix
seconds), the conditioning arrays in ``ARRAY_DTYPES`` (raw little-endian, no header: the dtype is
fixed here and the shapes follow from the lengths, see ``array_shapes``) and ``audio``, the uploaded
clip byte for byte (what ``migrate`` recomputes from). Never pickle.

stdlib only: numpy views of the arrays are the workers' business (``workers.voice_store``).
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
import uuid
from dataclasses import asdict, dataclass
from typing import Any, Final

from relaytts.errors import InvalidArgument

__all__ = [
    "ARRAY_DTYPES",
    "AUDIO_FIELD",
    "OPTIONAL_ARRAY_DTYPES",
    "BERT_DIM",
    "CLAIM_REGISTRATION",
    "COMMIT_VOICE",
    "DECIDE_REGISTRATION",
    "DEFAULT_VOICE_IDS",
    "MAX_CACHED_VOICE_HASHES",
    "MAX_NAME_CHARS",
    "MAX_TRANSCRIPT_CHARS",
    "META_FIELDS",
    "RECORD_FORMAT",
    "REGISTER_VOICE_TASK",
    "RENAME_VOICE",
    "TRANSCRIPT_LANGUAGES",
    "VOICES_QUEUE",
    "RegistrationStatus",
    "VoiceInfo",
    "VoiceTask",
    "array_shapes",
    "check_voice_id",
    "content_hash",
    "new_id",
    "voice_hash_of",
    "voice_not_found_message",
]

REGISTER_VOICE_TASK: Final = "relaytts.register_voice"
"""Celery task name: condition one clip (create or update a voice); the gateway sends it by name."""
VOICES_QUEUE: Final = "voices"
"""Queue of the conditioning tasks (``RELAYTTS_WORKER_QUEUES`` lists it by default)."""
DEFAULT_VOICE_IDS: Final = ("", "default")
"""What ``SynthesizeRequest.voice`` may be to mean the bundle's reference-free default voice."""
TRANSCRIPT_LANGUAGES: Final = ("auto", "zh", "en", "ja")
"""Languages the text frontend reads a transcript in."""
MAX_TRANSCRIPT_CHARS: Final = 1000
"""Longest transcript (characters); 10 s of speech is far less."""
MAX_NAME_CHARS: Final = 128
MAX_CACHED_VOICE_HASHES: Final = 256
"""Most ``cached_voice_hashes`` a synthesis request may carry (and so the most an edge cache may announce)."""
BERT_DIM: Final = 1024
RECORD_FORMAT: Final = 1
"""Layout version of the voice hash and of the export file; a newer one is refused with a clear message."""

META_FIELDS: Final = ("format", "voice_id", "tenant", "name", "language", "transcript", "content_hash", "bundle_id",
                      "model_version", "voice_hash", "created_at", "updated_at", "audio_seconds", "audio_format")
"""Text fields of the voice hash (what listing reads; the arrays and the clip are left out)."""
ARRAY_DTYPES: Final = {"prompt_phones": "<i8", "prompt_tokens": "<i8", "prompt_bert": "<f4", "ge": "<f4"}
"""Conditioning arrays: numpy dtype strings. Shapes: phones [Np], tokens [Tp], bert [1024, Np] (row-major), ge [gin]."""
OPTIONAL_ARRAY_DTYPES: Final = {"sv_emb": "<f4"}
"""Arrays only some voices have: ``sv_emb`` [D], the ERes2NetV2 speaker embedding of a v2Pro/v2ProPlus voice
(kept so a record says what its ``ge`` was computed from; ``migrate`` recomputes it with the rest)."""
AUDIO_FIELD: Final = "audio"

_ID: Final = re.compile(r"[0-9a-f]{32}")

# ---- Lua scripts (docs/protocol.md §5). Each decides or writes everything in one step. ----

DECIDE_REGISTRATION: Final = """
-- KEYS[1] registration result stream, KEYS[2] registration hash
-- ARGV[1] result TTL seconds, ARGV[2] status (failed | abandoned), ARGV[3] gRPC code name, ARGV[4] message
-- First writer wins: returns 1 when this call decided the registration, 0 when it was already decided.
if redis.call('XLEN', KEYS[1]) > 0 then return 0 end
redis.call('XADD', KEYS[1], '*', 'status', ARGV[2], 'code', ARGV[3], 'error', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
return 1
"""

COMMIT_VOICE: Final = """
-- KEYS[1] registration result stream, KEYS[2] voice hash, KEYS[3] tenant's voice index, KEYS[4] registration hash
-- ARGV[1] result TTL seconds, ARGV[2] mode (create | update), ARGV[3] voice id, ARGV[4] index score (created_at),
-- ARGV[5..] field, value, field, value ... of the voice hash
-- Returns 1 (written), 0 (already decided: nothing written), -1 (update of a voice deleted meanwhile).
if redis.call('XLEN', KEYS[1]) > 0 then return 0 end
if ARGV[2] == 'update' and redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('XADD', KEYS[1], '*', 'status', 'failed', 'code', 'NOT_FOUND',
             'error', 'voice ' .. ARGV[3] .. ' was deleted while its conditioning was recomputed')
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  redis.call('DEL', KEYS[4])
  return -1
end
if ARGV[2] == 'create' then redis.call('DEL', KEYS[2]) end
redis.call('HSET', KEYS[2], unpack(ARGV, 5))
if ARGV[2] == 'create' then redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3]) end
redis.call('XADD', KEYS[1], '*', 'status', 'done', 'voice_id', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[4])
return 1
"""

CLAIM_REGISTRATION: Final = """
-- KEYS[1] registration result stream, KEYS[2] registration hash
-- Returns this delivery's number (1, 2, ...), 0 when the registration is already decided, -1 when its hash expired.
if redis.call('XLEN', KEYS[1]) > 0 then return 0 end
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
return redis.call('HINCRBY', KEYS[2], 'deliveries', 1)
"""

RENAME_VOICE: Final = """
-- KEYS[1] voice hash; ARGV[1] new name, ARGV[2] updated_at
-- Returns 1 when renamed, 0 when the voice does not exist (nothing is created).
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'name', ARGV[1], 'updated_at', ARGV[2])
return 1
"""


class RegistrationStatus(enum.StrEnum):
    """The one outcome entry of a registration's result stream."""

    DONE = "done"
    """The voice hash was written (with the entry, in one step)."""
    FAILED = "failed"
    """The worker refused the clip or failed; ``code`` and ``error`` say why. Nothing was written."""
    ABANDONED = "abandoned"
    """The gateway stopped waiting (timeout, client gone); a worker that finishes later writes nothing."""


def new_id() -> str:
    """A voice or registration id: 32 lowercase hex characters (uuid4)."""
    return uuid.uuid4().hex


def check_voice_id(voice_id: str) -> str:
    """A voice id is 32 lowercase hex characters; anything else never reaches a Redis key."""
    if not _ID.fullmatch(voice_id or ""):
        raise InvalidArgument(f"`voice_id` must be 32 lowercase hex characters; given {voice_id[:64]!r}")
    return voice_id


def voice_not_found_message(voice_id: str) -> str:
    """One message for an unknown, deleted or other tenant's voice: nothing leaks about which."""
    return f"voice {voice_id[:64]!r} not found (unknown, deleted, or not yours)"


def content_hash(audio: bytes, transcript: str, language: str, bundle_id: str) -> str:
    """sha256 of (clip bytes, transcript, language, bundle id), each length-prefixed: the same clip and text
    conditioned by the same bundle give the same hash, on any deployment."""
    digest = hashlib.sha256(b"relaytts-voice-v1")
    for part in (audio, transcript.encode(), language.encode(), bundle_id.encode()):
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)
    return digest.hexdigest()


def voice_hash_of(ge_bytes: bytes) -> str:
    """The edge's cache key of a style vector: sha256 of its float32 little-endian bytes, 16 hex characters
    (the same rule as the default voice's, ``workers.voice.Voice.voice_hash``)."""
    return hashlib.sha256(ge_bytes).hexdigest()[:16]


def array_shapes(fields: dict[str, bytes]) -> dict[str, tuple[int, ...]]:
    """Shapes of the arrays in ``fields`` from their byte lengths; raises ``ValueError`` when they disagree."""
    sizes = {name: len(fields.get(name, b"")) for name in ARRAY_DTYPES}
    if any(size % int(ARRAY_DTYPES[name][-1]) for name, size in sizes.items()):
        raise ValueError("array bytes are not a whole number of elements")
    phones, tokens, ge = sizes["prompt_phones"] // 8, sizes["prompt_tokens"] // 8, sizes["ge"] // 4
    if sizes["prompt_bert"] != 4 * BERT_DIM * phones:
        raise ValueError(f"prompt_bert holds {sizes['prompt_bert'] // 4} values; [{BERT_DIM}, {phones}] expected")
    if not phones or not tokens or not ge:
        raise ValueError("a voice needs prompt phones, prompt tokens and a style vector")
    shapes = {"prompt_phones": (phones,), "prompt_tokens": (tokens,), "prompt_bert": (BERT_DIM, phones), "ge": (ge,)}
    for name, dtype in OPTIONAL_ARRAY_DTYPES.items():
        if name in fields:
            size = len(fields[name])
            if not size or size % int(dtype[-1]):
                raise ValueError(f"{name} holds {size} bytes, not a whole non-empty number of elements")
            shapes[name] = (size // int(dtype[-1]),)
    return shapes


@dataclass(frozen=True)
class VoiceTask:
    """What the gateway enqueues for a conditioning worker (JSON; the clip travels through Redis, not the broker)."""

    registration_id: str
    tenant: str
    voice_id: str
    mode: str
    """``create`` (a new voice id) or ``update`` (recompute an existing voice, keeping its id and creation time)."""
    language: str
    transcript: str
    name: str | None = None
    """The voice's name; None keeps an updated voice's name."""
    stored_audio: bool = False
    """Update only: recompute from the clip the voice already holds (no new upload)."""
    enqueued_at: float = 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> VoiceTask:
        return cls(**json.loads(text))


@dataclass(frozen=True)
class VoiceInfo:
    """A voice's metadata (no arrays, no clip): what List/Get/Register answer with."""

    voice_id: str
    name: str
    language: str
    transcript: str
    bundle_id: str
    model_version: str
    content_hash: str
    voice_hash: str
    created_at: float
    updated_at: float
    audio_seconds: float
    audio_format: str
    prompt_phone_count: int = 0
    prompt_token_count: int = 0

    @classmethod
    def from_fields(cls, fields: dict[str, bytes]) -> VoiceInfo:
        """From the voice hash's fields (``META_FIELDS``; array lengths when present)."""
        text = {k: fields.get(k, b"").decode() for k in META_FIELDS}
        return cls(
            voice_id=text["voice_id"], name=text["name"], language=text["language"], transcript=text["transcript"],
            bundle_id=text["bundle_id"], model_version=text["model_version"], content_hash=text["content_hash"],
            voice_hash=text["voice_hash"], created_at=float(text["created_at"] or 0),
            updated_at=float(text["updated_at"] or 0), audio_seconds=float(text["audio_seconds"] or 0),
            audio_format=text["audio_format"],
            prompt_phone_count=len(fields.get("prompt_phones", b"")) // 8,
            prompt_token_count=len(fields.get("prompt_tokens", b"")) // 8,
        )

    def to_pb(self) -> Any:  # noqa: ANN401 - relaytts.v1.VoiceInfo
        from protos import relaytts_v1_pb2 as pb

        return pb.VoiceInfo(
            voice_id=self.voice_id, name=self.name, language=self.language, transcript=self.transcript,
            bundle_id=self.bundle_id, model_version=self.model_version, content_hash=self.content_hash,
            voice_hash=self.voice_hash, created_at_unix_seconds=self.created_at,
            updated_at_unix_seconds=self.updated_at,
            audio_seconds=self.audio_seconds, audio_format=self.audio_format,
            prompt_phone_count=self.prompt_phone_count, prompt_token_count=self.prompt_token_count,
        )

    @classmethod
    def from_pb(cls, msg: Any) -> VoiceInfo:  # noqa: ANN401
        return cls(
            voice_id=msg.voice_id, name=msg.name, language=msg.language, transcript=msg.transcript,
            bundle_id=msg.bundle_id, model_version=msg.model_version, content_hash=msg.content_hash,
            voice_hash=msg.voice_hash, created_at=msg.created_at_unix_seconds,
            updated_at=msg.updated_at_unix_seconds,
            audio_seconds=msg.audio_seconds, audio_format=msg.audio_format,
            prompt_phone_count=msg.prompt_phone_count, prompt_token_count=msg.prompt_token_count,
        )
