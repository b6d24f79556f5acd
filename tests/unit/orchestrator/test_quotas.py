"""Per-tenant stream caps and the fair share of the pool's last quarter (TenantAdmission, no server)."""

from __future__ import annotations

import contextlib

import pytest

from orchestrator.auth import ApiKeys, set_tenant
from orchestrator.metrics import GatewayMetrics
from orchestrator.quotas import QuotaExceeded, TenantAdmission
from relaytts.errors import Overloaded

TENANTS = ApiKeys.from_mapping({f"key-{name}": name for name in ("busy", "live", "a", "b", "c", "d")})


def take(admission: TenantAdmission, stack: contextlib.ExitStack, tenant: str, n: int = 1) -> None:
    for _ in range(n):
        set_tenant(tenant)
        stack.enter_context(admission.slot())


def test_a_tenant_at_its_cap_is_refused_naming_the_limit_while_another_is_admitted():
    keys = ApiKeys.from_mapping({"ka": {"tenant": "a", "max_streams": 2}, "kb": "b"})
    admission = TenantAdmission(64, GatewayMetrics(), keys, tenant_limit=16)
    with contextlib.ExitStack() as stack:
        take(admission, stack, "a", 2)
        set_tenant("a")
        with pytest.raises(QuotaExceeded, match=r"tenant 'a' holds 2 streams, its `max_streams` quota is 2") as caught:
            stack.enter_context(admission.slot())
        assert caught.value.code == "RESOURCE_EXHAUSTED" and caught.value.reason == "quota_exceeded"
        take(admission, stack, "b", 16)  # b has the setting's cap, not a's override
        set_tenant("b")
        with pytest.raises(QuotaExceeded, match="quota is 16"):
            stack.enter_context(admission.slot())
    assert admission.active == 0 and not admission.held


def test_past_three_quarters_of_the_pool_only_tenants_below_their_fair_share_are_admitted():
    admission = TenantAdmission(8, GatewayMetrics(), TENANTS, tenant_limit=0)
    with contextlib.ExitStack() as stack:
        take(admission, stack, "busy", 6)  # 6 of 8: past 3/4
        set_tenant("busy")
        with pytest.raises(QuotaExceeded, match="fair share of 4.0"):  # 8 / (1 holder + 1 yet to come)
            stack.enter_context(admission.slot())
        take(admission, stack, "live", 2)  # the last quarter goes to the tenant below its share
        set_tenant("live")
        with pytest.raises(Overloaded):
            stack.enter_context(admission.slot())


def test_the_whole_pool_taken_is_overloaded_naming_max_active_streams():
    admission = TenantAdmission(4, GatewayMetrics(), TENANTS, tenant_limit=0)
    with contextlib.ExitStack() as stack:
        take(admission, stack, "a", 2)
        take(admission, stack, "b", 1)
        take(admission, stack, "c", 1)  # 3 of 4 taken: c holds none, below its share 4 / 3
        set_tenant("d")
        with pytest.raises(Overloaded, match="`max_active_streams` is 4"):
            stack.enter_context(admission.slot())


def test_open_mode_has_one_tenant_and_only_the_pool():
    admission = TenantAdmission(4, GatewayMetrics(), ApiKeys.open(), tenant_limit=1)
    with contextlib.ExitStack() as stack:
        take(admission, stack, "local", 4)
        set_tenant("local")
        with pytest.raises(Overloaded, match="`max_active_streams` is 4"):
            stack.enter_context(admission.slot())
