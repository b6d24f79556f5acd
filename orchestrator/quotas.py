"""Per-tenant quotas and fair admission of streams, on top of the gateway-wide ``Admission``.

Every stream RPC (Synthesize, Resume, WatchJob, StreamSegment) takes a slot with
``admission.slot()``; ``TenantAdmission`` reads the caller's tenant from the auth context and
refuses, at once and with RESOURCE_EXHAUSTED naming the limit, when

1. the tenant already holds its ``max_streams`` (``gateway.tenant_max_streams``, or the key file's
   per-tenant override), or
2. the gateway is past ``FAIR_SHARE_ABOVE`` of ``max_active_streams`` and the tenant holds at least
   its fair share: the pool divided by the tenants holding streams *plus one*, the one yet to
   arrive. The last quarter of the pool is thus kept for tenants below their share (a tenant alone
   gets three quarters), so one tenant's backlog (a book's WatchJob and StreamSegment calls, a burst
   of streams) cannot take the slots another tenant's live stream needs;
3. the whole pool is taken (``max_active_streams``, as before).

In open mode (no key file, one tenant) only the pool applies. Per-tenant metrics are labelled by
tenant name; names come only from the key file (an unknown key
never gets this far), so the label set is bounded by configuration, not by callers.
"""

from __future__ import annotations

import contextlib
from collections import Counter as Tally
from collections.abc import Iterator
from typing import Final, Protocol

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry, Counter, Gauge

from orchestrator.auth import TenantLimits, current_tenant
from orchestrator.metrics import GatewayMetrics
from orchestrator.synthesis import Admission
from relaytts import keys as redis_keys
from relaytts.errors import Overloaded
from relaytts.settings import GatewaySettings

__all__ = ["FAIR_SHARE_ABOVE", "QuotaExceeded", "StoredQuotas", "TenantAdmission", "TenantMetrics"]

FAIR_SHARE_ABOVE: Final = 0.75
"""Fraction of ``max_active_streams`` above which only tenants below their fair share are admitted."""


class QuotaExceeded(Overloaded):
    """A tenant is at one of its quotas (RESOURCE_EXHAUSTED; the message names the limit)."""

    reason = "quota_exceeded"


class _Limits(Protocol):
    @property
    def open_mode(self) -> bool: ...

    def limits_for(self, tenant: str) -> TenantLimits: ...


class TenantMetrics:
    """Per-tenant gauges and counters (tenant names from the key file only)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.active_streams = Gauge(
            "relaytts_tenant_active_streams", "Streams a tenant holds now.", ["tenant"], registry=registry
        )
        self.rejections = Counter(
            "relaytts_tenant_rejections",
            "Calls refused because a tenant was at a quota, by tenant and limit.",
            ["tenant", "limit"],
            registry=registry,
        )


class TenantAdmission(Admission):
    """``Admission`` with per-tenant stream caps and fair sharing of the pool's last quarter."""

    def __init__(self, limit: int, metrics: GatewayMetrics, keys: _Limits, tenant_limit: int) -> None:
        super().__init__(limit, metrics)
        self.keys = keys
        self.tenant_limit = tenant_limit
        self.held: Tally[str] = Tally()
        self.tenant_metrics = TenantMetrics(metrics.registry)

    def cap_for(self, tenant: str) -> int:
        """The tenant's stream cap (0 = none beyond the pool)."""
        override = self.keys.limits_for(tenant).max_streams
        return self.tenant_limit if override is None else override

    def _refuse(self, tenant: str, limit: str, message: str) -> QuotaExceeded:
        self.tenant_metrics.rejections.labels(tenant=tenant, limit=limit).inc()
        return QuotaExceeded(message)

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        if self.keys.open_mode:  # one tenant (``relaytts up`` on a laptop): the pool is all there is
            with super().slot():
                yield
            return
        tenant = current_tenant()
        held, cap = self.held[tenant], self.cap_for(tenant)
        if cap and held >= cap:
            raise self._refuse(
                tenant,
                "max_streams",
                f"tenant {tenant!r} holds {held} streams, its `max_streams` quota is {cap}; retry when one ends",
            )
        if self.limit * FAIR_SHARE_ABOVE <= self.active < self.limit:
            # The share counts one tenant more than those holding streams: the one that has yet to arrive.
            tenants = len(self.held) + (0 if held else 1)
            share = self.limit / (tenants + 1)
            if held >= share:
                raise self._refuse(
                    tenant,
                    "fair_share",
                    f"the gateway has {self.active} of `max_active_streams` {self.limit} streams open and tenant "
                    f"{tenant!r} holds {held}, at least its fair share of {share:.1f}; retry with backoff",
                )
        with super().slot():
            self.held[tenant] += 1
            self.tenant_metrics.active_streams.labels(tenant=tenant).inc()
            try:
                yield
            finally:
                self.held[tenant] -= 1
                if not self.held[tenant]:
                    del self.held[tenant]  # ``len(self.held)`` counts the tenants holding streams
                self.tenant_metrics.active_streams.labels(tenant=tenant).dec()


class StoredQuotas:
    """Per-tenant caps on what a tenant keeps in Redis: registered voices and book jobs.

    Checked before an upload is read (RegisterVoice, SubmitBook) and before an import is written, so a
    tenant at its cap is refused at once. Soft under concurrency: two calls racing for the last place
    may both pass; the cap bounds growth, it is not a ledger.
    """

    def __init__(
        self, redis: aioredis.Redis, keys: _Limits, settings: GatewaySettings, metrics: TenantMetrics | None = None
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.settings = settings
        self.metrics = metrics

    def _cap(self, tenant: str, name: str) -> int:
        override = getattr(self.keys.limits_for(tenant), name)
        return getattr(self.settings, f"tenant_{name}") if override is None else override

    def _refuse(self, tenant: str, name: str, held: int, adding: int, cap: int, what: str) -> QuotaExceeded:
        if self.metrics is not None:
            self.metrics.rejections.labels(tenant=tenant, limit=name).inc()
        more = f" and {adding} more were asked for" if adding > 1 else ""
        return QuotaExceeded(
            f"tenant {tenant!r} holds {held} {what}{more}; its `{name}` quota is {cap}: delete some first"
        )

    async def check_voices(self, tenant: str, adding: int = 1) -> None:
        """Raise ``QuotaExceeded`` unless ``adding`` more voices fit under ``max_voices``."""
        cap = self._cap(tenant, "max_voices")
        if self.keys.open_mode or not cap:
            return
        held = await self.redis.zcard(redis_keys.tenant_voices_key(tenant))
        if held + adding > cap:
            raise self._refuse(tenant, "max_voices", held, adding, cap, "voices")

    async def check_books(self, tenant: str) -> None:
        """Raise ``QuotaExceeded`` unless one more book job fits under ``max_books`` (expired ones not counted)."""
        cap = self._cap(tenant, "max_books")
        if self.keys.open_mode or not cap:
            return
        index = redis_keys.tenant_books_key(tenant)
        ids = await self.redis.zrange(index, 0, -1)
        if len(ids) < cap:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for book_id in ids:
                pipe.exists(redis_keys.book_key(book_id.decode()))
            alive = await pipe.execute()
        gone = [book_id for book_id, present in zip(ids, alive, strict=True) if not present]
        if gone:  # expired jobs leave their id in the index; ListJobs drops them the same way
            await self.redis.zrem(index, *gone)
        held = len(ids) - len(gone)
        if held >= cap:
            raise self._refuse(tenant, "max_books", held, 1, cap, "book jobs")
