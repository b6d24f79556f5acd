"""``relaytts bench latency``: time to first audio through the real system, stage by stage.

One machine runs everything, as ``relaytts up`` does: Redis, the gateway, one Celery worker, and the
edge side in this process (the same ``ChunkAssembler`` and streaming vocoder ``Client.synthesize``
uses, driven straight from the gRPC stream so each stage can be timed). Per request, after warm-up:

- ``queue``, ``frontend``, ``prefill``, ``first_chunk_decode``: the worker's timings on the first chunk;
- ``relay``: the first chunk's arrival at the client minus those (gateway, Redis Streams, gRPC);
- ``vocoder_first_window``: first chunk in -> first PCM sample out at the client;
- ``ttfa``: request sent -> first PCM sample, and underruns under a live-sink model (``PlaybackStats``).

In the same command (ratios, so both sides see the same load on a shared machine): the streamed /
offline vocoder cost on the system's chunk schedule (best of 3 each, alternating), the ORT / PyTorch
T2S prefill (best of 5 each; needs ``--gpt``), and per vocoder variant in the bundle its time ratio and
SNR against fp32.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relaytts.settings import Settings

__all__ = ["LatencyReport", "bench_latency"]

TEXT = "The quick brown fox jumps over the lazy dog."
STAGES = ("queue", "frontend", "prefill", "first_chunk_decode", "relay", "vocoder_first_window")
VOCODER_TOKENS = 100
PREFILL_TEXT, PREFILL_PROMPT = 40, 30  # the 70-position prefill of the engine benchmark


@dataclass
class LatencyReport:
    """What ``--json`` writes (milliseconds unless named otherwise)."""

    ttfa_p50_ms: float
    ttfa_p95_ms: float
    stages: dict[str, dict[str, float]]
    underruns: int
    requests: int
    stream_offline_ratio: float
    prefill_ratio_vs_torch: float | None
    prefill: dict[str, float] = field(default_factory=dict)
    variants: list[dict[str, Any]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _one_request(stub: Any, vocoder: Any, seed: int, max_tokens: int) -> dict[str, float]:  # noqa: ANN401
    from edge_client.stitch import ChunkAssembler, PlaybackStats
    from protos import relaytts_v1_pb2 as pb

    assembler = ChunkAssembler(vocoder)
    stats = PlaybackStats(live=True)
    request = pb.SynthesizeRequest(
        text=TEXT, language="en", sampling=pb.SamplingParams(seed=seed, max_new_tokens=max_tokens)
    )
    stats.started_at = start = time.monotonic()
    first_chunk_at = None
    timings = None
    for chunk in stub.Synthesize(request, timeout=120):
        if first_chunk_at is None:
            first_chunk_at, timings = time.monotonic(), chunk.timings
        for audio in assembler.feed(chunk):
            stats.on_audio(time.monotonic(), audio.seconds)
    assert timings is not None and first_chunk_at is not None and stats.first_audio_at is not None
    server = {
        "queue": timings.queue_wait_us / 1000,
        "frontend": timings.frontend_us / 1000,
        "prefill": timings.prefill_us / 1000,
        "first_chunk_decode": timings.decode_us / 1000,
    }
    to_chunk = (first_chunk_at - start) * 1000
    return server | {
        "relay": max(0.0, to_chunk - sum(server.values())),
        "vocoder_first_window": (stats.first_audio_at - first_chunk_at) * 1000,
        "ttfa": stats.time_to_first_audio * 1000,
        "underruns": stats.underruns,
    }


def _best(fn: Any, runs: int) -> float:  # noqa: ANN401
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _vocoder_inputs(gin: int) -> tuple[Any, Any, Any]:
    import numpy as np

    rng = np.random.default_rng(3)
    return (
        rng.integers(0, 1024, VOCODER_TOKENS),
        rng.integers(0, 732, 60),
        (rng.standard_normal(gin) * 0.5).astype(np.float32),
    )


def stream_offline_ratio(vocoder: Any, gin: int, first: int, later: int, runs: int = 3) -> tuple[float, float]:  # noqa: ANN401
    """Streamed / offline vocoder time on the chunk schedule (first, then later tokens), and the SNR (dB)."""
    import numpy as np

    tokens, phones, ge = _vocoder_inputs(gin)
    vocoder.decode(tokens[:10], phones, ge)  # warm-up

    def streamed() -> np.ndarray:
        stream = vocoder.stream(phones, ge, noise_scale=0.0, seed=1)
        pieces, i, size = [], 0, first
        while i < len(tokens):
            pieces.append(stream.push(tokens[i : i + size]))
            i, size = i + size, later
        pieces.append(stream.finish())
        return np.concatenate(pieces)

    offline_s = streamed_s = float("inf")
    for _ in range(runs):  # alternate, so drift on a shared machine hits both
        offline_s = min(offline_s, _best(lambda: vocoder.decode(tokens, phones, ge, noise_scale=0.0), 1))
        streamed_s = min(streamed_s, _best(streamed, 1))
    want, got = vocoder.decode(tokens, phones, ge, noise_scale=0.0), streamed()
    snr = 10 * np.log10(np.mean(want**2) / max(float(np.mean((got - want) ** 2)), 1e-20))
    return streamed_s / offline_s, float(snr)


def variant_rows(bundle: Any, runs: int = 3) -> list[dict[str, Any]]:  # noqa: ANN401
    """Per vocoder variant in the bundle: time / fp32 time (alternating, best of ``runs``) and SNR vs fp32."""
    import numpy as np

    from bundle import Precision, Role
    from edge_client.vocoder import Vocoder

    base = Vocoder.load(bundle)
    tokens, phones, ge = _vocoder_inputs(bundle.manifest.sovits["gin_channels"])
    want = base.decode(tokens, phones, ge, noise_scale=0.0)
    rows = []
    for entry in bundle.manifest.files:
        if entry.role is not Role.VOCODER or entry.precision is Precision.FP32:
            continue
        variant = Vocoder.load(bundle, entry.precision)
        got = variant.decode(tokens, phones, ge, noise_scale=0.0)
        base_s = var_s = float("inf")
        for _ in range(runs):
            base_s = min(base_s, _best(lambda: base.decode(tokens, phones, ge, noise_scale=0.0), 1))
            var_s = min(var_s, _best(lambda v=variant: v.decode(tokens, phones, ge, noise_scale=0.0), 1))
        snr = 10 * np.log10(np.mean(want**2) / max(float(np.mean((got - want) ** 2)), 1e-20))
        rows.append(
            {
                "graph": "vocoder",
                "precision": entry.precision.value,
                "time_ratio_vs_fp32": var_s / base_s,
                "snr_db_vs_fp32": float(snr),
                "validated": entry.validated,
            }
        )
    return rows


def prefill_vs_torch(bundle: Any, gpt: Path, runs: int = 5) -> dict[str, float]:  # noqa: ANN401
    """Best-of-``runs`` prefill of a 70-position prefix: ORT (the worker's runner) and the PyTorch reference."""
    import numpy as np
    import torch

    from bundle import Role, SessionOptions
    from bundle.t2s_runner import T2SRunner
    from exporter.t2s import load_t2s

    rng = np.random.default_rng(0)
    phones, prompt = rng.integers(0, 732, PREFILL_TEXT), rng.integers(0, 1024, PREFILL_PROMPT)
    bert = (rng.standard_normal((1024, PREFILL_TEXT)) * 0.3).astype(np.float32)
    t2s = bundle.manifest.t2s
    runner = T2SRunner(
        bundle.session(Role.T2S, options=SessionOptions(intra_op_threads=2)), t2s["num_layers"], t2s["hidden_dim"]
    )
    torch.set_num_threads(2)
    model = load_t2s(gpt)
    tp, tb, tq = (torch.from_numpy(a)[None] for a in (phones, bert, prompt))
    ort_s = torch_s = float("inf")
    with torch.inference_mode():
        runner.prefill(phones, bert, prompt, 8)
        model.prefill(tp, tb, tq)  # warm-ups
        for _ in range(runs):  # alternate: both sides see the same load
            ort_s = min(ort_s, _best(lambda: runner.prefill(phones, bert, prompt, 8), 1))
            torch_s = min(torch_s, _best(lambda: model.prefill(tp, tb, tq), 1))
    # floor: the prefix's matmul FLOPs at the matmul rate this machine reaches now
    dim, layers, positions = t2s["hidden_dim"], t2s["num_layers"], PREFILL_TEXT + PREFILL_PROMPT
    flops = 2 * positions * layers * (4 * dim * dim + 2 * dim * 4 * dim) + 2 * layers * 2 * positions**2 * dim
    a = torch.randn(positions, dim)
    w = torch.randn(dim, 4 * dim)
    rate = 2 * positions * dim * 4 * dim / _best(lambda: a @ w, 20)
    return {
        "ort_ms": ort_s * 1000,
        "torch_ms": torch_s * 1000,
        "ratio": ort_s / torch_s,
        "floor_ms": flops / rate * 1000,
        "ort_vs_floor": ort_s / (flops / rate),
    }


def bench_latency(
    settings: Settings,
    run_dir: Path,
    runs: int = 12,
    warmup: int = 2,
    precision: str = "fp32",
    gpt: Path | None = None,
    max_tokens: int = 60,
) -> LatencyReport:
    """The whole measurement; see the module docstring."""
    import grpc

    from bundle import Bundle, Precision, SessionOptions
    from edge_client.vocoder import Vocoder
    from protos import relaytts_v1_pb2_grpc as pb_grpc
    from relaytts.embedded import EmbeddedSystem

    bundle = Bundle.open(settings.worker.bundle)
    vocoder = Vocoder.load(bundle, Precision(precision), SessionOptions(device=settings.worker.device))
    samples: list[dict[str, float]] = []
    with EmbeddedSystem(settings, run_dir).start() as system, grpc.insecure_channel(system.gateway_address) as ch:
        stub = pb_grpc.SynthesisStub(ch)
        for i in range(warmup + runs):
            result = _one_request(stub, vocoder, 100 + i, max_tokens)
            if i >= warmup:
                samples.append(result)
    ttfa = [s["ttfa"] for s in samples]
    stages = {
        name: {"p50_ms": statistics.median(s[name] for s in samples), "p95_ms": _p([s[name] for s in samples], 0.95)}
        for name in STAGES
    }
    ratio, snr = stream_offline_ratio(
        vocoder,
        bundle.manifest.sovits["gin_channels"],
        settings.worker.first_chunk_tokens,
        settings.worker.chunk_tokens,
    )
    prefill = prefill_vs_torch(bundle, gpt) if gpt is not None else {}
    return LatencyReport(
        ttfa_p50_ms=statistics.median(ttfa),
        ttfa_p95_ms=_p(ttfa, 0.95),
        stages=stages,
        underruns=int(sum(s["underruns"] for s in samples)),
        requests=len(samples),
        stream_offline_ratio=ratio,
        prefill_ratio_vs_torch=prefill.get("ratio"),
        prefill=prefill,
        variants=variant_rows(bundle),
        settings={
            "first_chunk_tokens": settings.worker.first_chunk_tokens,
            "chunk_tokens": settings.worker.chunk_tokens,
            "edge_precision": precision,
            "stream_snr_db_vs_offline": snr,
            "max_new_tokens": max_tokens,
        },
    )
