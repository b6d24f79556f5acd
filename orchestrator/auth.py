"""API keys: the key file, open mode, and the tenant of the current RPC.

The key file is JSON (``RELAYTTS_GATEWAY_API_KEYS_FILE``); each key maps to a tenant name, or to an
object naming the tenant and overriding its quotas::

    {"key-1": "alice", "key-2": {"tenant": "bob", "max_streams": 4}}

Without a key file the gateway runs in *open mode*: every caller is tenant ``local`` (for a laptop,
never for a public port; ``orchestrator.tls.check_open_mode`` refuses it off loopback). Keys are
held as sha256 digests and looked up by digest, so a lookup's timing says nothing useful about the
keys. The auth interceptor stores the caller's tenant in a ``ContextVar`` that the servicers read
with ``current_tenant()``.

``KeyRing`` is the gateway's live view of the file: a file readable by every local user is refused,
and an edited file (or SIGHUP) is read again on the next call; a bad edit is logged and the keys in
force stay.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import stat
import threading
from collections.abc import Iterable, Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Final

from relaytts.errors import InvalidArgument, Unauthenticated

__all__ = ["OPEN_MODE_TENANT", "ApiKeys", "KeyRing", "TenantLimits", "current_tenant", "set_tenant"]

log = logging.getLogger(__name__)

OPEN_MODE_TENANT: Final = "local"
"""The one tenant of open mode."""
_TENANT_PATTERN: Final = re.compile(r"[A-Za-z0-9._-]{1,64}")
_tenant: ContextVar[str] = ContextVar("relaytts_tenant")


def current_tenant() -> str:
    """The tenant the auth interceptor resolved for this RPC."""
    try:
        return _tenant.get()
    except LookupError:
        raise RuntimeError("no tenant in context: the auth interceptor did not run for this RPC") from None


def set_tenant(tenant: str) -> Token[str]:
    return _tenant.set(tenant)


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


@dataclass(frozen=True)
class TenantLimits:
    """One tenant's quota overrides from the key file; None = the gateway setting (``tenant_*``)."""

    max_streams: int | None = None
    """Streams held at once (``RELAYTTS_GATEWAY_TENANT_MAX_STREAMS``)."""
    max_voices: int | None = None
    """Registered voices (``RELAYTTS_GATEWAY_TENANT_MAX_VOICES``)."""
    max_books: int | None = None
    """Book jobs not yet expired (``RELAYTTS_GATEWAY_TENANT_MAX_BOOKS``)."""

    @classmethod
    def from_entry(cls, entry: Mapping[str, object], source: object) -> TenantLimits:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(entry) - known - {"tenant"})
        if unknown:
            raise InvalidArgument(f"{source}: unknown key entry field(s) {', '.join(unknown)}; known: tenant, "
                                  f"{', '.join(sorted(known))}")
        values = {}
        for name in known & set(entry):
            value = entry[name]
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InvalidArgument(f"{source}: `{name}` must be an integer >= 0; given {value!r}")
            values[name] = value
        return cls(**values)


def _parse_entry(value: object, source: object) -> tuple[str, TenantLimits]:
    if isinstance(value, dict):
        tenant, limits = value.get("tenant"), TenantLimits.from_entry(value, source)
    else:
        tenant, limits = value, TenantLimits()
    if not isinstance(tenant, str) or not _TENANT_PATTERN.fullmatch(tenant):
        raise InvalidArgument(f"{source}: tenant must be 1-64 characters of A-Z a-z 0-9 . _ -; given {tenant!r}")
    return tenant, limits


