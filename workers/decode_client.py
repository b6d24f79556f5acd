"""The worker side of the decode process: ``BatchClient.stream`` behaves like ``T2SEngine.stream``.

Celery's thread pool runs one task per thread; each ``JobRun`` calls ``runtime.engine.stream`` as it
always did, and this client turns that into a request to the decode process (``workers.decode_loop``)
and yields the chunks it sends back. ``cancelled()`` (the job's step clock) is asked once after the
prefill and once per step the row took part in, as the sequential engine does, so the stage metrics
and the cancel check keep their meaning; the decode process also checks the cancel key itself before
every step, which is what bounds a cancel to one step.

If the decode process dies (SIGKILL, OOM), every stream in flight raises ``DecodeLost``; the task
turns that into ``Reject(requeue=True)`` (``workers.tasks``), so the broker hands the message out
again at once and the next delivery continues the job under a new epoch from its resume point — what
``reject_on_worker_lost`` does for a killed prefork child. The next request starts a new process.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import queue
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

import numpy as np

from relaytts.errors import InvalidArgument
from relaytts.sampling import SamplingParams, StopReason
from workers.decode_loop import BATCH, LIVE
from workers.decode_row import ChunkPolicy, TokenChunk

if TYPE_CHECKING:
    from bundle.manifest import Manifest
    from relaytts.settings import Settings

__all__ = ["BatchClient", "DecodeLost", "decode_config", "pool_slots", "priority_of"]

log = logging.getLogger(__name__)


class DecodeLost(RuntimeError):
    """The decode process died while this request was in it (the job must be delivered again)."""


def _never() -> bool:
    return False


class BatchClient:
    """Starts the decode process on first use and multiplexes the task threads' requests over one pipe."""

    def __init__(self, config: dict[str, Any], priority: int = LIVE) -> None:
        self.config = config
        self.priority = priority
        self.slots = int(config["slots"])
        self.provider = "unknown"
        self._lock = threading.Lock()  # start/restart and sends
        self._conn: Connection | None = None
        self._process: subprocess.Popen | None = None
        self._streams: dict[int, queue.SimpleQueue] = {}
        self._ids = itertools.count(1)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        """Start the decode process if it is not running; it loads its session while requests queue up."""
        with self._lock:
            if self._conn is None:
                self._start_locked()

    def _start_locked(self) -> None:
        # No wait for the session here: the worker loads its frontend meanwhile, requests wait in the
        # socket until the loop reads them, and a process that dies while loading fails them as lost.
        mine, theirs = socket.socketpair()
        command = [sys.executable, "-m", "workers.decode_loop", str(theirs.fileno()), json.dumps(self.config)]
        process = subprocess.Popen(
            command, pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, env=os.environ.copy()
        )
        theirs.close()
        conn = Connection(mine.detach())
        self._conn, self._process = conn, process
        threading.Thread(target=self._read, args=(conn, process), name="decode-reader", daemon=True).start()
        log.info("decode process %d starting (%d slots)", process.pid, self.slots)

    def _read(self, conn: Connection, process: subprocess.Popen) -> None:
        """Route the decode process's messages to the streams; on its death fail every stream in flight."""
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break
            if message[0] == "ready":
                self.provider = message[1]
                log.info("decode process %d ready (%d slots, %s)", process.pid, message[2], self.provider)
                continue
            target = self._streams.get(message[1])
            if target is not None:
                target.put(message)
        process.wait()
        _forget_metrics(process.pid)
        log.error(
            "decode process %d exited (status %s); %d streams in flight are delivered again",
            process.pid,
            process.returncode,
            len(self._streams),
        )
        with self._lock:
            if self._conn is conn:
                self._conn = self._process = None
            lost = list(self._streams.values())
        for target in lost:
            target.put(("lost",))

    def _send(self, message: tuple) -> None:
        with self._lock:
            if self._conn is None:
                self._start_locked()
            assert self._conn is not None
            try:
                self._conn.send(message)
            except OSError as exc:  # died before the reader noticed
                raise DecodeLost(f"the decode process is gone ({exc})") from exc

    def stream(
        self,
        phones: np.ndarray,
        bert: np.ndarray,
        prompt: np.ndarray,
        params: SamplingParams | None = None,
        policy: ChunkPolicy | None = None,
        cancelled: Callable[[], bool] = _never,
        cancel_keys: tuple[str, ...] = (),
    ) -> Iterator[TokenChunk]:
        """Decode one segment as a row of the shared batch, yielding its chunks (the last one final).

        ``cancel_keys``: Redis keys whose existence cancels the row; the decode process checks them before
        every step."""
        params = (params or SamplingParams()).validate()
        policy = policy or ChunkPolicy()
        if params.seed is None:  # drawn here, not in the decode process: a row's RNG is its own
            params = SamplingParams(**(asdict(params) | {"seed": int(np.random.default_rng().integers(2**63))}))
        rid = next(self._ids)
        inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._streams[rid] = inbox
        ended = False
        try:
            self._send(
                (
                    "admit",
                    rid,
                    np.asarray(phones, np.int64),
                    np.asarray(bert, np.float32),
                    np.asarray(prompt, np.int64),
                    asdict(params),
                    (policy.first_tokens, policy.tokens),
                    tuple(cancel_keys),
                    self.priority,
                )
            )
            while not ended:
                message = inbox.get()
                kind = message[0]
                if kind == "lost":
                    raise DecodeLost("the decode process died while this segment was decoding")
                if kind == "error":
                    ended = True
                    raise InvalidArgument(message[2])
                chunks = [] if kind == "prefilled" else [_chunk(t) for t in message[2]]
                if not (chunks and chunks[-1].final) and cancelled():
                    self._cancel(rid)
                for chunk in chunks:
                    ended = chunk.final
                    yield chunk
        finally:
            self._streams.pop(rid, None)
            if not ended:  # the consumer stopped early (or the process died): free the slot
                self._cancel(rid)

    def _cancel(self, rid: int) -> None:
        try:
            with self._lock:
                if self._conn is not None:
                    self._conn.send(("cancel", rid))
        except OSError:
            pass  # the process is gone: its slots went with it

    def close(self) -> None:
        """Stop the decode process (at worker shutdown)."""
        with self._lock:
            conn, process = self._conn, self._process
            self._conn = self._process = None
        if conn is not None and process is not None:
            try:
                conn.send(("stop",))
                process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                process.kill()
                process.wait()


