"""The one ONNX Runtime session factory: providers, threads, and no silent CPU fallback."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from relaytts.errors import BundleError

if TYPE_CHECKING:
    import onnxruntime

__all__ = ["SessionOptions", "available_providers", "create_session"]

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"


@dataclass(frozen=True)
class SessionOptions:
    """How to run a graph."""

    device: str = "auto"
    """``auto`` (CUDA when onnxruntime-gpu sees a GPU, else CPU), ``cpu`` or ``cuda``."""
    intra_op_threads: int = 0
    """Threads inside one operator; 0 lets ONNX Runtime choose (one per physical core)."""
    inter_op_threads: int = 1
    prepack_weights: bool | None = None
    """Let ONNX Runtime keep a second, re-laid-out copy of MatMul weights. None = only for int8 graphs:
    on the full v2 T2S graph prepacking makes fp32 ~12% faster but holds its 310 MB twice, while the
    int8 graph needs it (11.5 -> 6.4 ms per token) and its copy is a quarter of the size."""


def available_providers() -> list[str]:
    import onnxruntime as ort

    return list(ort.get_available_providers())


def _providers_for(device: str) -> list[str]:
    available = available_providers()
    if device == "cpu":
        return [CPU]
    if device == "cuda":
        if CUDA not in available:
            raise BundleError(
                "device 'cuda' asked for, but this onnxruntime has no CUDA provider "
                f"(available: {', '.join(available)}); install relaytts[gpu]"
            )
        return [CUDA, CPU]
    if device == "auto":
        return [CUDA, CPU] if CUDA in available else [CPU]
    raise BundleError(f"`device` must be one of auto, cpu, cuda; given {device!r}")


def create_session(
    path: str | Path, options: SessionOptions | None = None, *, quantized: bool = False
) -> onnxruntime.InferenceSession:
    """Open one graph (``quantized``: an int8 variant). Asking for CUDA and getting CPU is an error."""
    import onnxruntime as ort

    options = options or SessionOptions()
    providers = _providers_for(options.device)
    so = ort.SessionOptions()
    so.intra_op_num_threads = options.intra_op_threads
    so.inter_op_num_threads = options.inter_op_threads
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3  # warnings about unused initializers etc. are noise for users
    prepack = quantized if options.prepack_weights is None else options.prepack_weights
    if not prepack:
        so.add_session_config_entry("session.disable_prepacking", "1")
    try:
        session = ort.InferenceSession(str(path), sess_options=so, providers=providers)
    except Exception as exc:  # ORT raises its own Fail/InvalidGraph types
        raise BundleError(f"{path}: ONNX Runtime cannot load this graph ({str(exc).splitlines()[0]})") from None
    if providers[0] == CUDA and session.get_providers()[0] != CUDA:
        raise BundleError(f"{path}: CUDA provider requested but ONNX Runtime fell back to {session.get_providers()}")
    return session
