"""The one settings object: defaults, then ``RELAYTTS_*`` environment variables, then CLI flags.

Read once at start-up (``load_settings``) and passed down; nothing reads the environment at import.
Every field's env var is ``RELAYTTS_<SECTION>_<FIELD>`` (e.g. ``RELAYTTS_REDIS_URL``); an unknown
``RELAYTTS_*`` variable is an error that names the closest known one, so a typo never goes unnoticed.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Final

from relaytts.errors import InvalidArgument
from relaytts.redact import mask_url

__all__ = [
    "BooksSettings",
    "EdgeSettings",
    "GatewaySettings",
    "MetricsSettings",
    "RedisSettings",
    "Settings",
    "WorkerSettings",
    "describe_settings",
    "load_settings",
    "settings_to_env",
]

ENV_PREFIX: Final = "RELAYTTS_"
#: Variables that are not settings but are still ours to read (none yet); kept so the check can grow.
RESERVED_ENV: Final[frozenset[str]] = frozenset()


@dataclass(frozen=True)
class RedisSettings:
    url: str = ""
    """Redis URL (``redis://host:port/db``). Empty: ``relaytts up`` starts its own redis-server."""
    stream_ttl_seconds: int = 3600
    """How long a job's chunk stream and job hash live after their last write (resume window)."""
    stream_maxlen: int = 10000
    """Approximate cap on entries per job stream (``XADD MAXLEN ~``); 25 tokens per entry is 1 s."""


@dataclass(frozen=True)
class GatewaySettings:
    host: str = "127.0.0.1"
    """Interface the gRPC gateway listens on."""
    port: int = 50051
    """gRPC port; 0 picks a free one."""
    api_keys_file: str = ""
    """JSON file mapping API keys to tenants (``{"key": "tenant"}``). Empty: open mode, one tenant."""
    max_text_chars: int = 5000
    """Longest accepted ``text`` (characters)."""
    max_active_streams: int = 64
    """Concurrent Synthesize/Resume streams; beyond this, RESOURCE_EXHAUSTED at once."""
    queue_timeout_seconds: float = 120.0
    """How long a stream waits for a queued job's first chunk before failing with UNAVAILABLE."""
    resume_grace_seconds: float = 5.0
    """A job whose last stream was cut (client gone, RPC cancelled) keeps running this long for a
    ``Resume``; then it is cancelled. 0 = cancel at once. The ``Cancel`` RPC is always immediate."""
    bundle: str = ""
    """Bundle directory whose edge files the gateway serves (GetModelInfo, FetchModelFile)."""
    max_voice_upload_bytes: int = 16777216
    """Largest reference clip ``RegisterVoice``/``UpdateVoice`` accept (bytes of the uploaded file)."""
    tls_cert_file: str = ""
    """PEM certificate chain the gateway serves TLS with (with ``tls_key_file``). Empty: plaintext h2c."""
    tls_key_file: str = ""
    """PEM private key of ``tls_cert_file``."""
    tls_client_ca_file: str = ""
    """PEM CA bundle; when set, every client must present a certificate it signed (mutual TLS)."""
    allow_open_mode: bool = False
    """Serve without an API key file on a non-loopback interface (every caller is one tenant). Off: refused."""
    tenant_max_streams: int = 16
    """Streams (Synthesize, Resume, WatchJob, StreamSegment) one tenant may hold at once, within
    ``max_active_streams``; 0 = no per-tenant cap. A key file entry may override it (``max_streams``)."""
    tenant_max_voices: int = 1000
    """Registered voices one tenant may hold; 0 = no cap. A key file entry may override it (``max_voices``)."""
    tenant_max_books: int = 100
    """Book jobs one tenant may hold (until they expire); 0 = no cap. Key file override: ``max_books``."""
    max_concurrent_imports: int = 2
    """``ImportVoices`` and ``SubmitBook`` calls handled at once (each holds its upload in memory)."""
    max_voice_archive_bytes: int = 67108864
    """Largest voice archive ``ImportVoices`` accepts (bytes), checked before any member is read."""


@dataclass(frozen=True)
class WorkerSettings:
    bundle: str = ""
    """Bundle directory the worker loads (the cloud graphs)."""
    precision: str = "fp32"
    """T2S graph variant: fp32, fp16 or int8."""
    device: str = "auto"
    """auto (CUDA when onnxruntime-gpu sees a GPU), cpu or cuda."""
    threads: int = 0
    """ONNX Runtime threads per graph (0 = one per core)."""
    concurrency: int = 1
    """Celery worker processes when ``max_batch`` is 1 (each loads the models once, after the fork); with
    batching a worker runs one decode loop and this is ignored."""
    max_batch: int = 1
    """Requests decoded together in one T2S step (continuous batching: a decode process per worker, fed by
    that many Celery threads); 1 = one decode at a time per process (prefork). 1 by default until the
    batched path beats it on CPU through the real system (docs/benchmarks.md: not yet)."""
    kv_positions: int = 2560
    """Positions of one KV slot in the decode loop: a segment's prefix (prompt phones, text, prompt tokens)
    plus every token it may generate; a segment that may need more fails with a clear error."""
    kv_dtype: str = "fp32"
    """Precision the decode loop keeps its KV slots in: fp32, or fp16 (half the memory)."""
    kv_memory_mb: int = 0
    """Memory cap of the KV slot pool in MiB (0 = none): the loop holds min(max_batch, cap / slot size)
    slots, and takes no more jobs than it has slots (the rest wait in the queue)."""
    queues: str = "t2s.interactive,voices"
    """Comma-separated Celery queues to consume (``voices``: registering voices from reference clips)."""
    first_chunk_tokens: int = 8
    """Tokens in a job's first chunk (small, for time to first audio; at least 7, or the edge vocoder's
    3-token holdback and 4-token minimum window keep it silent until the second chunk)."""
    chunk_tokens: int = 25
    """Tokens in every later chunk."""
    lease_seconds: float = 4.0
    """A running job's lease: its worker process renews it several times per period; a job whose lease
    lapses (worker killed, host lost) is requeued by a gateway's reaper under a new epoch and continues
    from its resume point."""


@dataclass(frozen=True)
class MetricsSettings:
    gateway_port: int = 9464
    """Prometheus /metrics port of the gateway (0 = off)."""
    worker_port: int = 9465
    """Prometheus /metrics port of the worker (0 = off)."""
    multiproc_dir: str = ""
    """Directory for prometheus-client's multiprocess mode (Celery children); empty = a temp dir."""
    host: str = "127.0.0.1"
    """Interface the gateway's and workers' /metrics endpoints bind (``0.0.0.0`` in containers)."""


@dataclass(frozen=True)
class EdgeSettings:
    gateway: str = "127.0.0.1:50051"
    """Gateway address the client dials."""
    api_key: str = ""
    """Sent as ``authorization: Bearer <key>``."""
    cache_dir: str = ""
    """Where fetched vocoder files are cached; empty = ~/.cache/relaytts."""
    timeout_seconds: float = 30.0
    """Default deadline of unary calls and of waiting for each streamed chunk."""
    resume_budget_seconds: float = 60.0
    """How long a client keeps resuming a dropped stream (exponential backoff with jitter, at most 5 s
    apart) without a new chunk before it gives up: rides out gateway, worker and Redis restarts."""
    tls: bool = False
    """Dial the gateway over TLS (implied by ``ca_file``); the system's CA roots unless ``ca_file``."""
    ca_file: str = ""
    """PEM CA bundle that signed the gateway's certificate (a private or development CA)."""
    server_name: str = ""
    """Name the gateway's certificate must carry when it differs from the host dialled."""
    client_cert_file: str = ""
    """PEM client certificate for a gateway that requires mutual TLS (with ``client_key_file``)."""
    client_key_file: str = ""
    """PEM private key of ``client_cert_file``."""
    allow_plaintext_key: bool = False
    """Send the API key without TLS to a non-loopback gateway (a trusted private network only). Off: refused."""
    precision: str = "fp32"
    """Vocoder variant run on the edge: fp32, fp16 (GPUs) or int8 (CPUs; see docs/benchmarks.md)."""


@dataclass(frozen=True)
class BooksSettings:
    ttl_seconds: int = 604800
    """How long a book job (its state, segment streams and progress events) lives after its last change."""
    max_file_bytes: int = 33554432
    """Largest book file ``SubmitBook`` accepts (bytes; EPUB images count)."""
    max_text_chars: int = 5000000
    """Most characters of text a book may hold once extracted from its file."""
    max_expanded_bytes: int = 134217728
    """Most bytes an EPUB may expand to (all its files, as its ZIP directory declares them), checked before
    anything is expanded; a zip bomb is refused with INVALID_ARGUMENT naming this limit."""
    batch_concurrency: int = 1
    """Processes of the separate ``t2s.batch`` worker that ``relaytts up`` starts (0 = none: books wait)."""
    batch_nice: int = 10
    """Niceness (0-19) of that batch worker: live synthesis wins the CPU whenever both want it."""
    batch_threads: int = 0
    """ONNX Runtime threads per graph in that batch worker (0 = the same as ``RELAYTTS_WORKER_THREADS``)."""


@dataclass(frozen=True)
class Settings:
    redis: RedisSettings = field(default_factory=RedisSettings)
    gateway: GatewaySettings = field(default_factory=GatewaySettings)
    worker: WorkerSettings = field(default_factory=WorkerSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    edge: EdgeSettings = field(default_factory=EdgeSettings)
    books: BooksSettings = field(default_factory=BooksSettings)

    def with_overrides(self, overrides: Mapping[str, Any]) -> Settings:
        """Apply ``{"section.field": value}`` (CLI flags); None values are ignored."""
        sections = {f.name: getattr(self, f.name) for f in fields(self)}
        for dotted, value in overrides.items():
            if value is None:
                continue
            section, name = dotted.split(".", 1)
            sections[section] = replace(sections[section], **{name: value})
        return Settings(**sections)


def _env_names() -> dict[str, tuple[str, dataclasses.Field]]:
    names = {}
    for section in fields(Settings):
        for item in fields(section.default_factory()):  # type: ignore[misc]
            names[f"{ENV_PREFIX}{section.name}_{item.name}".upper()] = (section.name, item)
    return names


def _convert(raw: str, kind: type, name: str) -> Any:  # noqa: ANN401
    try:
        if kind is bool:
            if raw.lower() not in ("1", "0", "true", "false", "yes", "no"):
                raise ValueError(raw)
            return raw.lower() in ("1", "true", "yes")
        return kind(raw)
    except ValueError:
        raise InvalidArgument(f"`{name}` must be {kind.__name__}; given {raw!r}") from None


def load_settings(environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None) -> Settings:
    """Defaults <- ``RELAYTTS_*`` variables <- ``overrides`` ("section.field" -> value)."""
    environ = os.environ if environ is None else environ
    known = _env_names()
    values: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name in RESERVED_ENV:
            continue
        if name not in known:
            close = difflib.get_close_matches(name, list(known), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise InvalidArgument(f"unknown setting {name}{hint}")
        section, item = known[name]
        kind = {"int": int, "float": float, "str": str, "bool": bool}[str(item.type)]
        values[f"{section}.{item.name}"] = _convert(raw, kind, name)
    return Settings().with_overrides(values).with_overrides(overrides or {})


def settings_to_env(settings: Settings) -> dict[str, str]:
    """Every setting as its ``RELAYTTS_*`` variable: what a child process needs to load the same Settings."""
    env = {}
    for section in fields(Settings):
        values = getattr(settings, section.name)
        for item in fields(values):
            value = getattr(values, item.name)
            env[f"{ENV_PREFIX}{section.name}_{item.name}".upper()] = str(int(value) if isinstance(value, bool)
                                                                          else value)
    return env


def describe_settings(settings: Settings) -> list[tuple[str, str]]:
    """Non-default settings as (env var, value) with secrets masked, for the start-up log."""
    out = []
    defaults = Settings()
    for section in fields(Settings):
        ours, base = getattr(settings, section.name), getattr(defaults, section.name)
        for item in fields(ours):
            value = getattr(ours, item.name)
            if value != getattr(base, item.name):
                secret = item.name == "api_key"  # file paths (``*_key_file``) are not secrets
                shown = "***" if secret and value else mask_url(str(value))
                out.append((f"{ENV_PREFIX}{section.name}_{item.name}".upper(), shown))
    return out


def settings_table_markdown() -> str:
    """The README's settings table, generated from this module's field docstrings."""
    import ast
    import inspect
    import sys

    tree = ast.parse(inspect.getsource(sys.modules[__name__]))
    docs: dict[tuple[str, str], str] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            body = node.body
            for i, stmt in enumerate(body):
                if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and i + 1 < len(body):
                    nxt = body[i + 1]
                    if isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant):
                        docs[(node.name, stmt.target.id)] = " ".join(str(nxt.value.value).split())
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for section in fields(Settings):
        instance = section.default_factory()  # type: ignore[misc]
        for item in fields(instance):
            default = getattr(instance, item.name)
            shown = f"`{default}`" if default != "" else "(empty)"
            doc = docs.get((type(instance).__name__, item.name), "").replace("|", "\\|").replace("``", "`")
            variable = f"{ENV_PREFIX}{section.name}_{item.name}".upper()
            rows.append(f"| `{variable}` | {shown} | {doc} |")
    return "\n".join(rows) + "\n"