@dataclass(frozen=True)
class ApiKeys:
    """Key digest -> tenant (``None`` is open mode), and the tenants' quota overrides."""

    tenants: Mapping[bytes, str] | None
    limits: Mapping[str, TenantLimits] = field(default_factory=dict)

    @property
    def open_mode(self) -> bool:
        return self.tenants is None

    @classmethod
    def open(cls) -> ApiKeys:
        return cls(None)

    @classmethod
    def from_mapping(cls, keys: Mapping[str, object], source: object = "api keys") -> ApiKeys:
        if not keys:
            raise InvalidArgument(f"{source}: holds no keys (an empty key file would lock every caller out)")
        tenants: dict[bytes, str] = {}
        limits: dict[str, TenantLimits] = {}
        for key, value in keys.items():
            if not isinstance(key, str) or not key.strip() or key != key.strip():
                raise InvalidArgument(f"{source}: keys must be non-empty strings without surrounding spaces")
            tenant, entry = _parse_entry(value, source)
            if entry != TenantLimits():
                if limits.get(tenant, entry) != entry:
                    raise InvalidArgument(f"{source}: tenant {tenant!r} has different quotas under two keys")
                limits[tenant] = entry
            tenants[_digest(key)] = tenant
        return cls(tenants, limits)

    def limits_for(self, tenant: str) -> TenantLimits:
        """The tenant's overrides (all None when the key file sets none)."""
        return self.limits.get(tenant, TenantLimits())

    @property
    def tenant_names(self) -> frozenset[str]:
        """Every tenant the keys name (open mode: ``local``): the bounded label set of per-tenant metrics."""
        return frozenset((OPEN_MODE_TENANT,) if self.tenants is None else self.tenants.values())

    @classmethod
    def load(cls, path: str | Path) -> ApiKeys:
        """Read the key file, or open mode when ``path`` is empty."""
        if not path:
            return cls.open()
        path = Path(path)
        try:
            mode = path.stat().st_mode
            if mode & (stat.S_IROTH | stat.S_IWOTH):
                raise InvalidArgument(f"{path}: the API key file is readable or writable by every user (mode "
                                      f"{stat.S_IMODE(mode):04o}); chmod 600 {path} (or 640 for a group)")
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InvalidArgument(f"{path}: cannot read the API key file ({exc.strerror})") from None
        except json.JSONDecodeError as exc:
            raise InvalidArgument(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise InvalidArgument(f'{path}: must be a JSON object {{"key": "tenant"}}; given {type(data).__name__}')
        return cls.from_mapping(data, source=path)

    def tenant_for(self, metadata: Iterable[tuple[str, str | bytes]] | None) -> str:
        """The caller's tenant from ``authorization: Bearer <key>``; ``Unauthenticated`` otherwise."""
        if self.tenants is None:
            return OPEN_MODE_TENANT
        header = next((value for key, value in metadata or () if key == "authorization"), None)
        if header is None:
            raise Unauthenticated("missing `authorization: Bearer <key>` metadata")
        if isinstance(header, bytes):
            header = header.decode("latin-1")
        scheme, _, key = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise Unauthenticated("`authorization` metadata must be `Bearer <key>`")
        tenant = self.tenants.get(_digest(key.strip()))
        if tenant is None:
            raise Unauthenticated("unknown API key")
        return tenant


class KeyRing:
    """The live key file: ``ApiKeys`` read again when the file changes (checked per call) or on ``reload()``.

    Same interface as ``ApiKeys`` (``open_mode``, ``tenant_for``, ``limits_for``, ``tenant_names``).
    A change is seen by the file's inode, size and mtime (a ``stat`` per call, no reading); an edit
    that fails to load (bad JSON, world-readable, gone) is logged once and the keys in force stay, so
    a typo cannot lock every tenant out or open the gateway.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path) if path else None
        self._lock = threading.Lock()
        self._seen = self._signature()
        self.keys = ApiKeys.load(path)  # errors at start-up are fatal: nothing is in force yet

    def _signature(self) -> tuple[int, int, int, int] | None:
        if self.path is None:
            return None
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_ino, st.st_size, st.st_mtime_ns, st.st_mode

    @classmethod
    def load(cls, path: str | Path) -> KeyRing:
        return cls(path)

    def reload(self) -> bool:
        """Read the file again now (SIGHUP); True when new keys are in force."""
        with self._lock:
            self._seen = self._signature()
            try:
                keys = ApiKeys.load(self.path) if self.path is not None else self.keys
            except InvalidArgument as exc:
                log.error("API key file not reloaded, the previous keys stay in force: %s", exc)
                return False
            changed = keys != self.keys
            self.keys = keys
        if changed:
            log.info("API key file %s reloaded: %d key(s), %d tenant(s)", self.path, len(keys.tenants or ()),
                     len(keys.tenant_names))
        return changed

    def current(self) -> ApiKeys:
        """The keys in force, reloading first when the file changed since it was last read."""
        if self.path is not None and self._signature() != self._seen:
            self.reload()
        return self.keys

    @property
    def open_mode(self) -> bool:
        return self.keys.open_mode

    @property
    def tenant_names(self) -> frozenset[str]:
        return self.current().tenant_names

    def tenant_for(self, metadata: Iterable[tuple[str, str | bytes]] | None) -> str:
        return self.current().tenant_for(metadata)

    def limits_for(self, tenant: str) -> TenantLimits:
        return self.current().limits_for(tenant)
