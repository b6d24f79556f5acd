"""Randomly initialised GPT-SoVITS checkpoints in upstream's on-disk formats.

For benchmarks, the demo bundle and tests that need full-size weights without downloading any:
the files are written exactly as upstream writes them (fp16, ``model.`` prefix for the GPT,
weight-norm pairs and quantizer buffers for SoVITS, version tag bytes for v2Pro/v2ProPlus), so
they go through the same loaders as a user's files. The audio they make is noise-like.
"""

from __future__ import annotations

import dataclasses
import io
import re
from pathlib import Path

import torch

from exporter.sovits.config import SoVITSConfig
from exporter.sovits.model import SoVITS
from exporter.sv.model import ERes2NetV2, ERes2NetV2Config
from exporter.t2s.config import T2SConfig
from exporter.t2s.loader import save_t2s_checkpoint
from exporter.t2s.model import Text2SemanticDecoder

__all__ = [
    "random_sovits",
    "random_sv",
    "random_t2s",
    "save_sovits_checkpoint",
    "save_sv_checkpoint",
    "write_random_checkpoints",
    "write_random_sv",
]

#: Convolutions upstream keeps under ``torch.nn.utils.weight_norm`` (stored as weight_g / weight_v).
WEIGHT_NORMED = re.compile(
    r"^(flow\.flows\.\d+\.enc\.(in_layers\.\d+|res_skip_layers\.\d+|cond_layer)"
    r"|dec\.(ups\.\d+|resblocks\.\d+\.convs[12]\.\d+))\.weight$"
)
VERSION_TAGS = {"v2Pro": b"05", "v2ProPlus": b"06"}
#: Upstream presets for the SoVITS variants (s2.json, s2v2Pro.json, s2v2ProPlus.json).
SOVITS_PRESETS = {
    "v2": {},
    "v2Pro": {"gin_channels": 1024},
    "v2ProPlus": {"gin_channels": 1024, "upsample_initial_channel": 768, "upsample_kernel_sizes": (20, 16, 8, 2, 2)},
}


def random_t2s(config: T2SConfig | None = None, seed: int = 0) -> Text2SemanticDecoder:
    """A T2S model with scaled random weights (a deep post-LN stack stays input-dependent)."""
    config = config or T2SConfig()
    torch.manual_seed(seed)
    model = Text2SemanticDecoder(config)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("alpha"):
                param.fill_(1.0)
            elif "word_embeddings" in name:
                param.normal_(0, 0.5)
            elif "norm" in name:
                param.fill_(1.0 if name.endswith("weight") else 0.0)
            elif name.endswith("bias"):
                param.normal_(0, 0.02)
            else:
                param.normal_(0, param.shape[1] ** -0.5)
                if name.endswith(("out_proj.weight", "linear2.weight")):
                    param.mul_((2 * config.num_layers) ** -0.5)
    return model.eval()


def random_sovits(version: str = "v2", seed: int = 0, **overrides: object) -> SoVITS:
    """A SoVITS model of upstream's preset size for ``version`` (``overrides`` change sizes)."""
    config = SoVITSConfig(version=version, **(SOVITS_PRESETS[version] | overrides))
    torch.manual_seed(seed)
    return SoVITS(config).eval()


def _sovits_checkpoint_config(config: SoVITSConfig) -> dict:
    fields = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    data_keys = ("sampling_rate", "filter_length", "hop_length", "win_length")
    data = {k: fields[k] for k in data_keys} | {"max_wav_value": 32768.0, "n_speakers": 300}
    model = {k: list(v) if isinstance(v, tuple) else v for k, v in fields.items() if k not in data_keys}
    model["resblock_dilation_sizes"] = [list(d) for d in config.resblock_dilation_sizes]
    model |= {"resblock": "1", "semantic_frame_rate": "25hz", "freeze_quantizer": True}
    return {"data": data, "model": model, "version": config.version}


def save_sovits_checkpoint(model: SoVITS, path: str | Path, info: str = "1epoch_1iteration") -> Path:
    """Write ``model`` as upstream's SoVITS trainer does (weight-norm pairs, fp16, version tag)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    weight: dict[str, torch.Tensor] = {}
    for key, value in model.state_dict().items():
        if WEIGHT_NORMED.match(key):
            norm = value.reshape(value.shape[0], -1).norm(dim=1).reshape((-1,) + (1,) * (value.dim() - 1))
            weight[key + "_g"] = norm.half()
            weight[key + "_v"] = value.half()
        else:
            weight[key] = value.half()
    codebook = "quantizer.vq.layers.0._codebook."
    embed = weight[codebook + "embed"]
    weight[codebook + "inited"] = torch.ones(1, dtype=torch.float16)
    weight[codebook + "cluster_size"] = torch.ones(embed.shape[0], dtype=torch.float16)
    weight[codebook + "embed_avg"] = embed.clone()
    buffer = io.BytesIO()
    torch.save({"weight": weight, "config": _sovits_checkpoint_config(model.config), "info": info}, buffer)
    data = buffer.getvalue()
    tag = VERSION_TAGS.get(model.config.version)
    path.write_bytes((tag + data[2:]) if tag else data)
    return path


def write_random_checkpoints(out_dir: str | Path, version: str = "v2", seed: int = 0,
                             t2s_config: T2SConfig | None = None, **sovits_overrides: object) -> tuple[Path, Path]:
    """Write ``gpt.ckpt`` and ``sovits.pth`` (full upstream sizes unless configs say otherwise)."""
    out_dir = Path(out_dir)
    gpt = save_t2s_checkpoint(random_t2s(t2s_config, seed), out_dir / "gpt.ckpt", info="random")
    sovits = save_sovits_checkpoint(random_sovits(version, seed + 1, **sovits_overrides), out_dir / "sovits.pth",
                                    info="random")
    return gpt, sovits


def random_sv(config: ERes2NetV2Config | None = None, seed: int = 0) -> ERes2NetV2:
    """An ERes2NetV2 (default: upstream's w24 s4 ep4 sizes) with upstream's default init, in eval mode.

    The residual branch's last BatchNorm is scaled down (x0.2) as the fixtures do: with unit gains a random
    16-block stack drifts into the blocks' clip at 20, and every embedding looks alike.
    """
    torch.manual_seed(seed)
    model = ERes2NetV2(config or ERes2NetV2Config())
    with torch.no_grad():
        for name, module in model.named_modules():
            if name.endswith(("bn3", "local_att.4")):
                module.weight.mul_(0.2)
    return model.eval()


def save_sv_checkpoint(model: ERes2NetV2, path: str | Path) -> Path:
    """Write ``model`` as upstream ships ``pretrained_eres2netv2w24s4ep4.ckpt``: a bare ``torch.save`` state dict."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    return path


def write_random_sv(out_dir: str | Path, seed: int = 0, config: ERes2NetV2Config | None = None) -> Path:
    """Write ``sv.ckpt``: a random ERes2NetV2 (for v2Pro / v2ProPlus demo and test bundles)."""
    return save_sv_checkpoint(random_sv(config, seed), Path(out_dir) / "sv.ckpt")
