"""The gateway's two aio server interceptors: errors (outermost) and auth.

``ErrorInterceptor`` gives every RPC a request id (a ``ContextVar``) and turns a ``RelayError``
raised by a servicer into ``context.abort(code, message)``; a Redis connection error becomes
UNAVAILABLE; anything else becomes INTERNAL with a message carrying the request id, which is logged
with the traceback. Every error is counted as ``relaytts_errors_total{reason}``.

``AuthInterceptor`` resolves ``authorization: Bearer <key>`` to a tenant
(``orchestrator.auth.current_tenant()``) or ends the call with UNAUTHENTICATED; health and
reflection are exempt. Servicers therefore hold no auth and no status-code code: they raise.

aio interceptors only choose a handler, so both work by wrapping the handler's behaviour, for
unary and streaming responses, coroutine or async-generator style alike.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextvars import ContextVar
from typing import Any, Final

import grpc
import redis.exceptions

from orchestrator.auth import ApiKeys, KeyRing, set_tenant
from orchestrator.metrics import GatewayMetrics
from relaytts.errors import RelayError, Unavailable

__all__ = ["AuthInterceptor", "ErrorInterceptor", "current_request_id"]

log = logging.getLogger(__name__)

EXEMPT_PREFIXES: Final = ("/grpc.health.v1.Health/", "/grpc.reflection.")
"""Methods reachable without a key: health probes and reflection (grpcurl)."""

_request_id: ContextVar[str] = ContextVar("relaytts_request_id", default="-")

#: An async context manager factory run around each call of a behaviour (gets the call's context).
Scope = Callable[[grpc.aio.ServicerContext], contextlib.AbstractAsyncContextManager[None]]


def current_request_id() -> str:
    return _request_id.get()


def _exempt(method: str) -> bool:
    return method.startswith(EXEMPT_PREFIXES)


def _wrap_handler(handler: grpc.RpcMethodHandler, scope: Scope) -> grpc.RpcMethodHandler:
    """The same handler with its behaviour run inside ``scope(context)``.

    Coroutine behaviours (unary, or streaming with ``context.write``) are awaited inside the scope;
    async-generator behaviours are iterated inside it, closed with ``aclosing`` so their ``finally``
    runs as soon as the RPC ends.
    """
    if handler.request_streaming and handler.response_streaming:
        behavior, factory = handler.stream_stream, grpc.stream_stream_rpc_method_handler
    elif handler.request_streaming:
        behavior, factory = handler.stream_unary, grpc.stream_unary_rpc_method_handler
    elif handler.response_streaming:
        behavior, factory = handler.unary_stream, grpc.unary_stream_rpc_method_handler
    else:
        behavior, factory = handler.unary_unary, grpc.unary_unary_rpc_method_handler

    if inspect.isasyncgenfunction(behavior):
        async def wrapped_gen(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            async with scope(context), contextlib.aclosing(behavior(request, context)) as items:
                async for item in items:
                    yield item

        new: Callable = wrapped_gen
    else:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            async with scope(context):
                return await behavior(request, context)

        new = wrapped
    return factory(new, request_deserializer=handler.request_deserializer,
                   response_serializer=handler.response_serializer)


class ErrorInterceptor(grpc.aio.ServerInterceptor):
    """``RelayError`` -> ``abort(code, message)``; anything else -> INTERNAL + a logged request id."""

    def __init__(self, metrics: GatewayMetrics) -> None:
        self.metrics = metrics

    async def intercept_service(self, continuation: Callable, details: grpc.HandlerCallDetails) -> Any:
        handler = await continuation(details)
        if handler is None or _exempt(details.method):
            return handler
        method = details.method

        @contextlib.asynccontextmanager
        async def scope(context: grpc.aio.ServicerContext) -> AsyncIterator[None]:
            request_id = uuid.uuid4().hex[:16]
            _request_id.set(request_id)
            try:
                yield
            except RelayError as exc:
                self.metrics.errors.labels(reason=exc.reason).inc()
                log.info("%s [%s] %s (%s): %s", method, request_id, exc.code, exc.reason, exc.message)
                await context.abort(getattr(grpc.StatusCode, exc.code, grpc.StatusCode.INTERNAL), exc.message)
            except grpc.aio.AbortError:
                raise
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
                # Every RPC reads or writes Redis: an unreachable one is retryable for the client.
                self.metrics.errors.labels(reason=Unavailable.reason).inc()
                log.warning("%s [%s] Redis unreachable: %s", method, request_id, exc)
                await context.abort(grpc.StatusCode.UNAVAILABLE, f"job store unreachable (request id {request_id})")
            except Exception:
                self.metrics.errors.labels(reason="internal").inc()
                log.exception("%s [%s] failed", method, request_id)
                await context.abort(grpc.StatusCode.INTERNAL, f"internal error (request id {request_id})")

        return _wrap_handler(handler, scope)


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Bearer key -> tenant for the RPC, or UNAUTHENTICATED (raised, so ErrorInterceptor counts it)."""

    def __init__(self, keys: ApiKeys | KeyRing) -> None:
        self.keys = keys

    async def intercept_service(self, continuation: Callable, details: grpc.HandlerCallDetails) -> Any:
        handler = await continuation(details)
        if handler is None or _exempt(details.method):
            return handler
        metadata = details.invocation_metadata

        @contextlib.asynccontextmanager
        async def scope(context: grpc.aio.ServicerContext) -> AsyncIterator[None]:
            set_tenant(self.keys.tenant_for(metadata))  # raises Unauthenticated
            yield

        return _wrap_handler(handler, scope)
