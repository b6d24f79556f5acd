"""API keys: the key file, open mode, and the tenant of the current RPC.

The key file is JSON ``{"key": "tenant"}`` (``RELAYTTS_GATEWAY_API_KEYS_FILE``). Without one the
gateway runs in *open mode*: every caller is tenant ``local`` (for a laptop, never for a public port).
Keys are held as sha256 digests and looked up by digest, so a lookup's timing says nothing useful
about the keys. The auth interceptor stores the caller's tenant in a ``ContextVar`` that the
servicers read with ``current_tenant()``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from relaytts.errors import InvalidArgument, Unauthenticated

__all__ = ["OPEN_MODE_TENANT", "ApiKeys", "current_tenant", "set_tenant"]

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
class ApiKeys:
    """Key digest -> tenant; ``None`` is open mode."""

    tenants: Mapping[bytes, str] | None

    @property
    def open_mode(self) -> bool:
        return self.tenants is None

    @classmethod
    def open(cls) -> ApiKeys:
        return cls(None)

    @classmethod
    def from_mapping(cls, keys: Mapping[str, str], source: object = "api keys") -> ApiKeys:
        if not keys:
            raise InvalidArgument(f"{source}: holds no keys (an empty key file would lock every caller out)")
        tenants = {}
        for key, tenant in keys.items():
            if not isinstance(key, str) or not key.strip() or key != key.strip():
                raise InvalidArgument(f"{source}: keys must be non-empty strings without surrounding spaces")
            if not isinstance(tenant, str) or not _TENANT_PATTERN.fullmatch(tenant):
                raise InvalidArgument(
                    f"{source}: tenant must be 1-64 characters of A-Z a-z 0-9 . _ -; given {tenant!r}"
                )
            tenants[_digest(key)] = tenant
        return cls(tenants)

    @classmethod
    def load(cls, path: str | Path) -> ApiKeys:
        """Read the key file, or open mode when ``path`` is empty."""
        if not path:
            return cls.open()
        path = Path(path)
        try:
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
