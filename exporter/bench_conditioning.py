"""Voice conditioning time per voice: the worker's ONNX Runtime path against the PyTorch reference, same weights.

    python -m exporter.bench_conditioning                  # full-size random v2 + random HuBERT-base, built here
    python -m exporter.bench_conditioning --bundle DIR --sovits F.pth --hubert HUBERT_DIR

For clips of 3, 6 and 10 s (real speech from espeak-ng when installed, else a harmonic tone with
vibrato), the worker's ``Conditioner.condition`` is timed stage by stage (decode + resample, text
frontend, HuBERT, prompt extractor, spectrogram + style encoder; the fastest of ``runs`` after a warm-up)
and compared with ``exporter.voice_reference.reference_conditioning`` (transformers' HubertModel +
the PyTorch SoVITS) on the same clip in the same process. Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

__all__ = ["CLIP_SECONDS", "bench_conditioning", "main"]

CLIP_SECONDS = (3.0, 6.0, 10.0)
TEXT = ("The quick brown fox jumps over the lazy dog, and then it runs away into the forest, where it sleeps under "
        "an old oak tree until the morning sun wakes it up again.")


def _clip(seconds: float) -> tuple[bytes, str]:
    """A WAV of ``seconds`` (espeak-ng speech cut to length, else a tone) and its transcript."""
    import io
    import shutil
    import subprocess

    import soundfile

    rate = 22050
    if shutil.which("espeak-ng"):
        wav = subprocess.run(["espeak-ng", "-v", "en", "-s", "150", "--stdout", TEXT], capture_output=True,
                             check=True).stdout
        samples, rate = soundfile.read(io.BytesIO(wav), dtype="float32")
        samples = np.resize(samples, int(seconds * rate))
        words = TEXT.split()
        transcript = " ".join(words[: max(4, int(len(words) * seconds * rate / len(samples) / 2))])
    else:
        t = np.arange(int(seconds * rate)) / rate
        phase = 2 * np.pi * np.cumsum(140 + 25 * np.sin(2 * np.pi * 4 * t)) / rate
        samples = sum(0.2 / k * np.sin(k * phase) for k in range(1, 8)).astype(np.float32)
        transcript = TEXT
    out = io.BytesIO()
    soundfile.write(out, samples, rate, format="WAV", subtype="PCM_16")
    return out.getvalue(), transcript


def _build(work: Path, hubert_dir: Path | None) -> tuple[Path, Path, Path]:
    """Full-size random v2 checkpoints (and a random HuBERT-base unless given), exported fp32 with hubert."""
    import torch
    from transformers import HubertConfig, HubertModel

    from bundle import Precision
    from exporter.onnx.bundle_export import export_bundle
    from exporter.random_weights import write_random_checkpoints

    if hubert_dir is None:
        hubert_dir = work / "hubert-base"
        torch.manual_seed(0)
        HubertModel(HubertConfig()).eval().save_pretrained(hubert_dir)  # chinese-hubert-base's architecture
    gpt, sovits = write_random_checkpoints(work, "v2")
    export_bundle(gpt, sovits, work / "bundle", (Precision.FP32,), hubert_dir=hubert_dir)
    return work / "bundle", sovits, hubert_dir


def bench_conditioning(bundle_dir: Path | None = None, sovits: Path | None = None, hubert_dir: Path | None = None,
                       runs: int = 7, work_dir: Path | None = None) -> list[list[object]]:
    """Rows of the table (see ``main``); builds full-size random weights in ``work_dir`` (default: a temporary
    directory) when ``bundle_dir`` is None. Each figure is the fastest of ``runs``, ORT and PyTorch taking turns,
    so load from other processes on a shared machine biases neither side."""
    with tempfile.TemporaryDirectory(prefix="relaytts-bench-voices-") as tmp:
        if bundle_dir is None:
            work = work_dir or Path(tmp)
            if (work / "bundle" / "manifest.json").is_file():
                bundle_dir, sovits = work / "bundle", work / "sovits.pth"
                hubert_dir = hubert_dir or work / "hubert-base"
            else:
                bundle_dir, sovits, hubert_dir = _build(work, hubert_dir)
        if sovits is None or hubert_dir is None:
            raise ValueError("--bundle needs --sovits and --hubert (the weights it was exported from)")
        return _measure(bundle_dir, sovits, hubert_dir, runs)


def _measure(bundle_dir: Path, sovits: Path, hubert_dir: Path, runs: int) -> list[list[object]]:
    import torch

    from bundle import Bundle
    from exporter.onnx.hubert_export import load_hubert
    from exporter.sovits import load_sovits
    from exporter.voice_reference import reference_conditioning
    from workers.conditioning import Conditioner
    from workers.frontend import Frontend

    frontend = Frontend()
    frontend.warm_up(["en"])
    conditioner = Conditioner.load(Bundle.open(bundle_dir), frontend)
    model, hubert = load_sovits(sovits), load_hubert(hubert_dir).model
    rows = []
    for seconds in CLIP_SECONDS:
        audio, transcript = _clip(seconds)
        result = conditioner.condition(audio, transcript, "en")  # warm-up (first-run allocations)
        stages: dict[str, list[float]] = {}
        totals, reference = [], []
        with torch.inference_mode():
            reference_conditioning(model, hubert, result.clip.wav16k, result.clip.wav32k)
            for _ in range(runs):
                started = time.perf_counter()
                result = conditioner.condition(audio, transcript, "en")
                totals.append(time.perf_counter() - started)
                for name, value in result.timings.items():
                    stages.setdefault(name, []).append(value)
                started = time.perf_counter()
                reference_conditioning(model, hubert, result.clip.wav16k, result.clip.wav32k)
                reference.append(time.perf_counter() - started)
        ms = {name: min(values) * 1000 for name, values in stages.items()}
        total, ref = min(totals) * 1000, min(reference) * 1000
        graphs = ms["hubert"] + ms["prompt_extractor"] + ms["style"]
        rows.append([seconds, round(ms["decode"], 1), round(ms["frontend"], 1), round(ms["hubert"], 1),
                     round(ms["prompt_extractor"], 1), round(ms["style"], 1), round(total, 1),
                     round(total / 1000 / seconds, 3), round(ref, 1), round(graphs / ref, 2),
                     round(statistics.median(totals) * 1000, 1)])
    return rows


HEADERS = ["clip s", "decode+resample ms", "frontend ms", "hubert ms", "prompt_extractor ms", "style ms",
           "total ms", "total / clip s", "PyTorch ref ms", "ORT graphs / PyTorch", "total ms (median)"]


def main(argv: list[str] | None = None) -> None:
    from relaytts.console import print_table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, help="A bundle with a hubert graph (default: build full-size random)")
    parser.add_argument("--sovits", type=Path, help="The SoVITS .pth the bundle was exported from")
    parser.add_argument("--hubert", type=Path, help="The HuBERT folder the bundle's hubert graph came from")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--work-dir", type=Path, help="Build the full-size weights here and keep them (re-runs reuse)")
    args = parser.parse_args(argv)
    rows = bench_conditioning(args.bundle, args.sovits, args.hubert, args.runs, args.work_dir)
    print_table(HEADERS, rows, title="voice conditioning per voice (worker path, one process)")


if __name__ == "__main__":  # pragma: no cover
    main()
