"""Reading an upstream SoVITS ``.pth`` into :class:`SoVITS` (float32, eval).

The version is decided from the file's content (header tag and weights), never from its size:

* header ``03`` / ``04`` (v3/v4 LoRA), ``02`` (v3), ``00`` (v1) -> refused, version named;
* any ``cfm.*`` weight -> v3/v4 (CFM + vocoder back-end) -> refused;
* ``enc_p.text_embedding.weight`` with 322 rows -> v1 -> refused;
* ``sv_emb.weight`` present -> Pro family; the generator decides which one (first upsampling kernel
  20 -> v2ProPlus, else v2Pro). A ``05``/``06`` tag is checked against that: a Pro tag on a file
  without the speaker branch is an error; a ``05`` tag on ProPlus-shaped weights (or ``06`` on
  Pro-shaped ones) loads as what the weights are, with a warning -- both run the same graph, and
  the label must describe the weights that will actually run;
* otherwise v2.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import torch

from exporter.checkpoint_io import RawCheckpoint, examples, load_state_strict, read_checkpoint
from relaytts.errors import CheckpointError, UnsupportedModelVersion

from .config import SoVITSConfig
from .model import SoVITS

__all__ = ["detect_version", "fold_weight_norm", "load_sovits"]

log = logging.getLogger(__name__)

V1_SYMBOL_ROWS = 322
PROPLUS_FIRST_UP_KERNEL = 20

#: Weights upstream files carry that inference never reads; dropped silently.
#: ``enc_q.*`` is the training-only posterior encoder (present in some pretrained files); the
#: quantizer's ``embed_avg`` / ``cluster_size`` / ``inited`` are EMA and k-means-init state.
_TRAINING_ONLY_PREFIXES = ("enc_q.",)
_TRAINING_ONLY_SUFFIXES = ("._codebook.embed_avg", "._codebook.cluster_size", "._codebook.inited")

_REFUSED_TAGS = {
    "v1": "v1",
    "v3": "v3",
    "v3 LoRA": "v3 (LoRA fine-tune)",
    "v4 LoRA": "v4 (LoRA fine-tune)",
}
_SUPPORTED = "relaytts supports SoVITS v2, v2Pro and v2ProPlus"


def fold_weight_norm(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Replace every ``X.weight_g`` / ``X.weight_v`` pair by ``X.weight = g * v / ||v||`` (float32).

    The norm runs over all dims except dim 0, as ``torch.nn.utils.weight_norm(dim=0)`` does; for a
    ConvTranspose1d dim 0 is the *input*-channel axis (``weight_g`` [C_in, 1, 1]). Other tensors
    are returned unchanged. Raises ``ValueError`` for a half pair or mismatched shapes.
    """
    out: dict[str, torch.Tensor] = {}
    for key, value in weights.items():
        if key.endswith(".weight_v"):
            continue
        if not key.endswith(".weight_g"):
            out[key] = value
            continue
        base = key[: -len("_g")]
        v = weights.get(base + "_v")
        if v is None:
            raise ValueError(f"{key} has no matching {base}_v")
        g = value.float()
        v = v.float()
        if g.shape[0] != v.shape[0] or g.numel() != g.shape[0]:
            raise ValueError(f"{key} {tuple(g.shape)} does not fit {base}_v {tuple(v.shape)}")
        norm = v.reshape(v.shape[0], -1).norm(dim=1).reshape((-1,) + (1,) * (v.dim() - 1))
        out[base] = v * (g.reshape(norm.shape) / norm)
    orphans = [k for k in weights if k.endswith(".weight_v") and k[: -len("_v")] + "_g" not in weights]
    if orphans:
        raise ValueError(f"{orphans[0]} has no matching weight_g")
    return out


def _first_up_kernel(weights: dict[str, torch.Tensor]) -> int | None:
    for key in ("dec.ups.0.weight_v", "dec.ups.0.weight"):
        if key in weights and weights[key].dim() == 3:
            return int(weights[key].shape[-1])
    return None