def pool_slots(settings: Settings, manifest: Manifest) -> int:
    """Slots of the KV pool: ``max_batch``, fewer when ``kv_memory_mb`` cannot hold that many (at least 1)."""
    from bundle.t2s_batch import KVPool

    worker, cfg = settings.worker, manifest.t2s
    if worker.kv_memory_mb <= 0:
        return worker.max_batch
    itemsize = 2 if worker.kv_dtype == "fp16" else 4
    per_slot = KVPool.slot_bytes(cfg["num_layers"], worker.kv_positions, cfg["hidden_dim"], itemsize)
    fits = worker.kv_memory_mb * 2**20 // per_slot
    if fits < 1:
        raise InvalidArgument(
            f"`kv_memory_mb` ({worker.kv_memory_mb}) cannot hold one KV slot of "
            f"{worker.kv_positions} positions ({per_slot / 2**20:.0f} MiB)"
        )
    return int(min(worker.max_batch, fits))


def decode_config(settings: Settings, manifest: Manifest) -> dict[str, Any]:
    """What the decode process needs (JSON on its command line)."""
    worker = settings.worker
    return {
        "bundle": worker.bundle,
        "precision": worker.precision,
        "device": worker.device,
        "threads": worker.threads,
        "slots": pool_slots(settings, manifest),
        "capacity": worker.kv_positions,
        "kv_dtype": worker.kv_dtype,
        "redis_url": settings.redis.url,
    }


def _forget_metrics(pid: int) -> None:
    """Drop a dead decode process's live gauges (prometheus-client keeps their files until told)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


def _chunk(t: tuple) -> TokenChunk:
    index, tokens, final, reason = t
    return TokenChunk(index, np.frombuffer(tokens, np.int64).copy(), final, StopReason(reason) if reason else None)


def priority_of(queues: str) -> int:
    """Book workers (``t2s.batch`` only) yield to live synthesis when slots are short."""
    names = {q.strip() for q in queues.split(",") if q.strip()}
    return BATCH if names and names <= {"t2s.batch"} else LIVE
