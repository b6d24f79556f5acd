"""The gateway's view of the voice library in Redis: voice records, a tenant's index, registrations.

Key names come from ``relaytts.keys``; the record layout and the Lua scripts from ``relaytts.voices``
(docs/protocol.md §5). Every key is scoped by tenant, so another tenant's voice id simply names no
record, and every "not there" gives the same ``VoiceNotFound`` message.
"""

from __future__ import annotations

import time
from typing import Final

from redis.asyncio import Redis

from relaytts import keys
from relaytts.errors import VoiceNotFound
from relaytts.voices import (
    AUDIO_FIELD,
    DECIDE_REGISTRATION,
    META_FIELDS,
    RECORD_FORMAT,
    RENAME_VOICE,
    RegistrationStatus,
    VoiceInfo,
    VoiceTask,
    voice_not_found_message,
)

__all__ = ["Outcome", "VoiceStore"]

MAX_BLOCK_MS: Final = 2000
"""Longest single XREAD BLOCK while waiting for a registration (below the client's socket timeout)."""
_COUNTED: Final = ("prompt_phones", "prompt_tokens")


class Outcome(dict):
    """The decoded outcome entry of a registration: ``status``, and ``voice_id`` or ``code`` + ``error``."""

    @property
    def status(self) -> RegistrationStatus:
        return RegistrationStatus(self.get("status", "failed"))


