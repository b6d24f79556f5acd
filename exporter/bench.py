"""``relaytts bench model`` and ``relaytts bench export``: full-size v2 weights on this machine.

Each measured phase runs in a fresh (spawned) process, so its peak resident memory is its own and
not what earlier phases left behind. Times are reported beside a reference run in the same command
(a plain ``torch.load`` of the same file; the size of the fp32 weights), never as bare numbers.
"""

from __future__ import annotations

import multiprocessing
import resource
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

__all__ = ["bench_export", "bench_model"]

MB = 1024 * 1024


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _in_fresh_process(func, *args):  # noqa: ANN001, ANN202 - picklable module-level callables only
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(func, *args).result()


def _phase_torch_load(path: str) -> dict[str, float]:
    import torch

    start = time.perf_counter()
    torch.load(path, map_location="cpu", weights_only=False)
    return {"seconds": time.perf_counter() - start, "peak_mb": _peak_mb()}


def _phase_load_t2s(path: str) -> dict[str, float]:
    import torch

    from exporter.t2s import load_t2s

    start = time.perf_counter()
    model = load_t2s(path)
    seconds = time.perf_counter() - start
    peak_after_load = _peak_mb()
    phones, bert, prompt = torch.randint(0, 732, (1, 40)), torch.randn(1, 1024, 40), torch.randint(0, 1024, (1, 30))
    with torch.inference_mode():
        t0 = time.perf_counter()
        logits, k, v = model.prefill(phones, bert, prompt)
        prefill_ms = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        for i in range(20):
            logits, k, v = model.step(logits.argmax(-1, keepdim=True), 30 + i, k, v)
        step_ms = (time.perf_counter() - t0) * 1000 / 20
    return {"seconds": seconds, "peak_mb": peak_after_load, "prefill_ms": prefill_ms, "step_ms": step_ms,
            "params": float(sum(p.numel() for p in model.parameters()))}


def _phase_load_sovits(path: str) -> dict[str, float]:
    import torch

    from exporter.sovits import load_sovits

    start = time.perf_counter()
    model = load_sovits(path)
    seconds = time.perf_counter() - start
    peak_after_load = _peak_mb()
    tokens = 100
    with torch.inference_mode():
        t0 = time.perf_counter()
        model.decode(torch.randint(0, 1024, (1, 1, tokens)), torch.randint(0, 732, (1, 50)),
                     torch.randn(1, model.config.gin_channels, 1), noise_scale=0.5,
                     generator=torch.Generator().manual_seed(0))
        decode_s = time.perf_counter() - t0
    return {"seconds": seconds, "peak_mb": peak_after_load, "rtf": decode_s / (tokens / 25),
            "params": float(sum(p.numel() for p in model.parameters()))}


def _phase_write(out_dir: str, version: str) -> tuple[str, str]:
    from exporter.random_weights import write_random_checkpoints

    gpt, sovits = write_random_checkpoints(out_dir, version)
    return str(gpt), str(sovits)


def _phase_export(gpt: str, sovits: str, out: str, precisions: tuple[str, ...]):  # noqa: ANN202
    from bundle.manifest import Precision
    from exporter.onnx.bundle_export import export_bundle

    start = time.perf_counter()
    manifest, rows = export_bundle(gpt, sovits, out, [Precision(p) for p in precisions])
    return {"seconds": time.perf_counter() - start, "peak_mb": _peak_mb()}, manifest.to_json(), rows


def bench_model(version: str = "v2") -> list[list[object]]:
    """Rows: phase, seconds, peak MB, ratio to a plain torch.load of the same file, notes."""
    with tempfile.TemporaryDirectory() as tmp:
        gpt, sovits = _in_fresh_process(_phase_write, tmp, version)
        rows: list[list[object]] = []
        for name, path, phase in [("GPT (T2S)", gpt, _phase_load_t2s), (f"SoVITS {version}", sovits,
                                                                         _phase_load_sovits)]:
            base = _in_fresh_process(_phase_torch_load, path)
            got = _in_fresh_process(phase, path)
            size_mb = Path(path).stat().st_size / MB
            extra = (f"prefill(70) {got['prefill_ms']:.0f} ms, step {got['step_ms']:.1f} ms/token"
                     if "step_ms" in got else f"decode RTF {got['rtf']:.2f}")
            rows.append([f"load {name} ({size_mb:.0f} MB fp16 file, {got['params'] / 1e6:.1f} M params)",
                         round(got["seconds"], 2), round(got["peak_mb"]), round(got["seconds"] / base["seconds"], 2),
                         round(got["peak_mb"] / base["peak_mb"], 2), extra])
        return rows


def bench_export(version: str = "v2", precisions: tuple[str, ...] = ("fp32", "fp16", "int8")):  # noqa: ANN201
    """Export full-size random weights; returns (timing row, manifest JSON, parity rows)."""
    with tempfile.TemporaryDirectory() as tmp:
        gpt, sovits = _in_fresh_process(_phase_write, tmp, version)
        stats, manifest_json, rows = _in_fresh_process(_phase_export, gpt, sovits, f"{tmp}/bundle", precisions)
        return stats, manifest_json, rows
