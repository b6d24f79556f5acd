"""Reduced-precision copies of an fp32 graph, written so every onnxruntime the pyproject allows loads them.

* int8, T2S: dynamic quantization of the MatMul/Gemm weights (per-channel int8 weights, activations
  quantized on the fly). Decoding on CPUs is bound by reading weights: a quarter of the bytes.
* int8, vocoder: static quantization (QDQ) of the Conv nodes with activation ranges calibrated on
  example inputs. The vocoder is convolution-bound, and dynamic quantization turns its convolutions
  into ConvInteger, which ONNX Runtime's CPU provider runs 4x slower than fp32; QDQ pairs fuse into
  QLinearConv. Quantizing ConvTranspose and MatMul too was slower (0.78x fp32 against 0.62x for Conv
  only, full-size v2, 2 cores) with a lower SNR (38 against 41 dB).
* fp16: weights and most activations in half precision for GPUs, with inputs/outputs kept fp32 and
  the numerically fragile ops (normalisation, softmax, exp/log, reductions) left in fp32.

Version robustness: converters name the nodes they insert after tensor names, and some versions give
two Cast nodes the same name (onnxruntime 1.30's float16 converter with torch 2.11 exports:
``/ar_text_position/Mul_output_0_cast_to_fp32_node`` twice), which ONNX Runtime refuses to load. Every
variant therefore goes through :func:`unique_node_names` before it is saved, whatever the converter
did. Each variant is then loaded by ONNX Runtime during the export (its parity report), so a file that
the installed version refuses never ships as validated.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import onnx

__all__ = ["FP16_KEEP_FP32_OPS", "to_fp16", "to_int8", "to_int8_static", "unique_node_names"]

FP16_KEEP_FP32_OPS = [
    "LayerNormalization",
    "ReduceMean",
    "ReduceSum",
    "Softmax",
    "Exp",
    "Log",
    "Pow",
    "Sqrt",
    "Div",
    "Sin",
    "Cos",
    "Range",
    "CumSum",
    "ArgMin",
    "ArgMax",
]


def _graphs(graph: onnx.GraphProto) -> Iterator[onnx.GraphProto]:
    """``graph`` and every subgraph (If/Loop/Scan bodies), depth first."""
    from onnx import AttributeProto

    yield graph
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == AttributeProto.GRAPH:
                yield from _graphs(attr.g)
            elif attr.type == AttributeProto.GRAPHS:
                for sub in attr.graphs:
                    yield from _graphs(sub)


def unique_node_names(model: onnx.ModelProto) -> int:
    """Rename nodes so no two share a name across the model and its subgraphs; returns how many changed.

    An empty name becomes ``<op_type>_<n>``; a repeated one gets ``__<n>`` appended (never colliding
    with an existing name). Node names carry no meaning for execution, only for profiling and errors.
    """
    nodes = [node for graph in _graphs(model.graph) for node in graph.node]
    taken = {node.name for node in nodes if node.name}
    seen: set[str] = set()
    renamed = 0
    counter = 0
    for node in nodes:
        if node.name and node.name not in seen:
            seen.add(node.name)
            continue
        base = node.name or node.op_type
        while True:
            counter += 1
            candidate = f"{base}__{counter}"
            if candidate not in taken:
                break
        node.name = candidate
        taken.add(candidate)
        seen.add(candidate)
        renamed += 1
    return renamed


def _save(model: onnx.ModelProto, dst: Path) -> Path:
    import onnx

    unique_node_names(model)
    onnx.save(model, str(dst))
    return dst


def to_fp16(src: Path, dst: Path) -> Path:
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = onnx.load(str(src))
    unique_node_names(model)  # the converter derives new names from these: start from unique ones
    converted = convert_float_to_float16(
        model, keep_io_types=True, op_block_list=FP16_KEEP_FP32_OPS, disable_shape_infer=False
    )
    return _save(converted, Path(dst))


class _Quiet:
    """quantize_* advise pre-processing on the root logger on every call: keep them quiet meanwhile."""

    def __enter__(self) -> None:
        self.level = logging.getLogger().level
        logging.getLogger().setLevel(logging.ERROR)

    def __exit__(self, *exc: object) -> None:
        logging.getLogger().setLevel(self.level)


def to_int8(src: Path, dst: Path) -> Path:
    """Dynamic int8 (MatMul/Gemm weights): for weight-bound graphs (T2S)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _Quiet():
        quantize_dynamic(
            str(src), str(dst), op_types_to_quantize=["MatMul", "Gemm"], weight_type=QuantType.QInt8, per_channel=True
        )
    return _save(onnx.load(str(dst)), Path(dst))


def to_int8_static(src: Path, dst: Path, calibration: Iterable[dict]) -> Path:
    """Static int8 (QDQ) of the Conv nodes, activation ranges from ``calibration`` feeds."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.feeds = iter(calibration)

        def get_next(self) -> dict | None:
            return next(self.feeds, None)

    with _Quiet():
        quantize_static(
            str(src),
            str(dst),
            Reader(),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=["Conv"],
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
        )
    return _save(onnx.load(str(dst)), Path(dst))