class VoiceStore:
    """Voice records and registrations on ``redis.asyncio``; registration keys live ``ttl_seconds``."""

    def __init__(self, redis: Redis, ttl_seconds: int) -> None:
        self.redis = redis
        self.ttl_seconds = ttl_seconds

    # ---- records ----

    async def get(self, tenant: str, voice_id: str) -> VoiceInfo:
        """A voice's metadata; ``VoiceNotFound`` (one message) for unknown, deleted or another tenant's ids."""
        infos = await self._infos(tenant, [voice_id])
        if infos[0] is None:
            raise VoiceNotFound(voice_not_found_message(voice_id))
        return infos[0]

    async def bundle_of(self, tenant: str, voice_id: str) -> str:
        """The bundle id a voice was computed with; ``VoiceNotFound`` as ``get``."""
        value = await self.redis.hget(keys.voice_key(tenant, voice_id), "bundle_id")
        if value is None:
            raise VoiceNotFound(voice_not_found_message(voice_id))
        return value.decode()

    async def page(self, tenant: str, offset: int, limit: int) -> tuple[list[VoiceInfo], int | None]:
        """A page of the tenant's voices, oldest first, and the next page's offset (None: last page)."""
        ids = [v.decode() for v in await self.redis.zrange(keys.tenant_voices_key(tenant), offset, offset + limit)]
        more = len(ids) > limit
        infos = [info for info in await self._infos(tenant, ids[:limit]) if info is not None]
        return infos, (offset + limit if more else None)

    async def rename(self, tenant: str, voice_id: str, name: str) -> VoiceInfo:
        """Set a voice's name (and ``updated_at``); ``VoiceNotFound`` as ``get``."""
        if not await self.redis.eval(RENAME_VOICE, 1, keys.voice_key(tenant, voice_id), name, repr(time.time())):
            raise VoiceNotFound(voice_not_found_message(voice_id))
        return await self.get(tenant, voice_id)

    async def delete(self, tenant: str, voice_id: str) -> None:
        """Remove the record and its index entry in one transaction; ``VoiceNotFound`` as ``get``."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(keys.voice_key(tenant, voice_id))
            pipe.zrem(keys.tenant_voices_key(tenant), voice_id)
            deleted, _ = await pipe.execute()
        if not deleted:
            raise VoiceNotFound(voice_not_found_message(voice_id))

    async def all_ids(self, tenant: str) -> list[str]:
        return [v.decode() for v in await self.redis.zrange(keys.tenant_voices_key(tenant), 0, -1)]

    async def records(self, tenant: str, voice_ids: list[str]) -> list[dict[str, bytes]]:
        """Whole records (arrays and clip included), for export; ``VoiceNotFound`` for any missing id."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for voice_id in voice_ids:
                pipe.hgetall(keys.voice_key(tenant, voice_id))
            raw = await pipe.execute()
        records = []
        for voice_id, fields in zip(voice_ids, raw, strict=True):
            if not fields:
                raise VoiceNotFound(voice_not_found_message(voice_id))
            records.append({k.decode(): v for k, v in fields.items()})
        return records

    async def import_records(self, tenant: str, records: list[dict[str, bytes]],
                             replace: bool) -> tuple[list[str], list[str]]:
        """Write validated records into ``tenant`` in one transaction; returns (imported, skipped) ids."""
        ids = [r["voice_id"].decode() for r in records]
        async with self.redis.pipeline(transaction=False) as pipe:
            for voice_id in ids:
                pipe.exists(keys.voice_key(tenant, voice_id))
            present = await pipe.execute()
        imported, skipped = [], []
        async with self.redis.pipeline(transaction=True) as pipe:
            for voice_id, record, exists in zip(ids, records, present, strict=True):
                if exists and not replace:
                    skipped.append(voice_id)
                    continue
                key = keys.voice_key(tenant, voice_id)
                pipe.delete(key)
                pipe.hset(key, mapping=record | {"tenant": tenant.encode(), "format": str(RECORD_FORMAT).encode()})
                pipe.zadd(keys.tenant_voices_key(tenant), {voice_id: float(record["created_at"])})
                imported.append(voice_id)
            if imported:
                await pipe.execute()
        return imported, skipped

    async def _infos(self, tenant: str, voice_ids: list[str]) -> list[VoiceInfo | None]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for voice_id in voice_ids:
                key = keys.voice_key(tenant, voice_id)
                pipe.hmget(key, list(META_FIELDS))
                for name in _COUNTED:
                    pipe.hstrlen(key, name)
            raw = await pipe.execute()
        infos: list[VoiceInfo | None] = []
        step = 1 + len(_COUNTED)
        for i in range(len(voice_ids)):
            meta, *lengths = raw[i * step:(i + 1) * step]
            if meta[META_FIELDS.index("voice_id")] is None:
                infos.append(None)
                continue
            fields = {name: value or b"" for name, value in zip(META_FIELDS, meta, strict=True)}
            fields |= {name: b"\0" * int(n) for name, n in zip(_COUNTED, lengths, strict=True)}
            infos.append(VoiceInfo.from_fields(fields))
        return infos

    # ---- registrations ----

    async def start_registration(self, task: VoiceTask, audio: bytes | None) -> None:
        """Park the registration (and its upload) for the worker, with the TTL."""
        key = keys.voice_registration_key(task.registration_id)
        fields: dict[str, bytes | str] = {"tenant": task.tenant, "voice_id": task.voice_id, "deliveries": "0"}
        if audio is not None:
            fields[AUDIO_FIELD] = audio
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=fields)
            pipe.expire(key, self.ttl_seconds)
            await pipe.execute()

    async def wait_outcome(self, registration_id: str, timeout: float) -> Outcome | None:
        """The registration's outcome entry, waiting up to ``timeout`` seconds for it; None after that."""
        key = keys.voice_registration_result_key(registration_id)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            block_ms = max(1, min(MAX_BLOCK_MS, int(remaining * 1000)))
            reply = await self.redis.xread({key: "0-0"}, count=1, block=block_ms)
            if reply:
                _, entries = reply[0]
                _, fields = entries[0]
                return Outcome({k.decode(): v.decode() for k, v in fields.items()})
            if time.monotonic() >= deadline:
                return None

    async def abandon(self, registration_id: str, reason: str) -> Outcome | None:
        """Decide the registration as abandoned unless a worker decided it first; that outcome, or None."""
        decided = await self.redis.eval(DECIDE_REGISTRATION, 2, keys.voice_registration_result_key(registration_id),
                                        keys.voice_registration_key(registration_id), self.ttl_seconds,
                                        RegistrationStatus.ABANDONED.value, "UNAVAILABLE", reason)
        if decided:
            return None
        return await self.wait_outcome(registration_id, 0.001)
