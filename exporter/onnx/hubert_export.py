"""Export the optional ``hubert`` graph: chinese-hubert-base content features, as upstream feeds SoVITS.

Upstream registers a voice by running ``HubertModel`` (``TencentGameMate/chinese-hubert-base``, a
Hugging Face folder) on the raw 16 kHz reference waveform in [-1, 1] (no ``Wav2Vec2FeatureExtractor``
at inference), with 9600 zeros appended, and keeps ``last_hidden_state`` transposed to channels-first
(spec §1.2). The prompt extractor then turns those 50 Hz frames into prompt semantic tokens.

The graph is exactly that call::

    wav   float32 [1, N]          16 kHz mono samples (the caller appends the silence)
    ssl   float32 [1, 768, T50]   last_hidden_state^T, T50 = floor((N - 400) / 320) + 1

No attention mask (batch 1, nothing padded); ``N`` is dynamic. The whole model goes into the file:
every layer contributes to ``last_hidden_state``.

``transformers`` is imported lazily: exporting a bundle without ``--hubert`` does not need it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import torch

from bundle.manifest import sha256_file
from relaytts.errors import InvalidArgument

__all__ = [
    "HUBERT_RATE_HZ",
    "HubertExport",
    "LoadedHubert",
    "PARITY_SAMPLES",
    "SSL_DIM",
    "export_hubert",
    "export_hubert_graph",
    "hubert_parity",
    "load_hubert",
]

OPSET: Final = 17
SSL_DIM: Final = 768
"""Feature width SoVITS' ``ssl_proj`` reads (chinese-hubert-base's hidden size)."""
HUBERT_RATE_HZ: Final = 16000
FRAME_HOP_SAMPLES: Final = 320
"""Product of the feature encoder's conv strides: 50 frames per second at 16 kHz."""
#: Input lengths (samples) of the parity check: 0.25 s, the shortest clip (3 s + 9600 zeros) plus an odd
#: remainder, and the longest (10 s + 9600 zeros).
PARITY_SAMPLES: Final = (4000, 57_677, 169_600)
WEIGHT_FILES: Final = ("model.safetensors", "pytorch_model.bin")


@dataclass(frozen=True)
class LoadedHubert:
    """A HuBERT checkpoint folder loaded for export."""

    model_dir: Path
    model: Any
    """``transformers.HubertModel`` in eval mode, fp32."""
    weights_file: Path

    @property
    def num_layers(self) -> int:
        return int(self.model.config.num_hidden_layers)

    def source(self) -> dict[str, str]:
        """Entry for ``Manifest.sources``."""
        return {
            "file": f"{self.model_dir.name}/{self.weights_file.name}",
            "sha256": sha256_file(self.weights_file),
            "info": f"HuBERT {self.num_layers} layers, hidden {SSL_DIM}, features = last_hidden_state",
        }


@dataclass(frozen=True)
class HubertExport:
    """What ``export_hubert`` wrote and measured."""

    graph: Path
    parity: dict[str, float]


