"""The synchronous edge client: one long-lived gRPC channel to the gateway, the vocoder run locally.

    with Client("gateway.example:50051", api_key="...") as client:
        for chunk in client.synthesize("Hello there.", language="en"):
            sink.write(chunk)          # AudioChunk: float32 samples, .pcm16 for raw bytes

Why one client: the channel (TCP + HTTP/2 connection), the fetched vocoder and the style-vector cache
are built once and reused by every call; a client per sentence would reconnect and re-verify the
vocoder each time. A client is safe to share between threads.

Defaults protect the caller. Unary calls get a ``timeout`` deadline. Streams get no overall deadline
(a long text takes long) but the same ``timeout`` bounds the wait for *each* chunk: a stream that
goes quiet that long is treated as a dropped connection. A dropped connection (UNAVAILABLE, a reset
stream, a stall, a stream that ends before its final chunk) is resumed transparently with
``Resume(job_id, last_seq)``, waiting ``retry_backoff * 2**n`` seconds (jittered, at most 5 s) between
attempts, for up to ``resume_budget`` seconds without a new chunk (default 60 s: long enough to ride out
a gateway restart, a lost worker or a Redis restart), and at least ``MIN_RESUME_ATTEMPTS`` (5) times
whatever they take (each may wait ``timeout`` for a chunk); ``max_retries`` can cap the attempts.
The job id comes from the ``relaytts-job-id`` initial metadata of ``Synthesize`` (sent by the gateway
before the first chunk) or from the first chunk. Every ``Synthesize`` carries an idempotency key
(``request_id``, a fresh one per utterance), so a stream cut before the job id arrived is retried with
the same key: the gateway re-attaches to the job that key started instead of starting a second one.

Abandoning the iterator (``break``, an exception, Ctrl-C) cancels the stream and the job.

``AsyncClient`` (``edge_client.aio``) is the asyncio twin; the logic both share lives in
``_ClientBase`` and ``_Run`` here, ``edge_client.stitch`` (chunk assembly) and
``edge_client.model_cache`` (vocoder download and cache).
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

import grpc

from bundle import Precision
from edge_client.model_cache import ModelCache, ModelInfo
from edge_client.stitch import DEFAULT_STYLE_CACHE_ENTRIES, ChunkAssembler, PlaybackStats, StyleCache
from edge_client.tls import TransportSecurity
from edge_client.vocoder import AudioChunk, Vocoder
from edge_client.voices import VoicesMixin
from protos import relaytts_v1_pb2 as pb
from protos import relaytts_v1_pb2_grpc as pb_grpc
from relaytts.errors import (
    BundleError,
    BundleMismatch,
    DeadlineExceeded,
    InvalidArgument,
    JobCancelled,
    NotFound,
    Overloaded,
    PermissionDenied,
    RelayError,
    Unauthenticated,
    Unavailable,
    VoiceNotFound,
)
from relaytts.jobs import JOB_ID_METADATA
from relaytts.sampling import MAX_SPEED, MIN_SPEED, SamplingParams
from relaytts.settings import EdgeSettings
from relaytts.voices import MAX_CACHED_VOICE_HASHES

__all__ = [
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_RETRY_BACKOFF_SECONDS",
    "DEFAULT_TIMEOUT_SECONDS",
    "JOB_ID_METADATA",
    "Client",
    "DeadlineExceeded",
    "Unauthenticated",
    "Unavailable",
    "map_rpc_error",
]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS: float = EdgeSettings.timeout_seconds
"""Deadline of unary calls and of the wait for each streamed message (``RELAYTTS_EDGE_TIMEOUT_SECONDS``)."""
DEFAULT_MAX_RETRIES: int | None = None
"""Cap on resume attempts in a row (without a new chunk in between); None: only the budget counts."""
DEFAULT_RESUME_BUDGET_SECONDS: float = EdgeSettings.resume_budget_seconds
"""How long a dropped stream is retried without a new chunk before it is given up
(``RELAYTTS_EDGE_RESUME_BUDGET_SECONDS``)."""
DEFAULT_RETRY_BACKOFF_SECONDS = 0.25
"""Wait before the first resume; doubled for each further attempt."""
MIN_RESUME_ATTEMPTS = 5
"""Resume attempts in a row made before giving up, even when they take longer than the budget."""
MAX_BACKOFF_SECONDS = 5.0
"""Cap on the wait between two resume attempts."""
MAX_RECEIVE_MESSAGE_BYTES = 16 * 1024 * 1024
"""Accept model-file pieces up to 16 MiB (gRPC's default cap is 4 MiB)."""


_BY_CODE: dict[grpc.StatusCode, type[RelayError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.OUT_OF_RANGE: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.RESOURCE_EXHAUSTED: Overloaded,
    grpc.StatusCode.FAILED_PRECONDITION: BundleError,
    grpc.StatusCode.CANCELLED: JobCancelled,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
}


def map_rpc_error(exc: grpc.RpcError, method: str = "", gateway: str = "") -> RelayError:
    """The ``RelayError`` for a failed call (``grpc.aio.AioRpcError`` included), with the gateway's message.

    On ``Synthesize`` a NOT_FOUND can only mean the voice and a FAILED_PRECONDITION the bundle, so those
    become ``VoiceNotFound`` and ``BundleMismatch``. An INTERNAL reset stream counts as UNAVAILABLE.
    """
    code = exc.code() if callable(getattr(exc, "code", None)) else grpc.StatusCode.UNKNOWN
    details = (exc.details() if callable(getattr(exc, "details", None)) else None) or (code.name if code else "")
    kind = _BY_CODE.get(code, RelayError)
    if code is grpc.StatusCode.INTERNAL and "RST_STREAM" in details:
        kind = Unavailable
    if method == "Synthesize" and kind is NotFound:
        kind = VoiceNotFound
    if method == "Synthesize" and kind is BundleError:
        kind = BundleMismatch
    if issubclass(kind, Unavailable):
        return kind(f"gateway {gateway or '?'} {'did not answer' if kind is DeadlineExceeded else 'unavailable'}"
                    f"{f' ({method})' if method else ''}: {details}")
    return kind(details)


def checked_noise_scale(value: float) -> float:
    """``noise_scale`` as sent: a finite number >= 0, else ``InvalidArgument`` before any call is made."""
    if not (value >= 0 and math.isfinite(value)):
        raise InvalidArgument(f"`noise_scale` must be a number >= 0; given {value!r}")
    return value


def checked_speed(value: float) -> float:
    """``speed`` (speaking rate, rendered on the edge): within the vocoder's range, else ``InvalidArgument``."""
    if not (MIN_SPEED <= value <= MAX_SPEED):
        raise InvalidArgument(f"`speed` must be in [{MIN_SPEED:g}, {MAX_SPEED:g}]; given {value!r}")
    return float(value)


def sampling_to_pb(sampling: SamplingParams | None, seed: int | None) -> pb.SamplingParams | None:
    """The wire form: only what differs from the defaults is set (unset = the server's default)."""
    if sampling is None and seed is None:
        return None
    sampling = (sampling or SamplingParams()).validate()
    if sampling.early_stop is not None:
        raise InvalidArgument("`early_stop` is not sent to the gateway; use `max_new_tokens`")
    defaults = SamplingParams()
    msg = pb.SamplingParams()
    for name in ("top_k", "top_p", "temperature", "repetition_penalty", "max_new_tokens"):
        value = getattr(sampling, name)
        if value != getattr(defaults, name):
            setattr(msg, name, value)
    seed = sampling.seed if seed is None else seed
    if seed is not None:
        SamplingParams(seed=seed).validate()
        msg.seed = seed
    return msg


def playback_report(job_id: str, time_to_first_audio: float, real_time_factor: float, underruns: int,
                    audio_seconds: float) -> pb.PlaybackReport:
    """The ``ReportPlayback`` message (figures defined in ``edge_client.stitch.PlaybackStats``)."""
    if not job_id:
        raise InvalidArgument("`job_id` must not be empty")
    return pb.PlaybackReport(job_id=job_id, time_to_first_audio_seconds=time_to_first_audio,
                             real_time_factor=real_time_factor, underruns=underruns, audio_seconds=audio_seconds)


def backoff_seconds(attempt: int, base: float) -> float:
    """Jittered exponential backoff before resume attempt ``attempt`` (1, 2, ...)."""
    return min(MAX_BACKOFF_SECONDS, base * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)


class _Run:
    """One synthesis job as seen by a client, without I/O: which call to make next, what to do with each
    chunk, whether a drop is resumed (and after how long) or raised, and how the job ended."""

    def __init__(self, request: pb.SynthesizeRequest, assembler: ChunkAssembler, stats: PlaybackStats,
                 max_retries: int | None, retry_backoff: float, gateway: str,
                 resume_budget: float = DEFAULT_RESUME_BUDGET_SECONDS) -> None:
        self.request = request
        self.assembler = assembler
        self.stats = stats
        self.max_retries = max_retries
        self.retry_backoff = retry_backoff
        self.resume_budget = resume_budget
        self.gateway = gateway
        self.failures = 0
        self.resumes = 0
        self.progress_at = time.monotonic()
        """When the last new chunk arrived (or the run started): the budget counts from here."""

    @property
    def job_id(self) -> str:
        return self.assembler.job_id

    @property
    def done(self) -> bool:
        return self.assembler.done

    def adopt_job_id(self, metadata: Any) -> None:  # noqa: ANN401 - grpc metadata (pairs) or None
        """Take the job id from ``Synthesize``'s initial metadata, so a drop before the first chunk resumes."""
        if self.job_id or not metadata:
            return
        for key, value in metadata:
            if key == JOB_ID_METADATA and value:
                self.assembler.job_id = value if isinstance(value, str) else value.decode()

    def next_call(self) -> tuple[str, Any]:
        """``("Synthesize", request)`` first, ``("Resume", request)`` once the job id is known."""
        if not self.job_id:
            return "Synthesize", self.request
        return "Resume", pb.ResumeRequest(job_id=self.job_id, after_seq=self.assembler.last_seq)

    def on_chunk(self, chunk: pb.LatentChunk) -> list[AudioChunk]:
        before = self.assembler.last_seq
        pieces = self.assembler.feed(chunk)
        if self.assembler.last_seq > before:
            self.failures = 0
            self.progress_at = time.monotonic()
        return pieces

    def on_drop(self, error: RelayError | None) -> float:
        """The stream ended before the final chunk (``error`` None: it ended cleanly). Returns the wait
        before resuming, or raises when the job cannot be resumed."""
        if error is not None and not isinstance(error, Unavailable):
            raise error
        if not self.job_id and not self.request.request_id:  # without a key, a retry could start a second job
            raise error or Unavailable(f"gateway {self.gateway} ended the stream before the first chunk")
        what = f"job {self.job_id}" if self.job_id else f"request {self.request.request_id}"
        self.failures += 1
        waited = time.monotonic() - self.progress_at
        wait = backoff_seconds(self.failures, self.retry_backoff)
        # Give up once the budget is spent, but never before MIN_RESUME_ATTEMPTS (an attempt can itself wait
        # up to `timeout` for a chunk, so on a slow system a few attempts may take the whole budget).
        spent = waited + wait > self.resume_budget and self.failures > MIN_RESUME_ATTEMPTS
        if spent or (self.max_retries is not None and self.failures > self.max_retries):
            reason = str(error) if error else "the stream ended before the final chunk"
            raise Unavailable(f"{what}: {reason}; gave up after {self.failures - 1} resume attempts over "
                              f"{waited:.0f} s (`resume_budget` {self.resume_budget:g} s)")
        self.resumes += 1
        log.warning("%s: stream dropped after seq %d (%s); resuming in %.1f s (attempt %d, %.0f s of the %g s "
                    "budget used)", what, self.assembler.last_seq, error or "ended early", wait, self.failures,
                    waited, self.resume_budget)
        return wait

    def outcome(self, cancelled_here: set[str]) -> None:
        """Raise for a failed job, or one cancelled by someone other than this client."""
        status = self.assembler.status
        if status == pb.JOB_STATUS_FAILED:
            raise RelayError(f"job {self.job_id} failed: {self.assembler.error or 'no reason given'}")
        if status == pb.JOB_STATUS_CANCELLED and self.job_id not in cancelled_here:
            hint = (" (a gateway cancels a job whose stream stays cut longer than its resume grace period)"
                    if self.resumes else "")
            raise JobCancelled(f"job {self.job_id} was cancelled before it finished{hint}")

    def playback_report(self) -> pb.PlaybackReport:
        s = self.stats
        return playback_report(self.job_id, s.time_to_first_audio, s.real_time_factor, s.underruns, s.audio_seconds)


class _ClientBase:
    """Configuration and request building shared by ``Client`` and ``AsyncClient``."""

    def __init__(self, gateway: str, api_key: str | None = None, cache_dir: str | Path | None = None,
                 timeout: float = DEFAULT_TIMEOUT_SECONDS, *, credentials: grpc.ChannelCredentials | None = None,
                 max_retries: int | None = DEFAULT_MAX_RETRIES, retry_backoff: float = DEFAULT_RETRY_BACKOFF_SECONDS,
                 resume_budget: float = DEFAULT_RESUME_BUDGET_SECONDS,
                 style_cache_entries: int = DEFAULT_STYLE_CACHE_ENTRIES,
                 security: TransportSecurity | None = None, vocoder_precision: str = "fp32") -> None:
        if not gateway:
            raise InvalidArgument("`gateway` must be host:port; given an empty string")
        if not (timeout > 0 and math.isfinite(timeout)):
            raise InvalidArgument(f"`timeout` must be a positive number of seconds; given {timeout!r}")
        if max_retries is not None and max_retries < 0:
            raise InvalidArgument(f"`max_retries` must be at least 0 (or None); given {max_retries}")
        if not (resume_budget >= 0 and math.isfinite(resume_budget)):
            raise InvalidArgument(f"`resume_budget` must be a number of seconds >= 0; given {resume_budget!r}")
        if not 0 <= style_cache_entries <= MAX_CACHED_VOICE_HASHES:  # all of them are announced per request
            raise InvalidArgument(f"`style_cache_entries` must be in [0, {MAX_CACHED_VOICE_HASHES}]; given "
                                  f"{style_cache_entries}")
        if vocoder_precision not in {p.value for p in Precision}:
            raise InvalidArgument(f"`vocoder_precision` must be one of fp32, fp16, int8; given {vocoder_precision!r}")
        self.vocoder_precision = Precision(vocoder_precision)
        """Which vocoder variant of the served bundle runs here (int8: CPUs; fp16: GPUs)."""
        self.gateway = gateway
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.retry_backoff = retry_backoff
        self.resume_budget = float(resume_budget)
        self.cache = ModelCache(cache_dir)
        self.styles = StyleCache(style_cache_entries)
        self.last_job_id: str | None = None
        """The id of the most recent job this client started (known from its initial metadata or first chunk)."""
        self.last_playback: PlaybackStats | None = None
        """What the most recent finished ``synthesize`` reported."""
        self.security = security or TransportSecurity()
        self._credentials = credentials if credentials is not None else self.security.credentials()
        self.security.check_key_transport(gateway, bool(api_key), self._credentials is not None)
        self._metadata: tuple[tuple[str, str], ...] = (("authorization", f"Bearer {api_key}"),) if api_key else ()
        self._loaded: tuple[ModelInfo, Vocoder] | None = None
        self._cancelled: set[str] = set()

    @property
    def retry_limit(self) -> int:
        """Attempts in a row for the streams that count attempts (book watches and segments): ``max_retries``,
        else about as many as the resume budget holds at the longest backoff, plus the short first ones."""
        if self.max_retries is not None:
            return self.max_retries
        return max(1, math.ceil(self.resume_budget / MAX_BACKOFF_SECONDS) + 4)

    @classmethod
    def from_settings(cls, settings: EdgeSettings, **kwargs: Any) -> Self:
        """A client configured by ``RELAYTTS_EDGE_*`` settings (``relaytts.settings.load_settings().edge``)."""
        kwargs.setdefault("security", TransportSecurity(
            tls=settings.tls, ca_file=settings.ca_file, server_name=settings.server_name,
            client_cert_file=settings.client_cert_file, client_key_file=settings.client_key_file,
            allow_plaintext_key=settings.allow_plaintext_key))
        kwargs.setdefault("resume_budget", settings.resume_budget_seconds)
        kwargs.setdefault("vocoder_precision", settings.precision)
        return cls(settings.gateway, api_key=settings.api_key or None, cache_dir=settings.cache_dir or None,
                   timeout=settings.timeout_seconds, **kwargs)

    def _channel_options(self) -> list[tuple[str, Any]]:
        return [("grpc.max_receive_message_length", MAX_RECEIVE_MESSAGE_BYTES), *self.security.channel_options()]

    def _request(self, text: str, voice: str, language: str, sampling: SamplingParams | None, seed: int | None,
                 noise_scale: float | None) -> pb.SynthesizeRequest:
        """Validate what can be checked here and build the request (bundle id and hashes come later)."""
        if not text or not text.strip():
            raise InvalidArgument("`text` must not be empty")
        # A fresh idempotency key per utterance: a retry after a cut before the job id arrived re-attaches.
        request = pb.SynthesizeRequest(text=text, language=language, voice=voice, request_id=uuid.uuid4().hex)
        params = sampling_to_pb(sampling, seed)
        if params is not None:
            request.sampling.CopyFrom(params)
        if noise_scale is not None:
            request.noise_scale = checked_noise_scale(noise_scale)
        return request

    def _start(self, request: pb.SynthesizeRequest, info: ModelInfo, vocoder: Vocoder, live: bool,
               speed: float = 1.0) -> _Run:
        assembler = ChunkAssembler(vocoder, self.styles, speed=speed)
        request.bundle_id = info.bundle_id
        del request.cached_voice_hashes[:]
        request.cached_voice_hashes.extend(assembler.announced_voice_hashes)
        stats = PlaybackStats(live=live, started_at=time.monotonic())
        return _Run(request, assembler, stats, self.max_retries, self.retry_backoff, self.gateway,
                    self.resume_budget)

    def _error(self, exc: grpc.RpcError, method: str) -> RelayError:
        error = map_rpc_error(exc, method, self.gateway)
        if self._credentials is None and type(error) is Unavailable:  # a TLS gateway just closes a plaintext peer
            error = Unavailable(f"{error.message} (if the gateway serves TLS, pass --tls / RELAYTTS_EDGE_TLS=1)")
        if isinstance(error, BundleMismatch):
            self._loaded = None  # the gateway serves another bundle now: the next call fetches its vocoder
        return error

    def _finished(self, run: _Run) -> None:
        self.last_playback = run.stats
        run.outcome(self._cancelled)


class _Watchdog:
    """Cancels a sync streaming call when its next message does not arrive in time (one thread per stream)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._call: grpc.Future | None = None
        self._deadline: float | None = None
        self._closed = False
        self.fired = False
        self._thread = threading.Thread(target=self._loop, name="relaytts-edge-watchdog", daemon=True)
        self._thread.start()

    def arm(self, call: grpc.Future, seconds: float) -> None:
        with self._cond:
            self._call, self._deadline, self.fired = call, time.monotonic() + seconds, False
            self._cond.notify()

    def disarm(self) -> None:
        with self._cond:
            self._deadline = None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (self._deadline is None or self._deadline > time.monotonic()):
                    self._cond.wait(None if self._deadline is None else self._deadline - time.monotonic())
                if self._closed:
                    return
                call, self._deadline, self.fired = self._call, None, True
            if call is not None:
                call.cancel()


def _read(call: Any, seconds: float, watchdog: _Watchdog, what: str) -> Iterator[Any]:  # noqa: ANN401
    """Messages of a sync stream; raises ``DeadlineExceeded`` when one takes longer than ``seconds``."""
    while True:
        watchdog.arm(call, seconds)
        try:
            message = next(call)
        except StopIteration:
            return
        except grpc.RpcError:
            if watchdog.fired:
                raise DeadlineExceeded(f"no {what} from the gateway within {seconds:g} s") from None
            raise
        finally:
            watchdog.disarm()
        yield message


def _initial_metadata(call: Any) -> Any:  # noqa: ANN401
    try:
        return call.initial_metadata()
    except Exception:  # a call that never got an answer has none
        return None


class Client(VoicesMixin, _ClientBase):
    """Synchronous client of a relaytts gateway (see the module docstring for defaults and resume).

    - ``gateway``: ``host:port``; ``api_key``: sent as ``authorization: Bearer <key>``;
    - ``cache_dir``: where fetched vocoders are kept (default ``~/.cache/relaytts``);
    - ``timeout``: seconds, the deadline of unary calls and of each wait for a streamed message;
    - ``security``: ``edge_client.tls.TransportSecurity`` (TLS, CA file, server name, client certificate);
      without TLS an ``api_key`` is only sent to a loopback gateway unless ``allow_plaintext_key``;
    - ``credentials``: ready-made ``grpc.ssl_channel_credentials(...)`` instead (default: from ``security``);
    - ``resume_budget``: seconds a dropped stream is retried without a new chunk (default 60);
    - ``retry_backoff`` / ``max_retries``: the first wait between attempts (doubled, at most 5 s) and an
      optional cap on attempts in a row;
    - ``style_cache_entries``: style vectors kept by voice hash (announced so the gateway skips them).

    ``Client.from_settings(load_settings().edge)`` builds one from ``RELAYTTS_EDGE_*``.
    """

    def __init__(self, gateway: str, api_key: str | None = None, cache_dir: str | Path | None = None,
                 timeout: float = DEFAULT_TIMEOUT_SECONDS, **kwargs: Any) -> None:
        super().__init__(gateway, api_key, cache_dir, timeout, **kwargs)
        options = self._channel_options()
        self._channel = (grpc.secure_channel(gateway, self._credentials, options) if self._credentials
                         else grpc.insecure_channel(gateway, options))
        self._synthesis = pb_grpc.SynthesisStub(self._channel)
        self._models = pb_grpc.ModelsStub(self._channel)
        self._voices = pb_grpc.VoicesStub(self._channel)
        self._lock = threading.Lock()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the channel; streams still open are cancelled."""
        self._channel.close()

    def _unary(self, method: str, stub_method: Any, request: Any) -> Any:  # noqa: ANN401
        try:
            return stub_method(request, timeout=self.timeout, metadata=self._metadata)
        except grpc.RpcError as exc:
            raise self._error(exc, method) from None

    def model_info(self) -> ModelInfo:
        """The bundle the gateway serves and its edge files."""
        return ModelInfo.from_pb(self._unary("GetModelInfo", self._models.GetModelInfo, pb.GetModelInfoRequest()))

    def ensure_vocoder(self) -> Vocoder:
        """The vocoder matching the served bundle: from the cache when intact, else fetched and verified."""
        return self._ensure()[1]

    def _ensure(self) -> tuple[ModelInfo, Vocoder]:
        info = self.model_info()
        with self._lock:
            if self._loaded is not None and self._loaded[0] == info:
                return self._loaded
            bundle = self.cache.lookup(info) or self._download(info)
            self._loaded = (info, Vocoder.load(bundle, self.vocoder_precision))
            return self._loaded

    def _download(self, info: ModelInfo):  # noqa: ANN202 - bundle.Bundle
        watchdog = _Watchdog()
        try:
            with self.cache.begin(info) as download:
                for entry in download.files:
                    writer = download.open(entry)
                    try:
                        call = self._models.FetchModelFile(pb.FetchModelFileRequest(path=entry.path),
                                                           metadata=self._metadata)
                        for piece in _read(call, self.timeout, watchdog, f"piece of {entry.path}"):
                            writer.write(piece)
                    except grpc.RpcError as exc:
                        writer.abort()
                        raise self._error(exc, "FetchModelFile") from None
                    except BaseException:
                        writer.abort()
                        raise
                    writer.finish()
                return download.commit()
        finally:
            watchdog.close()

    def synthesize(self, text: str, voice: str = "", language: str = "auto", sampling: SamplingParams | None = None,
                   seed: int | None = None, noise_scale: float | None = None, *,
                   live: bool = False, speed: float = 1.0) -> Iterator[AudioChunk]:
        """Speak ``text``: AudioChunks as soon as each can be played, 0.3 s of silence between segments.

        Arguments are checked now; the call starts when iteration does. ``seed`` overrides
        ``sampling.seed``; ``noise_scale`` None is the server's default (0.5). ``live=True`` says the
        consumer plays in real time, so late chunks are counted as underruns in the playback report
        sent to the gateway at the end (also kept in ``last_playback``). ``speed`` is the speaking
        rate (0.5 to 2; above 1 is faster), applied by the vocoder here.
        """
        request = self._request(text, voice, language, sampling, seed, noise_scale)
        return self._stream(request, live, checked_speed(speed))

    def _stream(self, request: pb.SynthesizeRequest, live: bool, speed: float = 1.0) -> Iterator[AudioChunk]:
        with self._lock:
            loaded = self._loaded
        info, vocoder = loaded if loaded is not None else self._ensure()
        run = self._start(request, info, vocoder, live, speed)
        watchdog = _Watchdog()
        call = None
        try:
            while not run.done:
                method, message = run.next_call()
                if method == "Synthesize":  # a retry (same request id) waits for a gateway to come back
                    call = self._synthesis.Synthesize(message, metadata=self._metadata,
                                                      wait_for_ready=run.failures > 0)
                else:
                    call = self._synthesis.Resume(message, metadata=self._metadata, wait_for_ready=True)
                error: RelayError | None = None
                try:
                    for chunk in _read(call, self.timeout, watchdog, "chunk"):
                        pieces = run.on_chunk(chunk)
                        self.last_job_id = run.job_id
                        now = time.monotonic()
                        for piece in pieces:
                            run.stats.on_audio(now, piece.seconds)
                            held = time.monotonic()
                            yield piece
                            run.stats.on_consumer(time.monotonic() - held)
                        if run.done:
                            break
                except grpc.RpcError as exc:
                    error = self._error(exc, method)
                except DeadlineExceeded as exc:
                    error = exc
                if not run.done:
                    if not run.job_id:
                        run.adopt_job_id(_initial_metadata(call))
                        self.last_job_id = run.job_id or self.last_job_id
                    time.sleep(run.on_drop(error))
        finally:
            watchdog.close()
            if call is not None and not run.done:
                call.cancel()
                if run.job_id:
                    self._cancel_quietly(run.job_id)
        self._report_quietly(run)
        self._finished(run)

    def cancel(self, job_id: str) -> bool:
        """Stop a job; False when it had already ended. Its stream then ends without raising."""
        self._cancelled.add(job_id)
        return self._unary("Cancel", self._synthesis.Cancel, pb.CancelRequest(job_id=job_id)).cancelled

    def _cancel_quietly(self, job_id: str) -> None:
        try:
            self.cancel(job_id)
        except Exception as exc:  # best effort: the client may be closing
            log.debug("cancelling abandoned job %s failed: %s", job_id, exc)

    def report_playback(self, job_id: str, *, time_to_first_audio: float, real_time_factor: float,
                        underruns: int = 0, audio_seconds: float = 0.0) -> None:
        """Tell the gateway what the edge measured while playing a job (``synthesize`` does this at the end).

        See ``edge_client.stitch.PlaybackStats`` for what the figures mean.
        """
        self._unary("ReportPlayback", self._synthesis.ReportPlayback,
                    playback_report(job_id, time_to_first_audio, real_time_factor, underruns, audio_seconds))

    def _report_quietly(self, run: _Run) -> None:
        try:
            self._unary("ReportPlayback", self._synthesis.ReportPlayback, run.playback_report())
        except RelayError as exc:  # a report is never worth failing the audio for
            log.warning("playback report of job %s not delivered: %s", run.job_id, exc)
