"""The one ONNX Runtime session factory: providers, threads, and no silent CPU fallback."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from relaytts.errors import BundleError

if TYPE_CHECKING:
    import onnxruntime

__all__ = ["SessionOptions", "available_providers", "create_session", "provider_options"]

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
    cudnn_conv_algo_search: str = "HEURISTIC"
    """CUDA only: how cuDNN picks a convolution algorithm for each new input shape. ORT's default,
    EXHAUSTIVE, benchmarks every algorithm per shape (~2.4 s per new shape for the vocoder on an H200:
    streaming windows of new lengths then run slower than real time); HEURISTIC asks cuDNN's heuristics
    at no cost; DEFAULT takes the implicit-GEMM algorithm."""


def available_providers() -> list[str]:
    import onnxruntime as ort

    return list(ort.get_available_providers())


CUDNN_CONV_ALGO_SEARCH = ("EXHAUSTIVE", "HEURISTIC", "DEFAULT")


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


def provider_options(providers: list[str], options: SessionOptions) -> list[str | tuple[str, dict[str, str]]]:
    """``providers`` with the CUDA provider's options attached (CPU needs none)."""
    if options.cudnn_conv_algo_search not in CUDNN_CONV_ALGO_SEARCH:
        raise BundleError(
            f"`cudnn_conv_algo_search` must be one of {', '.join(CUDNN_CONV_ALGO_SEARCH)}; "
            f"given {options.cudnn_conv_algo_search!r}"
        )
    cuda = {
        "cudnn_conv_algo_search": options.cudnn_conv_algo_search,
        # pad-free 1-D convolutions (the vocoder) may use cuDNN's larger-workspace algorithms
        "cudnn_conv_use_max_workspace": "1",
        # inputs copied in and outputs copied out on the stream that computes: no extra sync per run
        "do_copy_in_default_stream": "1",
    }
    return [(name, cuda) if name == CUDA else name for name in providers]


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
        session = ort.InferenceSession(str(path), sess_options=so, providers=provider_options(providers, options))
    except Exception as exc:  # ORT raises its own Fail/InvalidGraph types
        raise BundleError(f"{path}: ONNX Runtime cannot load this graph ({str(exc).splitlines()[0]})") from None
    if providers[0] == CUDA and session.get_providers()[0] != CUDA:
        raise BundleError(f"{path}: CUDA provider requested but ONNX Runtime fell back to {session.get_providers()}")
    return session