def detect_version(raw: RawCheckpoint) -> str:
    """``v2`` / ``v2Pro`` / ``v2ProPlus`` from the header tag and the weights; refuses everything else."""
    weights = raw.weights
    if any(k.startswith("model.") for k in weights) and "enc_p.text_embedding.weight" not in weights:
        raise CheckpointError(
            raw.path, "is a GPT (T2S) checkpoint ('model.*' weights), not a SoVITS one; load it with load_t2s"
        )
    tagged = raw.header_version
    if tagged in _REFUSED_TAGS:
        raise UnsupportedModelVersion(
            raw.path, f"is a SoVITS {_REFUSED_TAGS[tagged]} file (header tag {raw.header.decode()!r}); {_SUPPORTED}"
        )
    if any(k.startswith("cfm.") for k in weights):
        raise UnsupportedModelVersion(
            raw.path, f"is a SoVITS v3/v4 model (has 'cfm.*' flow-matching weights); {_SUPPORTED}"
        )
    text = weights.get("enc_p.text_embedding.weight")
    if text is not None and text.dim() == 2 and text.shape[0] == V1_SYMBOL_ROWS:
        raise UnsupportedModelVersion(
            raw.path, f"is a SoVITS v1 model ({V1_SYMBOL_ROWS}-symbol phoneme table); {_SUPPORTED}"
        )
    has_sv = "sv_emb.weight" in weights
    if tagged in ("v2Pro", "v2ProPlus") and not has_sv:
        raise CheckpointError(
            raw.path,
            f"is tagged {tagged} (header {raw.header.decode()!r}) but has no speaker-embedding "
            "weights ('sv_emb.*'); the file is inconsistent",
        )
    if not has_sv:
        return "v2"
    by_weights = "v2ProPlus" if _first_up_kernel(weights) == PROPLUS_FIRST_UP_KERNEL else "v2Pro"
    if tagged in ("v2Pro", "v2ProPlus") and tagged != by_weights:
        log.warning(
            "%s: header tag says %s but the generator weights are %s-shaped; loading as %s",
            raw.path,
            tagged,
            by_weights,
            by_weights,
        )
    return by_weights


def _is_training_only(key: str) -> bool:
    return key.startswith(_TRAINING_ONLY_PREFIXES) or key.endswith(_TRAINING_ONLY_SUFFIXES)


def load_sovits(source: str | Path | RawCheckpoint) -> SoVITS:
    """Read an upstream SoVITS ``.pth`` (v2 / v2Pro / v2ProPlus) into a float32 :class:`SoVITS` in eval mode.

    Raises ``CheckpointError`` (naming the file) for unreadable files, GPT checkpoints, weights that
    do not match the file's own config; ``UnsupportedModelVersion`` for v1, v3, v4 and LoRA files.
    """
    raw = source if isinstance(source, RawCheckpoint) else read_checkpoint(source)
    version = detect_version(raw)
    if not isinstance(raw.config.get("model"), dict):
        raise CheckpointError(raw.path, "has no config['model'] section to build the SoVITS architecture from")
    try:
        config = SoVITSConfig.from_checkpoint_config(raw.config, version)
    except ValueError as exc:
        raise CheckpointError(raw.path, f"has an unusable config: {exc}") from None
    sv_weight = raw.weights.get("sv_emb.weight")
    if config.is_pro and isinstance(sv_weight, torch.Tensor) and sv_weight.dim() == 2:
        # Upstream hard-codes 20480 (ERes2NetV2's forward3 size); reading it keeps narrower test nets loadable.
        config = dataclasses.replace(config, sv_dim=int(sv_weight.shape[1]))

    tensors = {k: v for k, v in raw.weights.items() if not _is_training_only(k)}
    non_tensors = [k for k, v in tensors.items() if not isinstance(v, torch.Tensor)]
    if non_tensors:
        raise CheckpointError(raw.path, f"has non-tensor entries in its state dict: {examples(non_tensors)}")
    try:
        weights = fold_weight_norm(tensors)
    except ValueError as exc:
        raise CheckpointError(raw.path, f"has broken weight-norm tensors: {exc}") from None

    model = load_state_strict(SoVITS(config), weights, raw.path, f"a SoVITS {version} model built from its own config")
    return model.float().eval()
