"""The decode process: one continuous-batching loop per worker (per device), fed over a pipe.

``relaytts worker`` with ``--max-batch N`` (N > 1) runs Celery's thread pool: each task thread runs
its job exactly as before (frontend, resume point, epochs, the fenced publish) and hands each segment
to this process through ``workers.decode_client``. This process owns the T2S session and the KV slot
pool and runs ``BatchedT2S``: it admits requests between steps (a prefill into a free slot), checks
every row's cancel key once per step (one pipelined round trip), steps all rows together and sends
each row its chunks. Requests beyond the free slots wait here, live ones before batch ones.

Messages (pickled over a socket pair; a row is named by the client's request id):
  in:  ("admit", rid, phones, bert, prompt, params dict, (first, tokens), cancel keys, priority)
       ("cancel", rid), ("stop",)
  out: ("ready", provider, slots), ("prefilled", rid), ("step", rid, [chunk tuples]), ("error", rid, message)
A chunk tuple is ``(index, tokens int64 bytes, final, stop reason or "")``.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections import deque
from collections.abc import Hashable
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from relaytts.errors import RelayError
from relaytts.sampling import SamplingParams, StopReason
from workers.decode_row import TokenChunk

__all__ = ["main", "serve"]

log = logging.getLogger("workers.decode")

LIVE, BATCH = 0, 1
"""Priorities of waiting requests: live synthesis is admitted before book segments."""


def chunk_tuple(chunk: Any) -> tuple:  # noqa: ANN401
    return (
        chunk.index,
        np.asarray(chunk.tokens, np.int64).tobytes(),
        chunk.final,
        chunk.stop_reason.value if chunk.stop_reason is not None else "",
    )


class _Loop:
    def __init__(self, conn: Connection, engine: Any, redis_client: Any, metrics: Any) -> None:  # noqa: ANN401
        self.conn = conn
        self.engine = engine
        self.redis = redis_client
        self.metrics = metrics
        self.waiting: deque[tuple] = deque()
        self.cancel_keys: dict[Hashable, tuple[str, ...]] = {}
        self.running = True

    def run(self) -> None:
        while self.running:
            # Block only when nothing decodes; otherwise take what arrived and step.
            while self.running and self.conn.poll(None if not self.engine.active and not self.waiting else 0):
                self.handle(self.conn.recv())
            self.admit_waiting()
            if self.engine.active:
                self.step()

    def handle(self, message: tuple) -> None:
        kind = message[0]
        if kind == "admit":
            if message[8] == LIVE:
                # Live requests go ahead of waiting book segments, behind earlier live ones.
                at = next((i for i, m in enumerate(self.waiting) if m[8] != LIVE), len(self.waiting))
                self.waiting.insert(at, message)
            else:
                self.waiting.append(message)
        elif kind == "cancel":
            rid = message[1]
            if any(m[1] == rid for m in self.waiting):  # never admitted: it still gets its final chunk
                self.waiting = deque(m for m in self.waiting if m[1] != rid)
                self.send_chunks(rid, [TokenChunk(0, np.zeros(0, np.int64), True, StopReason.CANCELLED)])
            for emitted in self.engine.cancel(rid):
                self.send_chunks(rid, [emitted.chunk])
            self.cancel_keys.pop(rid, None)
        elif kind == "stop":
            self.running = False

    def admit_waiting(self) -> None:
        from workers.decode_row import ChunkPolicy

        while self.waiting and self.engine.free_slots:
            _, rid, phones, bert, prompt, params, policy, cancel_keys, _priority = self.waiting.popleft()
            try:
                emitted = self.engine.admit(rid, phones, bert, prompt, SamplingParams(**params), ChunkPolicy(*policy))
            except RelayError as exc:
                self.conn.send(("error", rid, str(exc)))
                continue
            if emitted:  # ended at once (max_new_tokens=0)
                self.send_chunks(rid, [e.chunk for e in emitted])
                continue
            if cancel_keys and self.redis is not None:
                self.cancel_keys[rid] = cancel_keys
            self.conn.send(("prefilled", rid))
        self.metrics.batch_waiting.set(len(self.waiting))

    def cancelled(self) -> set[Hashable]:
        if not self.cancel_keys:
            return set()
        rids = list(self.cancel_keys)
        pipe = self.redis.pipeline(transaction=False)
        for rid in rids:
            pipe.exists(*self.cancel_keys[rid])
        return {rid for rid, found in zip(rids, pipe.execute(), strict=True) if found}

    def step(self) -> None:
        rows = self.engine.active
        started = time.perf_counter()
        emitted = self.engine.step(self.cancelled())
        seconds = time.perf_counter() - started
        self.metrics.observe_batch_step(rows, seconds)
        by_row: dict[Hashable, list] = {rid: [] for rid in self.engine.rows()}
        for e in emitted:
            by_row.setdefault(e.key, []).append(e.chunk)
        for rid, chunks in by_row.items():
            self.send_chunks(rid, chunks)
        self.metrics.batch_active.set(self.engine.active)

    def send_chunks(self, rid: Hashable, chunks: list) -> None:
        self.conn.send(("step", rid, [chunk_tuple(c) for c in chunks]))
        if chunks and chunks[-1].final:
            self.cancel_keys.pop(rid, None)


def serve(conn: Connection, config: dict[str, Any]) -> None:
    """Load the T2S session and the slot pool, say ready, and run the loop until told to stop."""
    import redis

    from bundle import Bundle, Precision, SessionOptions
    from workers.batch_engine import BatchedT2S
    from workers.metrics import worker_metrics

    options = SessionOptions(device=config["device"], intra_op_threads=config["threads"])
    bundle = Bundle.open(config["bundle"], verify=False, side="cloud")
    engine = BatchedT2S.load(
        bundle, config["slots"], config["capacity"], Precision(config["precision"]), options, config["kv_dtype"]
    )
    client = redis.Redis.from_url(config["redis_url"]) if config.get("redis_url") else None
    metrics = worker_metrics()
    metrics.batch_slots.set(config["slots"])
    log.info(
        "decode loop ready: %d slots x %d positions (%s KV), T2S %s on %s",
        config["slots"],
        config["capacity"],
        config["kv_dtype"],
        config["precision"],
        engine.provider,
    )
    conn.send(("ready", engine.provider, config["slots"]))
    _Loop(conn, engine, client, metrics).run()


def main() -> None:
    """``python -m workers.decode_loop FD CONFIG_JSON`` (started by ``workers.decode_client``)."""
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s: %(levelname)s/decode] %(message)s")
    conn = Connection(int(sys.argv[1]))
    try:
        serve(conn, json.loads(sys.argv[2]))
    except (EOFError, BrokenPipeError, ConnectionResetError):
        # The worker closed its end or died (even by SIGKILL: the kernel closes its sockets), so nobody
        # waits for these rows; ending here is what keeps a killed worker from leaving this process behind.
        log.info("the worker is gone; the decode process ends")


if __name__ == "__main__":
    main()
