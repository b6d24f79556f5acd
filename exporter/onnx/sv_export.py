"""Export the ``sv`` graph: ERes2NetV2 speaker embedding for v2Pro / v2ProPlus style vectors.

::

    fbank   float32 [1, T, 80]        Kaldi log-mel fbank of the 16 kHz reference (``workers.sv_features``)
    sv_emb  float32 [1, 20480]        upstream ``forward3``: fused last stage, channel-major flatten, time mean

The front end (32k -> 16k sinc resampling and the fbank) stays in numpy on the worker: it is cheap, exact
in float64, and keeps the graph a plain convolution net. ``T`` is dynamic; the export is checked against
the PyTorch model on speech-like input of 1, 5 and 15 s (a 3-10 s clip plus margin on both sides).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import torch

from bundle.manifest import sha256_file
from exporter.sv import ERes2NetV2, load_sv

__all__ = [
    "PARITY_SECONDS",
    "LoadedSV",
    "SVGraph",
    "export_sv_graph",
    "load_sv_model",
    "sv_parity",
    "sv_variant_report",
]

OPSET: Final = 17
SV_RATE_HZ: Final = 16000
PARITY_SECONDS: Final = (1.0, 5.0, 15.0)
"""Clip lengths the fp32 graph is checked at (the issue asks for dynamic lengths of 1-15 s)."""
VARIANT_MIN_COSINE: Final = 0.999
"""A reduced-precision sv graph is marked validated only when every embedding keeps this cosine to fp32."""


@dataclass(frozen=True)
class LoadedSV:
    """An ERes2NetV2 checkpoint loaded for export."""

    path: Path
    model: ERes2NetV2

    def source(self) -> dict[str, str]:
        """Entry for ``Manifest.sources``."""
        cfg = self.model.config
        return {
            "file": self.path.name,
            "sha256": sha256_file(self.path),
            "info": f"ERes2NetV2 m{cfg.m_channels} split {cfg.width(0)} scale {cfg.scale} expansion "
            f"{cfg.expansion}, forward3 embedding {cfg.embedding_dim}",
        }


class SVGraph(torch.nn.Module):
    """``fbank [1, T, F]`` -> ``sv_emb [1, C * F / 8]``."""

    def __init__(self, model: ERes2NetV2) -> None:
        super().__init__()
        self.model = model
        # The wrapper itself must be in eval mode: torch.onnx.export restores the *wrapper's* mode recursively
        # afterwards, and a training-mode wrapper would leave the BatchNorms updating their statistics.
        self.eval()

    def forward(self, fbank: torch.Tensor) -> torch.Tensor:
        return self.model(fbank)


def load_sv_model(path: str | Path) -> LoadedSV:
    path = Path(path)
    return LoadedSV(path=path, model=load_sv(path))


def example_fbank(seconds: float, generator: torch.Generator) -> torch.Tensor:
    """The fbank of a speech-like 16 kHz signal (harmonics with vibrato plus noise), like a real reference."""
    from workers.sv_features import kaldi_fbank

    samples = int(seconds * SV_RATE_HZ)
    t = torch.arange(samples, dtype=torch.float64) / SV_RATE_HZ
    f0 = 120 + 30 * torch.sin(2 * torch.pi * 2.5 * t)
    phase = 2 * torch.pi * torch.cumsum(f0, 0) / SV_RATE_HZ
    envelope = 0.5 + 0.5 * torch.sin(2 * torch.pi * 1.3 * t) ** 2
    wav = envelope * sum(0.25 / k * torch.sin(k * phase) for k in range(1, 12))
    wav = wav + 0.01 * torch.randn(samples, generator=generator, dtype=torch.float64)
    return torch.from_numpy(kaldi_fbank(wav.numpy()))[None]


def export_sv_graph(sv: LoadedSV, path: Path) -> Path:
    """Write the fp32 ``sv`` graph to ``path`` (dynamic number of fbank frames)."""
    import onnx

    graph = SVGraph(sv.model)
    example = example_fbank(2.0, torch.Generator().manual_seed(0))
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph,
            (example,),
            str(path),
            dynamo=False,
            opset_version=OPSET,
            input_names=["fbank"],
            output_names=["sv_emb"],
            dynamic_axes={"fbank": {1: "frames"}},
        )
    model = onnx.load(str(path))
    cfg = sv.model.config
    onnx.helper.set_model_props(
        model,
        {
            "relaytts.role": "sv",
            "sample_rate_hz": str(SV_RATE_HZ),
            "fbank_bins": str(cfg.feat_dim),
            "sv_dim": str(cfg.embedding_dim),
        },
    )
    onnx.save(model, str(path))
    return path


def sv_parity(sv: LoadedSV, session, seconds: tuple[float, ...] = PARITY_SECONDS, seed: int = 0) -> dict[str, float]:
    """Max abs difference (and the smallest cosine), ORT vs PyTorch, on speech-like fbanks of several lengths."""
    generator = torch.Generator().manual_seed(seed)
    err, cosine = 0.0, 1.0
    with torch.no_grad():
        for length in seconds:
            fbank = example_fbank(length, generator)
            want = sv.model(fbank).numpy()
            got = session.run(["sv_emb"], {"fbank": fbank.numpy()})[0]
            if got.shape != want.shape:
                return {"sv_emb_max_abs": float("inf")}
            err = max(err, float(np.abs(got - want).max()))
            cosine = min(cosine, _cosine(got, want))
    return {"sv_emb_max_abs": err, "sv_emb_min_cosine": cosine}


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.reshape(-1).astype(np.float64), b.reshape(-1).astype(np.float64)
    return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-30))


def sv_variant_report(fp32_path: Path, variant_path: Path) -> tuple[dict[str, float], str | None]:
    """Cosine and error of a reduced-precision sv graph against fp32 on a 5 s fbank, plus size and speed."""
    from bundle.session import create_session

    base, variant = create_session(fp32_path), create_session(variant_path)
    fbank = example_fbank(5.0, torch.Generator().manual_seed(1)).numpy()
    start = time.perf_counter()
    want = base.run(["sv_emb"], {"fbank": fbank})[0]
    base_s = time.perf_counter() - start
    start = time.perf_counter()
    got = variant.run(["sv_emb"], {"fbank": fbank})[0]
    var_s = time.perf_counter() - start
    cosine = _cosine(got, want)
    parity = {
        "sv_emb_cosine_vs_fp32": cosine,
        "sv_emb_max_abs_vs_fp32": float(np.abs(got - want).max()),
        "size_ratio_to_fp32": variant_path.stat().st_size / fp32_path.stat().st_size,
        "speed_ratio_to_fp32": var_s / base_s,
    }
    problem = None
    if cosine < VARIANT_MIN_COSINE:
        problem = f"embedding cosine {cosine:.5f} vs fp32 (< {VARIANT_MIN_COSINE})"
    return parity, problem
