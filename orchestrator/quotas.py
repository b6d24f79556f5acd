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

from prometheus_client import CollectorRegistry, Counter, Gauge

from orchestrator.auth import TenantLimits, current_tenant
from orchestrator.metrics import GatewayMetrics
from orchestrator.synthesis import Admission
from relaytts.errors import Overloaded

__all__ = ["FAIR_SHARE_ABOVE", "QuotaExceeded", "TenantAdmission", "TenantMetrics"]

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
