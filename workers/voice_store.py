"""The workers' side of the voice library in Redis: reading a voice for synthesis, writing a conditioned one.

The record layout and the Lua scripts are in ``relaytts.voices`` (docs/protocol.md §5). Arrays are
stored as raw little-endian bytes with the dtypes fixed there and read back with ``np.frombuffer``:
no pickle anywhere.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from relaytts import keys
from relaytts.errors import BundleError, BundleMismatch, VoiceNotFound
from relaytts.voices import (
    ARRAY_DTYPES,
    AUDIO_FIELD,
    COMMIT_VOICE,
    DECIDE_REGISTRATION,
    DEFAULT_VOICE_IDS,
    OPTIONAL_ARRAY_DTYPES,
    RECORD_FORMAT,
    RegistrationStatus,
    VoiceTask,
    array_shapes,
    content_hash,
    voice_hash_of,
    voice_not_found_message,
)
from workers.voice import Voice

if TYPE_CHECKING:
    import redis

    from bundle import Manifest
    from workers.conditioning import Conditioning

__all__ = ["commit_voice", "decide_registration", "load_voice", "record_fields", "resolve_voice"]


def _to_bytes(array: np.ndarray, name: str) -> bytes:
    return np.ascontiguousarray(array, ARRAY_DTYPES[name]).tobytes()


def record_fields(task: VoiceTask, conditioning: Conditioning, manifest: Manifest, audio: bytes,
                  now: float | None = None) -> dict[str, bytes | str]:
    """The voice hash fields a conditioned clip writes (``created_at`` only for a new voice)."""
    now = time.time() if now is None else now
    ge = _to_bytes(conditioning.ge, "ge")
    fields: dict[str, bytes | str] = {
        "format": str(RECORD_FORMAT), "voice_id": task.voice_id, "tenant": task.tenant,
        "language": task.language, "transcript": task.transcript,
        "content_hash": content_hash(audio, task.transcript, task.language, manifest.bundle_id),
        "bundle_id": manifest.bundle_id, "model_version": manifest.model_version, "voice_hash": voice_hash_of(ge),
        "updated_at": repr(now), "audio_seconds": repr(round(conditioning.clip.seconds, 6)),
        "audio_format": conditioning.clip.container,
        "prompt_phones": _to_bytes(conditioning.prompt_phones, "prompt_phones"),
        "prompt_tokens": _to_bytes(conditioning.prompt_tokens, "prompt_tokens"),
        "prompt_bert": _to_bytes(conditioning.prompt_bert, "prompt_bert"), "ge": ge, AUDIO_FIELD: audio,
    }
    if conditioning.sv_emb is not None:
        fields["sv_emb"] = np.ascontiguousarray(conditioning.sv_emb, OPTIONAL_ARRAY_DTYPES["sv_emb"]).tobytes()
    if task.mode == "create":
        fields["created_at"] = repr(now)
    if task.name is not None:
        fields["name"] = task.name
    return fields


def commit_voice(client: redis.Redis, task: VoiceTask, fields: dict[str, bytes | str], ttl_seconds: int) -> int:
    """Write the voice and the registration's ``done`` entry in one step (``COMMIT_VOICE``).

    Returns 1 when written, 0 when the registration was already decided (nothing written), -1 when an
    updated voice was deleted meanwhile (the registration is then decided as failed, NOT_FOUND).
    """
    flat: list[bytes | str] = []
    for name, value in fields.items():
        flat += [name, value]
    score = fields.get("created_at", "0")
    return int(client.eval(COMMIT_VOICE, 4, keys.voice_registration_result_key(task.registration_id),
                           keys.voice_key(task.tenant, task.voice_id), keys.tenant_voices_key(task.tenant),
                           keys.voice_registration_key(task.registration_id), ttl_seconds, task.mode, task.voice_id,
                           score, *flat))


def decide_registration(client: redis.Redis, registration_id: str, ttl_seconds: int, code: str, message: str,
                        status: RegistrationStatus = RegistrationStatus.FAILED) -> bool:
    """Record a failed (or abandoned) registration unless it is already decided; True when this call decided."""
    return bool(client.eval(DECIDE_REGISTRATION, 2, keys.voice_registration_result_key(registration_id),
                            keys.voice_registration_key(registration_id), ttl_seconds, status.value, code,
                            message[:2000]))


def load_voice(client: redis.Redis, tenant: str, voice_id: str) -> Voice:
    """A registered voice of ``tenant`` as the T2S engine and the edge need it; ``VoiceNotFound`` otherwise."""
    names = ["format", "bundle_id", *ARRAY_DTYPES]
    values = client.hmget(keys.voice_key(tenant, voice_id), names)
    fields = {name: value for name, value in zip(names, values, strict=True) if value is not None}
    if "ge" not in fields:
        raise VoiceNotFound(voice_not_found_message(voice_id))
    if int(fields.get("format", b"0")) > RECORD_FORMAT:
        raise BundleError(f"voice {voice_id} was stored by a newer relaytts (record format {fields['format']!r}); "
                          "upgrade the workers")
    try:
        shapes = array_shapes(fields)
    except ValueError as exc:
        raise BundleError(f"voice {voice_id}: corrupt record ({exc}); register it again") from None
    arrays = {name: np.frombuffer(fields[name], ARRAY_DTYPES[name]).reshape(shapes[name]) for name in ARRAY_DTYPES}
    return Voice(name=voice_id, ge=arrays["ge"].astype(np.float32),
                 prompt_phones=arrays["prompt_phones"].astype(np.int64),
                 prompt_tokens=arrays["prompt_tokens"].astype(np.int64),
                 prompt_bert=np.ascontiguousarray(arrays["prompt_bert"], np.float32),
                 bundle_id=fields.get("bundle_id", b"").decode())


def resolve_voice(client: redis.Redis, default: Voice, manifest: Manifest, tenant: str, voice_id: str) -> Voice:
    """The voice a job names: the bundle's default for ``""``/``default``, else the tenant's registered voice,
    refused (``BundleMismatch``) when it was computed with another bundle."""
    if voice_id in DEFAULT_VOICE_IDS:
        return default
    voice = load_voice(client, tenant, voice_id)
    if voice.bundle_id != manifest.bundle_id:
        raise BundleMismatch(
            f"voice {voice_id} was computed with bundle {voice.bundle_id or '?'}; this worker serves bundle "
            f"{manifest.bundle_id}: recompute it (`relaytts voices migrate`, or UpdateVoice with recompute)")
    return voice
