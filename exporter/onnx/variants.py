"""Reduced-precision copies of an fp32 graph.

* int8: dynamic quantization of the MatMul/Gemm weights (per-channel int8 weights, activations
  quantized on the fly). Meant for the T2S graph on CPUs, where decoding is bound by reading
  weights: a quarter of the bytes.
* fp16: weights and most activations in half precision for GPUs, with inputs/outputs kept fp32 and
  the numerically fragile ops (normalisation, softmax, exp/log, reductions) left in fp32.
"""

from __future__ import annotations

import logging
from pathlib import Path

__all__ = ["FP16_KEEP_FP32_OPS", "to_fp16", "to_int8"]

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


def to_fp16(src: Path, dst: Path) -> Path:
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = onnx.load(str(src))
    converted = convert_float_to_float16(
        model, keep_io_types=True, op_block_list=FP16_KEEP_FP32_OPS, disable_shape_infer=False
    )
    onnx.save(converted, str(dst))
    return dst


def to_int8(src: Path, dst: Path) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # quantize_dynamic advises pre-processing on the root logger every call
    try:
        quantize_dynamic(
            str(src), str(dst), op_types_to_quantize=["MatMul", "Gemm"], weight_type=QuantType.QInt8, per_channel=True
        )
    finally:
        root.setLevel(level)
    return dst
