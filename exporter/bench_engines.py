"""``relaytts bench engines``: the ONNX Runtime engines against the PyTorch reference, same weights.

Every row is a ratio to a reference measured in the same command: the PyTorch reference decoding
with its own KV cache (upstream's fast path), or the floor of a decode step (weight bytes divided by
the memory bandwidth measured here). Each side runs in its own fresh process so peak memory is its
own. Nothing here is a pass/fail test; the table says which targets are met and by how much not.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from exporter.bench import _in_fresh_process, _peak_mb, _phase_write

__all__ = ["bench_engines"]

PREFIX_TEXT, PREFIX_PROMPT = 40, 30  # a 70-position prefill, as in the reference figures
STEPS = 100
VOCODER_TOKENS = 100


def _inputs(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 732, PREFIX_TEXT), (rng.standard_normal((1024, PREFIX_TEXT)) * 0.3).astype(np.float32),
            rng.integers(0, 1024, PREFIX_PROMPT))


def _torch_side(gpt: str, sovits: str) -> dict[str, float]:
    import torch

    from exporter.sovits import load_sovits
    from exporter.t2s import load_t2s

    torch.set_num_threads(2)
    model = load_t2s(gpt)
    phones, bert, prompt = (torch.from_numpy(a)[None] for a in _inputs())
    with torch.inference_mode():
        prefill = []
        for _ in range(5):
            t0 = time.perf_counter()
            logits, k, v = model.prefill(phones, bert, prompt)
            prefill.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for i in range(STEPS):
            logits, k, v = model.step(logits[:, :1024].argmax(-1, keepdim=True), PREFIX_PROMPT + i, k, v)
        step = (time.perf_counter() - t0) / STEPS
        del model, k, v
        vocoder = load_sovits(sovits)
        codes = torch.randint(0, 1024, (1, 1, VOCODER_TOKENS), generator=torch.Generator().manual_seed(0))
        text = torch.randint(0, 732, (1, 50), generator=torch.Generator().manual_seed(1))
        ge = torch.randn(1, vocoder.config.gin_channels, 1)
        vocoder.decode(codes[..., :10], text, ge)  # warm-up
        t0 = time.perf_counter()
        vocoder.decode(codes, text, ge, generator=torch.Generator().manual_seed(0))
        vocoder_s = time.perf_counter() - t0
    return {"prefill_ms": statistics.median(prefill) * 1000, "step_ms": step * 1000,
            "vocoder_rtf": vocoder_s / (VOCODER_TOKENS / 25)}


def _ort_t2s_side(bundle_dir: str, precision: str) -> dict[str, float]:
    from bundle import Bundle, Precision
    from relaytts.sampling import SamplingParams
    from workers.t2s import T2SEngine

    engine = T2SEngine.load(Bundle.open(bundle_dir, verify=False), Precision(precision))
    phones, bert, prompt = _inputs()
    runner_prefill = []
    from bundle.t2s_runner import T2SRunner

    runner = T2SRunner(engine.session, engine.num_layers, engine.hidden_dim)
    for _ in range(5):
        t0 = time.perf_counter()
        runner.prefill(phones, bert, prompt, STEPS)
        runner_prefill.append(time.perf_counter() - t0)
    engine.generate(phones, bert, prompt, SamplingParams(top_k=1, max_new_tokens=5))  # warm-up
    t0 = time.perf_counter()
    decode = engine.generate(phones, bert, prompt, SamplingParams(top_k=1, max_new_tokens=STEPS + 1))
    total = time.perf_counter() - t0
    prefill = statistics.median(runner_prefill)
    steps = max(len(decode.tokens) - 1, 1)
    return {"prefill_ms": prefill * 1000, "step_ms": (total - prefill) / steps * 1000, "peak_mb": _peak_mb(),
            "provider": engine.provider}


def _ort_vocoder_side(bundle_dir: str) -> dict[str, float]:
    from bundle import Bundle
    from edge_client.vocoder import Vocoder

    vocoder = Vocoder.load(Bundle.open(bundle_dir, verify=False))
    rng = np.random.default_rng(0)
    tokens, phones = rng.integers(0, 1024, VOCODER_TOKENS), rng.integers(0, 732, 50)
    ge = (rng.standard_normal(vocoder_gin(bundle_dir)) * 0.5).astype(np.float32)
    vocoder.decode(tokens[:10], phones, ge)
    t0 = time.perf_counter()
    vocoder.decode(tokens, phones, ge)
    offline = time.perf_counter() - t0
    # streaming: 8-token first chunk then 25-token chunks, as the T2S engine sends them
    stream = vocoder.stream(phones, ge)
    t0 = time.perf_counter()
    first_audio = None
    sizes, i, k = [8, 25], 0, 0
    while i < VOCODER_TOKENS:
        n = sizes[min(k, 1)]
        if len(stream.push(tokens[i : i + n])) and first_audio is None:
            first_audio = time.perf_counter() - t0
        i, k = i + n, k + 1
    stream.finish()
    streamed = time.perf_counter() - t0
    return {"rtf": offline / (VOCODER_TOKENS / 25), "stream_rtf": streamed / (VOCODER_TOKENS / 25),
            "first_audio_ms": (first_audio or streamed) * 1000}


def vocoder_gin(bundle_dir: str) -> int:
    import json

    return json.loads((Path(bundle_dir) / "manifest.json").read_text())["sovits"]["gin_channels"]


def _copy_bandwidth_gbps(megabytes: int = 256, threads: int = 2) -> float:
    """Memory bandwidth as read+write bytes per second of a multi-threaded copy (pages pre-touched)."""
    src = np.ones(megabytes * 1024 * 1024 // 4, np.float32)
    dst = np.zeros_like(src)
    parts = np.array_split(np.arange(len(src)), threads)
    bounds = [(p[0], p[-1] + 1) for p in parts]

    def copy(lo: int, hi: int) -> None:
        np.copyto(dst[lo:hi], src[lo:hi])

    best = float("inf")
    for _ in range(5):
        workers = [threading.Thread(target=copy, args=b) for b in bounds]
        t0 = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        best = min(best, time.perf_counter() - t0)
    return 2 * src.nbytes / best / 1e9


def bench_engines(bundle_dir: str | None = None, gpt: str | None = None, sovits: str | None = None) -> list[list]:
    """Rows: metric, relaytts, reference, ratio, target, verdict."""
    from bundle.manifest import Precision

    with tempfile.TemporaryDirectory() as tmp:
        if bundle_dir is None:
            gpt, sovits = _in_fresh_process(_phase_write, tmp, "v2")
            bundle_dir = f"{tmp}/bundle"
            from exporter.bench import _phase_export

            _in_fresh_process(_phase_export, gpt, sovits, bundle_dir, ("fp32", "int8"))
        manifest_files = __import__("json").loads((Path(bundle_dir) / "manifest.json").read_text())["files"]
        t2s_bytes = {f["precision"]: f["size_bytes"] for f in manifest_files if f["role"] == "t2s"}
        fp32 = _in_fresh_process(_ort_t2s_side, bundle_dir, "fp32")
        int8 = (_in_fresh_process(_ort_t2s_side, bundle_dir, "int8") if Precision.INT8.value in t2s_bytes else None)
        voc = _in_fresh_process(_ort_vocoder_side, bundle_dir)
        ref = _in_fresh_process(_torch_side, gpt, sovits) if gpt and sovits else None
        bandwidth = _copy_bandwidth_gbps()
    floor_ms = t2s_bytes["fp32"] / (bandwidth / 2 * 1e9) * 1000  # a step reads each weight once
    rows: list[list] = []

    def row(metric: str, ours: float, reference: float | None, target: float | None, unit: str) -> None:
        ratio = ours / reference if reference else None
        verdict = ("" if ratio is None or target is None else
                   "met" if ratio <= target else f"missed by {ratio / target:.2f}x")
        rows.append([metric, f"{ours:.2f} {unit}", "" if reference is None else f"{reference:.2f} {unit}",
                     "" if ratio is None else round(ratio, 3), "" if target is None else f"<= {target}", verdict])

    torch_ref = ref or {}
    row("T2S prefill, 70 positions: ORT fp32 / PyTorch", fp32["prefill_ms"], torch_ref.get("prefill_ms"), 0.6, "ms")
    row("T2S per token: ORT fp32 / PyTorch KV cache", fp32["step_ms"], torch_ref.get("step_ms"), 0.45, "ms")
    row(f"T2S per token: ORT fp32 / floor ({bandwidth / 2:.1f} GB/s read)", fp32["step_ms"], floor_ms, 1.5, "ms")
    if int8:
        row("T2S per token: ORT int8 / PyTorch KV cache", int8["step_ms"], torch_ref.get("step_ms"), 0.25, "ms")
        row("T2S per token: ORT int8 / int8 floor", int8["step_ms"],
            t2s_bytes["int8"] / (bandwidth / 2 * 1e9) * 1000, None, "ms")
    row("vocoder real-time factor: ORT / PyTorch", voc["rtf"], torch_ref.get("vocoder_rtf"), 0.6, "")
    row("vocoder streaming RTF (8 then 25-token chunks) / offline", voc["stream_rtf"], voc["rtf"], None, "")
    row("streaming time to first audio (vocoder, 8 tokens in)", voc["first_audio_ms"], None, None, "ms")
    row("T2S worker peak memory / fp32 T2S weights", fp32["peak_mb"], t2s_bytes["fp32"] / 2**20, 1.5, "MB")
    rows.append(["execution provider", fp32["provider"], "", "", "", ""])
    return rows