def load_hubert(model_dir: str | Path) -> LoadedHubert:
    """Load a local ``HubertModel`` folder (config.json + weights) in fp32; never downloads."""
    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise InvalidArgument(f"{model_dir}: not a Hugging Face model folder (no config.json)")
    weights = next((model_dir / name for name in WEIGHT_FILES if (model_dir / name).is_file()), None)
    if weights is None:
        raise InvalidArgument(f"{model_dir}: no {' or '.join(WEIGHT_FILES)}")
    from transformers import HubertConfig, HubertModel
    from transformers.utils import logging as hf_logging

    try:
        config = HubertConfig.from_pretrained(model_dir, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise InvalidArgument(f"{model_dir}: unreadable config.json ({exc})") from None
    if config.model_type != "hubert":
        raise InvalidArgument(f"{model_dir}: a {config.model_type} model; expected HuBERT (chinese-hubert-base)")
    if config.hidden_size != SSL_DIM:
        raise InvalidArgument(f"{model_dir}: hidden size {config.hidden_size}; SoVITS reads {SSL_DIM}-d features")
    hop = int(np.prod(config.conv_stride))
    if hop != FRAME_HOP_SAMPLES:
        raise InvalidArgument(f"{model_dir}: conv strides multiply to {hop} samples per frame; SoVITS needs "
                              f"{FRAME_HOP_SAMPLES} (50 Hz at 16 kHz)")
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # unused pretraining heads (label_embs_concat, final_proj) are expected
    try:
        model = HubertModel.from_pretrained(model_dir, config=config, local_files_only=True,
                                            attn_implementation="eager", torch_dtype=torch.float32)
    finally:
        hf_logging.set_verbosity(verbosity)
    return LoadedHubert(model_dir=model_dir, model=model.eval(), weights_file=weights)


class HubertFeatures(torch.nn.Module):
    """``wav [1, N]`` -> ``last_hidden_state`` transposed to ``[1, 768, T50]``."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        return self.model(wav).last_hidden_state.transpose(1, 2)


def _reference(hubert: LoadedHubert, wav: torch.Tensor) -> torch.Tensor:
    """What upstream computes, through transformers' own forward."""
    return hubert.model(wav)["last_hidden_state"].transpose(1, 2)


def _example_wav(samples: int, generator: torch.Generator) -> torch.Tensor:
    """Speech-like test input: a few harmonics with vibrato plus noise, in [-1, 1]."""
    t = torch.arange(samples, dtype=torch.float64) / HUBERT_RATE_HZ
    f0 = 120 + 20 * torch.sin(2 * torch.pi * 3 * t)
    phase = 2 * torch.pi * torch.cumsum(f0, 0) / HUBERT_RATE_HZ
    wav = sum(0.3 / k * torch.sin(k * phase) for k in range(1, 8))
    wav = wav + 0.02 * torch.randn(samples, generator=generator, dtype=torch.float64)
    return wav.float().unsqueeze(0)


def export_hubert_graph(hubert: LoadedHubert, path: Path) -> Path:
    """Write the fp32 ``hubert`` graph to ``path``."""
    import onnx

    graph = HubertFeatures(hubert.model).eval()
    example = _example_wav(HUBERT_RATE_HZ, torch.Generator().manual_seed(0))
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about shape arithmetic are expected here
        torch.onnx.export(graph, (example,), str(path), dynamo=False, opset_version=OPSET,
                          input_names=["wav"], output_names=["ssl"],
                          dynamic_axes={"wav": {1: "samples"}, "ssl": {2: "frames"}})
    model = onnx.load(str(path))
    onnx.helper.set_model_props(model, {"relaytts.role": "hubert", "sample_rate_hz": str(HUBERT_RATE_HZ),
                                        "frame_hop_samples": str(FRAME_HOP_SAMPLES), "ssl_dim": str(SSL_DIM)})
    onnx.save(model, str(path))
    return path


def hubert_parity(hubert: LoadedHubert, session, lengths: tuple[int, ...] = PARITY_SAMPLES,
                  seed: int = 0) -> dict[str, float]:
    """Max / mean abs difference, ORT vs transformers' ``last_hidden_state``, on speech-like input."""
    generator = torch.Generator().manual_seed(seed)
    errors: list[np.ndarray] = []
    with torch.no_grad():
        for samples in lengths:
            wav = _example_wav(samples, generator)
            want = _reference(hubert, wav).numpy()
            got = session.run(["ssl"], {"wav": wav.numpy()})[0]
            if got.shape != want.shape:
                raise AssertionError(f"hubert graph gave {got.shape} for {samples} samples; expected {want.shape}")
            errors.append(np.abs(got - want).ravel())
    err = np.concatenate(errors)
    return {"ssl_max_abs": float(err.max()), "ssl_mean_abs": float(err.mean())}


def export_hubert(model_dir: str | Path, out_path: str | Path) -> HubertExport:
    """Load ``model_dir``, write ``out_path`` and measure it with ONNX Runtime (the caller judges the figures)."""
    from bundle.session import SessionOptions, create_session

    hubert = load_hubert(model_dir)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    export_hubert_graph(hubert, out_path)
    parity = hubert_parity(hubert, create_session(out_path, SessionOptions(device="cpu")))
    return HubertExport(graph=out_path, parity=parity)
