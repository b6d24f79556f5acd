"""Assemble and run the gateway: ``build_server(settings, deps) -> (server, port)`` and ``serve(settings)``.

``build_server`` is called from the event loop that will run the server (tests: inside their own
loop, with port 0). ``stop_server`` drains: health NOT_SERVING, ``server.stop(grace)``, then the
Redis pool, the Celery producer and the metrics endpoint close. ``serve`` runs until SIGINT/SIGTERM
(a second signal stops at once).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import weakref
from dataclasses import dataclass, field
from typing import Final

import grpc
import redis.asyncio as aioredis
from grpc_health.v1 import health, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from orchestrator.auth import OPEN_MODE_TENANT, ApiKeys, KeyRing
from orchestrator.book_store import BookStore
from orchestrator.books import BatchSender, BooksServicer
from orchestrator.celery_client import CeleryEnqueuer
from orchestrator.imports import ImportSlots
from orchestrator.interceptors import AuthInterceptor, ErrorInterceptor
from orchestrator.jobs import JobStore
from orchestrator.metrics import GatewayMetrics
from orchestrator.models import EdgeFiles, ModelsServicer
from orchestrator.quotas import StoredQuotas, TenantAdmission
from orchestrator.reaper import Reaper
from orchestrator.synthesis import SynthesisServicer
from orchestrator.tls import add_port, check_open_mode
from orchestrator.voice_store import VoiceStore
from orchestrator.voices import VoiceSender, VoicesServicer
from protos import relaytts_v1_pb2 as pb
from protos import relaytts_v1_pb2_grpc as pb_grpc
from relaytts.errors import InvalidArgument, Unavailable
from relaytts.redact import mask_url, redact
from relaytts.settings import Settings, describe_settings

__all__ = ["GatewayDeps", "build_server", "serve", "stop_server"]

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS: Final = 10.0
"""How long open streams may finish after SIGTERM before they are cancelled (clients then Resume)."""
REDIS_CONNECT_TIMEOUT_SECONDS: Final = 5.0
REDIS_SOCKET_TIMEOUT_SECONDS: Final = 10.0
"""Longest wait for one Redis reply; above ``streams.MAX_BLOCK_MS`` so a blocking XREAD never trips it."""
SERVER_OPTIONS: Final = (
    # Edge streams idle between utterances behind NATs: allow client keepalive pings every 10 s.
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 10_000),
    ("grpc.keepalive_time_ms", 60_000),
    # gRPC sets SO_REUSEPORT by default: a second gateway on a taken port would start and share it silently.
    ("grpc.so_reuseport", 0),
)


@dataclass
class GatewayDeps:
    """What the servicers use; ``from_settings`` builds the real ones, tests may pass their own."""

    redis: aioredis.Redis
    enqueuer: CeleryEnqueuer
    keys: ApiKeys | KeyRing
    edge: EdgeFiles | None
    metrics: GatewayMetrics = field(default_factory=GatewayMetrics)

    @classmethod
    def from_settings(cls, settings: Settings) -> GatewayDeps:
        if not settings.redis.url:
            raise InvalidArgument("`RELAYTTS_REDIS_URL` (--redis-url) must be set for the gateway; given ''")
        keys = KeyRing.load(settings.gateway.api_keys_file)
        edge = EdgeFiles.load(settings.gateway.bundle) if settings.gateway.bundle else None
        return cls(
            redis=aioredis.Redis.from_url(settings.redis.url, socket_connect_timeout=REDIS_CONNECT_TIMEOUT_SECONDS,
                                          socket_timeout=REDIS_SOCKET_TIMEOUT_SECONDS),
            enqueuer=CeleryEnqueuer.from_url(settings.redis.url),
            keys=keys,
            edge=edge,
        )

    async def aclose(self) -> None:
        self.metrics.close()
        self.enqueuer.close()
        await self.redis.aclose()


@dataclass
class _Running:
    deps: GatewayDeps
    health: health.aio.HealthServicer
    synthesis: SynthesisServicer
    voices: VoicesServicer


_running: weakref.WeakKeyDictionary[grpc.aio.Server, _Running] = weakref.WeakKeyDictionary()


def build_server(settings: Settings, deps: GatewayDeps | None = None) -> tuple[grpc.aio.Server, int]:
    """A gateway bound to ``gateway.host:gateway.port`` (0 = a free port), not started yet.

    Also starts ``/metrics`` when ``metrics.gateway_port`` is set. Returns the server and its port.
    """
    deps = deps or GatewayDeps.from_settings(settings)
    check_open_mode(settings.gateway, deps.keys.open_mode)
    server = grpc.aio.server(
        interceptors=[ErrorInterceptor(deps.metrics), AuthInterceptor(deps.keys)], options=SERVER_OPTIONS)
    synthesis = SynthesisServicer(
        settings=settings.gateway,
        jobs=JobStore(deps.redis, settings.redis.stream_ttl_seconds),
        enqueue=deps.enqueuer.enqueue,
        metrics=deps.metrics,
        admission=TenantAdmission(settings.gateway.max_active_streams, deps.metrics, deps.keys,
                                  settings.gateway.tenant_max_streams),
        bundle_ids=deps.edge.accepted_bundle_ids if deps.edge is not None else (),
    )
    pb_grpc.add_SynthesisServicer_to_server(synthesis, server)
    books = BooksServicer(settings=settings, store=BookStore(deps.redis, settings.books),
                          send=BatchSender(deps.enqueuer.app), metrics=deps.metrics, admission=synthesis.admission,
                          bundle_ids=synthesis.bundle_ids)
    pb_grpc.add_BooksServicer_to_server(books, server)
    voices = VoicesServicer(settings=settings.gateway, store=VoiceStore(deps.redis, settings.redis.stream_ttl_seconds),
                            enqueue=VoiceSender(deps.enqueuer.app), metrics=deps.metrics, edge=deps.edge)
    voices.imports = books.imports = ImportSlots(settings.gateway.max_concurrent_imports)
    voices.quotas = books.quotas = StoredQuotas(deps.redis, deps.keys, settings.gateway,
                                                synthesis.admission.tenant_metrics)
    synthesis.check_voice = voices.check_usable
    books.check_voice = voices.check_usable  # a book's voice is checked as a stream's
    pb_grpc.add_VoicesServicer_to_server(voices, server)
    pb_grpc.add_ModelsServicer_to_server(ModelsServicer(deps.edge), server)
    health_servicer = health.aio.HealthServicer()  # "" (the whole server) starts SERVING
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = (pb.DESCRIPTOR.services_by_name["Synthesis"].full_name, pb.DESCRIPTOR.services_by_name["Models"].full_name,
             pb.DESCRIPTOR.services_by_name["Books"].full_name, pb.DESCRIPTOR.services_by_name["Voices"].full_name,
             health.SERVICE_NAME, reflection.SERVICE_NAME)
    reflection.enable_server_reflection(names, server)
    address = f"{settings.gateway.host}:{settings.gateway.port}"
    try:
        port = add_port(server, settings.gateway, address)
    except RuntimeError as exc:
        raise Unavailable(f"cannot listen on {address} (port in use, or not an address of this host)") from exc
    if settings.metrics.gateway_port and settings.redis.url:
        deps.metrics.watch_backlog(settings.redis.url)
    deps.metrics.serve(settings.metrics.gateway_port, settings.metrics.host)
    _running[server] = _Running(deps, health_servicer, synthesis, voices)
    return server, port


async def stop_server(server: grpc.aio.Server, grace: float | None = SHUTDOWN_GRACE_SECONDS) -> None:
    """Drain and stop a server from ``build_server``; closes what it was built with."""
    running = _running.pop(server, None)
    if running is None:
        await server.stop(grace)
        return
    await running.health.enter_graceful_shutdown()
    running.synthesis.draining = True  # streams cut by the shutdown are not client cancels
    try:
        await server.stop(grace)
        await running.synthesis.wait_closed()
        await running.voices.wait_closed()  # the abandon writes of registrations cut by the stop
    finally:
        await running.deps.aclose()


def _log_start(settings: Settings, deps: GatewayDeps, port: int) -> None:
    for name, value in describe_settings(settings):
        log.info("setting %s=%s", name, value)
    if deps.keys.open_mode:
        log.warning("OPEN MODE: no API key file (RELAYTTS_GATEWAY_API_KEYS_FILE), every caller is tenant %r "
                    "and no key is checked; never expose this port", OPEN_MODE_TENANT)
    if deps.edge is None:
        log.warning("no bundle (RELAYTTS_GATEWAY_BUNDLE): GetModelInfo/FetchModelFile fail and "
                    "SynthesizeRequest.bundle_id is not checked")
    else:
        log.info("serving bundle %s (edge files: %s)", deps.edge.bundle_id, ", ".join(deps.edge.known_paths()))
    log.info("gateway listening on %s:%d (%s)", settings.gateway.host, port,
             "TLS, client certificates required" if settings.gateway.tls_client_ca_file
             else "TLS" if settings.gateway.tls_cert_file else "plaintext")


async def _serve(settings: Settings) -> None:
    from relaytts.redis_server import check_port_free

    # One clear line for a taken port (grpc's own bind failure also logs a line of its C core).
    check_port_free(settings.gateway.host, settings.gateway.port, "gateway")
    check_port_free(settings.gateway.host, settings.metrics.gateway_port, "gateway metrics")
    deps = GatewayDeps.from_settings(settings)
    try:
        await deps.redis.ping()
    except Exception as exc:
        await deps.aclose()
        raise Unavailable(f"cannot reach Redis at {mask_url(settings.redis.url)} ({type(exc).__name__}: "
                          f"{redact(str(exc))})") from None
    try:
        server, port = build_server(settings, deps)
    except BaseException:
        await deps.aclose()
        raise
    await server.start()
    _log_start(settings, deps, port)
    # Every gateway reaps: jobs whose worker was lost are requeued within seconds (safe with several).
    reaper = asyncio.ensure_future(
        Reaper(deps.redis, deps.enqueuer.enqueue, settings.worker.lease_seconds,
               on_reap=deps.metrics.jobs_requeued.inc).run())
    loop = asyncio.get_running_loop()
    signals = asyncio.Queue()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, signals.put_nowait, sig)
    if isinstance(deps.keys, KeyRing):
        loop.add_signal_handler(signal.SIGHUP, deps.keys.reload)  # edits are also seen on the next call
    first = await signals.get()
    log.info("%s: draining (up to %g s; signal again to stop now)", signal.Signals(first).name,
             SHUTDOWN_GRACE_SECONDS)
    reaper.cancel()
    stopping = asyncio.ensure_future(stop_server(server, SHUTDOWN_GRACE_SECONDS))
    second = asyncio.ensure_future(signals.get())
    await asyncio.wait({stopping, second}, return_when=asyncio.FIRST_COMPLETED)
    if not stopping.done():
        log.info("second signal: stopping now")
        await server.stop(0)
    second.cancel()
    await stopping
    log.info("gateway stopped")


def serve(settings: Settings) -> None:
    """Run the gateway until SIGINT/SIGTERM, then drain and stop."""
    asyncio.run(_serve(settings))
