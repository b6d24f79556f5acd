"""Speaker-verification cost per second of reference audio: the ``sv`` graph on ONNX Runtime vs the PyTorch model.

    relaytts bench sv                                   # full-size random ERes2NetV2 (w24 s4 ep4), built here
    relaytts bench sv --sv pretrained_eres2netv2w24s4ep4.ckpt --threads 2 --json sv.json
    relaytts bench sv --bundle DIR_v2ProPlus_with_hubert_and_sv   # + the whole conditioning of a v2ProPlus voice

For reference clips of 3, 6 and 10 s (a harmonic tone with vibrato; the net's cost depends on the length, not
on what is said), each row times the numpy front end (32k -> 16k resampling + Kaldi fbank), the ``sv`` graph and
the PyTorch ``ERes2NetV2.forward3`` on the same fbank, both with ``threads`` intra-op threads, the fastest of
``runs`` with the two taking turns (so load from other processes biases neither). Figures are ratios and ms per
second of audio, as absolute times on shared machines drift. Nothing is downloaded.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any, Final

import numpy as np

__all__ = ["CLIP_SECONDS", "HEADERS", "bench_sv", "bench_sv_conditioning"]

CLIP_SECONDS: Final = (3.0, 6.0, 10.0)
HEADERS: Final = [
    "clip s",
    "front end ms",
    "sv ORT ms",
    "sv PyTorch ms",
    "ORT / PyTorch",
    "ORT ms per audio s",
    "max abs diff",
]
CONDITIONING_HEADERS: Final = [
    "clip s",
    "decode ms",
    "frontend ms",
    "hubert ms",
    "prompt_extractor ms",
    "sv ms",
    "style ms",
    "total ms",
    "total / clip s",
]


def _tone(seconds: float, rate: int = 32000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    phase = 2 * np.pi * np.cumsum(140 + 25 * np.sin(2 * np.pi * 4 * t)) / rate
    return (sum(0.2 / k * np.sin(k * phase) for k in range(1, 8)) * (0.6 + 0.4 * np.sin(2 * np.pi * t))).astype(
        np.float32
    )


def bench_sv(sv_path: Path | None = None, threads: int = 2, runs: int = 5) -> tuple[list[list[object]], dict]:
    """Rows of the sv table and a description of what was measured (for ``--json``)."""
    import torch

    from bundle.session import SessionOptions, create_session
    from exporter.onnx.sv_export import LoadedSV, export_sv_graph, load_sv_model
    from exporter.random_weights import random_sv
    from workers.sv_features import sv_fbank

    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory(prefix="relaytts-bench-sv-") as tmp:
        if sv_path is None:
            sv = LoadedSV(path=Path(tmp) / "random-w24.ckpt", model=random_sv())
            source = "random ERes2NetV2 w24 s4 ep4 (upstream's full size)"
        else:
            sv = load_sv_model(sv_path)
            source = str(sv_path)
        graph = export_sv_graph(sv, Path(tmp) / "sv.onnx")
        session = create_session(graph, SessionOptions(device="cpu", intra_op_threads=threads))
        params = sum(p.numel() for p in sv.model.parameters())
        rows = []
        with torch.inference_mode():
            for seconds in CLIP_SECONDS:
                wav = _tone(seconds)
                fbank = sv_fbank(wav)
                session.run(["sv_emb"], {"fbank": fbank})  # warm-up
                sv.model(torch.from_numpy(fbank))
                front, ort, ref = [], [], []
                for _ in range(runs):
                    started = time.perf_counter()
                    fbank = sv_fbank(wav)
                    front.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    got = session.run(["sv_emb"], {"fbank": fbank})[0]
                    ort.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    want = sv.model(torch.from_numpy(fbank)).numpy()
                    ref.append(time.perf_counter() - started)
                f_ms, o_ms, r_ms = min(front) * 1000, min(ort) * 1000, min(ref) * 1000
                rows.append(
                    [
                        seconds,
                        round(f_ms, 1),
                        round(o_ms, 1),
                        round(r_ms, 1),
                        round(o_ms / r_ms, 2),
                        round(o_ms / seconds, 1),
                        float(f"{np.abs(got - want).max():.3g}"),
                    ]
                )
    meta = {"sv_source": source, "parameters": params, "threads": threads, "runs": runs}
    return rows, meta


def bench_sv_conditioning(bundle_dir: Path, runs: int = 3, threads: int = 2) -> list[list[object]]:
    """The worker's whole ``Conditioner.condition`` on a v2Pro/v2ProPlus bundle (hubert + sv graphs), per clip."""
    from bundle import Bundle, SessionOptions
    from exporter.bench_conditioning import _clip
    from workers.conditioning import Conditioner
    from workers.frontend import Frontend

    frontend = Frontend()
    frontend.warm_up(["en"])
    bundle = Bundle.open(bundle_dir)
    conditioner = Conditioner.load(bundle, frontend, SessionOptions(device="cpu", intra_op_threads=threads))
    rows = []
    for seconds in CLIP_SECONDS:
        audio, transcript = _clip(seconds)
        conditioner.condition(audio, transcript, "en")  # warm-up
        stages: dict[str, list[float]] = {}
        totals = []
        for _ in range(runs):
            started = time.perf_counter()
            result = conditioner.condition(audio, transcript, "en")
            totals.append(time.perf_counter() - started)
            for name, value in result.timings.items():
                stages.setdefault(name, []).append(value)
        ms = {name: min(values) * 1000 for name, values in stages.items()}
        total = min(totals) * 1000
        rows.append(
            [
                seconds,
                *(
                    round(ms.get(n, 0.0), 1)
                    for n in ("decode", "frontend", "hubert", "prompt_extractor", "sv", "style")
                ),
                round(total, 1),
                round(total / 1000 / seconds, 3),
            ]
        )
    return rows


def write_json(
    path: Path, sv_rows: list[list[object]], meta: dict[str, Any], conditioning_rows: list[list[object]] | None
) -> None:
    """The tables as JSON: one object per row, keyed by the column headers."""
    document: dict[str, Any] = meta | {"sv_graph": [dict(zip(HEADERS, r, strict=True)) for r in sv_rows]}
    if conditioning_rows is not None:
        document["conditioning"] = [dict(zip(CONDITIONING_HEADERS, r, strict=True)) for r in conditioning_rows]
    path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
