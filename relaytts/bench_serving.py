"""``relaytts bench serving``: continuous batching against one decode at a time, on the real system.

For each concurrency N the same load runs twice in the same command, each time through a fresh
``relaytts up`` layout (redis-server, gateway, one worker; no book worker): once with batching
(``worker.max_batch`` = the largest N) and once sequential (``max_batch`` = 1: Celery prefork, one
decode at a time). N streams start together; each asks for the same number of tokens with its own
seed. Reported per N and mode: aggregate tokens/s, audio seconds per second, time to first chunk
p50/p95; then the batched/sequential throughput ratio and the batched p95 against the batched single
stream's. Ratios within one command, so a machine loaded by others weighs on both sides.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from relaytts.settings import Settings

__all__ = ["ServingRow", "bench_serving", "summary_rows"]

TEXT = "The quick brown fox jumps over the lazy dog near the bank of the river."
TOKENS_PER_STREAM = 100
"""Tokens each stream asks for (random weights rarely stop earlier): 4 s of audio."""
TOKENS_PER_SECOND_OF_AUDIO = 25
MODES = ("batched", "sequential")


@dataclass(frozen=True)
class ServingRow:
    streams: int
    mode: str
    tokens_per_s: float
    audio_s_per_s: float
    ttfc_p50_ms: float
    ttfc_p95_ms: float
    wall_s: float
    tokens: int


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else values[0]


def _one_stream(address: str, seed: int, started: float) -> tuple[float, int]:
    """(seconds from the common start to this stream's first chunk, tokens received)."""
    import grpc

    from protos import relaytts_v1_pb2 as pb
    from protos import relaytts_v1_pb2_grpc as pb_grpc

    with grpc.insecure_channel(address) as channel:
        call = pb_grpc.SynthesisStub(channel).Synthesize(
            pb.SynthesizeRequest(
                text=TEXT, language="en", sampling=pb.SamplingParams(seed=seed, max_new_tokens=TOKENS_PER_STREAM)
            ),
            timeout=1800,
        )
        first, tokens = None, 0
        for chunk in call:
            if first is None and chunk.tokens:
                first = time.perf_counter() - started
            tokens += len(chunk.tokens)
    return (first if first is not None else float("nan")), tokens


def _load(address: str, streams: int, seed_base: int) -> ServingRow:
    started = time.perf_counter()
    with ThreadPoolExecutor(streams) as pool:
        results = list(pool.map(lambda i: _one_stream(address, seed_base + i, started), range(streams)))
    wall = time.perf_counter() - started
    firsts = [first * 1000 for first, _ in results]
    tokens = sum(t for _, t in results)
    return ServingRow(
        streams,
        "",
        round(tokens / wall, 2),
        round(tokens / TOKENS_PER_SECOND_OF_AUDIO / wall, 3),
        round(statistics.median(firsts), 1),
        round(_p95(firsts), 1),
        round(wall, 2),
        tokens,
    )


def _run_mode(
    settings: Settings, run_dir: Path, mode: str, streams: list[int], say: Callable[[str], None]
) -> list[ServingRow]:
    from relaytts.embedded import EmbeddedSystem

    max_batch = max(streams) if mode == "batched" else 1
    settings = settings.with_overrides(
        {
            "worker.max_batch": max_batch,
            "books.batch_concurrency": 0,
            "gateway.max_active_streams": max(64, 2 * max(streams)),
            # sequentially the last of N streams waits for N - 1 whole decodes before its first chunk
            "gateway.queue_timeout_seconds": 3600,
        }
    )
    rows = []
    with EmbeddedSystem(settings, run_dir / mode).start() as system:
        _load(system.gateway_address, 1, 0)  # warm-up: sessions, frontend caches, gRPC channel
        for n in streams:
            say(f"{mode}: {n} stream(s)")
            row = _load(system.gateway_address, n, 1000 * n)
            rows.append(ServingRow(**(asdict(row) | {"mode": mode})))
            say(f"{mode}: {rows[-1]}")  # each row as it is measured, in case a later one fails
    return rows


def bench_serving(
    settings: Settings, run_dir: Path, streams: list[int], say: Callable[[str], None] = print
) -> list[ServingRow]:
    """Every (concurrency, mode) row; batched first, then sequential, the same seeds on both sides."""
    rows = []
    for mode in MODES:
        rows += _run_mode(settings, run_dir, mode, streams, say)
    return rows


def summary_rows(rows: list[ServingRow]) -> list[list[object]]:
    """Table rows per concurrency: both modes' figures, the throughput ratio, batched p95 vs 1 stream."""
    by = {(r.streams, r.mode): r for r in rows}
    single = by.get((1, "batched"))
    out = []
    for n in sorted({r.streams for r in rows}):
        b, s = by[(n, "batched")], by[(n, "sequential")]
        ratio = b.tokens_per_s / s.tokens_per_s if s.tokens_per_s else float("nan")
        p95_ratio = b.ttfc_p95_ms / single.ttfc_p95_ms if single else float("nan")
        out.append(
            [
                n,
                b.tokens_per_s,
                s.tokens_per_s,
                f"x{ratio:.2f}",
                b.audio_s_per_s,
                s.audio_s_per_s,
                f"{b.ttfc_p50_ms:.0f} / {b.ttfc_p95_ms:.0f}",
                f"{s.ttfc_p50_ms:.0f} / {s.ttfc_p95_ms:.0f}",
                f"x{p95_ratio:.2f}",
            ]
        )
    return out
