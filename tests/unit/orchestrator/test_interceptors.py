"""Handler wrapping: RelayError -> abort(code, message), anything else -> INTERNAL with a request id."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from orchestrator.auth import ApiKeys, current_tenant
from orchestrator.interceptors import AuthInterceptor, ErrorInterceptor
from orchestrator.metrics import GatewayMetrics
from relaytts.errors import Overloaded


class FakeContext:
    def __init__(self) -> None:
        self.aborted: tuple[grpc.StatusCode, str] | None = None

    async def abort(self, code: grpc.StatusCode, details: str) -> None:
        self.aborted = (code, details)
        raise grpc.aio.AbortError()


class Details(grpc.HandlerCallDetails):
    def __init__(self, method: str, metadata: tuple = ()) -> None:
        self.method = method
        self.invocation_metadata = metadata


async def intercepted(handler, method="/relaytts.v1.Synthesis/Synthesize", metadata=(), keys=None):
    metrics = GatewayMetrics()
    chain = handler
    for interceptor in (AuthInterceptor(keys or ApiKeys.open()), ErrorInterceptor(metrics)):
        async def continuation(_details, inner=chain):
            return inner
        chain = await interceptor.intercept_service(continuation, Details(method, metadata))
    return chain, metrics


def run_stream(handler, context):
    async def go():
        return [item async for item in handler.unary_stream(None, context)]
    return asyncio.run(go())


def test_an_async_generator_handler_is_mapped_mid_stream():
    async def behavior(request, context):
        yield current_tenant()
        raise Overloaded("`max_active_streams` is 1")

    handler, metrics = asyncio.run(intercepted(grpc.unary_stream_rpc_method_handler(behavior)))
    context = FakeContext()
    items = []

    async def go():
        async for item in handler.unary_stream(None, context):
            items.append(item)

    with pytest.raises(grpc.aio.AbortError):
        asyncio.run(go())
    assert items == ["local"]
    assert context.aborted == (grpc.StatusCode.RESOURCE_EXHAUSTED, "`max_active_streams` is 1")
    assert metrics.errors.labels(reason="overloaded")._value.get() == 1


def test_a_bug_is_internal_with_a_request_id():
    async def behavior(request, context):
        raise KeyError("oops")

    handler, metrics = asyncio.run(intercepted(grpc.unary_unary_rpc_method_handler(behavior)))
    context = FakeContext()
    with pytest.raises(grpc.aio.AbortError):
        asyncio.run(handler.unary_unary(None, context))
    code, details = context.aborted
    assert code == grpc.StatusCode.INTERNAL and details.startswith("internal error (request id ")
    assert "oops" not in details
    assert metrics.errors.labels(reason="internal")._value.get() == 1


def test_without_a_key_the_behaviour_never_runs():
    ran = []

    async def behavior(request, context):
        ran.append(1)

    keys = ApiKeys.from_mapping({"k": "alice"})
    handler, _ = asyncio.run(intercepted(grpc.unary_unary_rpc_method_handler(behavior), keys=keys))
    context = FakeContext()
    with pytest.raises(grpc.aio.AbortError):
        asyncio.run(handler.unary_unary(None, context))
    assert context.aborted[0] == grpc.StatusCode.UNAUTHENTICATED and not ran
    # Health stays reachable: its handler is returned untouched.
    original = grpc.unary_unary_rpc_method_handler(behavior)
    exempt, _ = asyncio.run(intercepted(original, method="/grpc.health.v1.Health/Check", keys=keys))
    assert exempt is original


def test_an_unreachable_redis_is_unavailable():
    import redis.exceptions

    async def behavior(request, context):
        raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379")

    handler, metrics = asyncio.run(intercepted(grpc.unary_unary_rpc_method_handler(behavior)))
    context = FakeContext()
    with pytest.raises(grpc.aio.AbortError):
        asyncio.run(handler.unary_unary(None, context))
    assert context.aborted[0] == grpc.StatusCode.UNAVAILABLE
    assert metrics.errors.labels(reason="unavailable")._value.get() == 1
