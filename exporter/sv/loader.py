"""Reading upstream's ``pretrained_eres2netv2w24s4ep4.ckpt`` into :class:`ERes2NetV2` (float32, eval).

Upstream's file is a bare ``torch.save`` of the state dict (no ``weight``/``config`` wrapper, no prefix),
loaded with ``ERes2NetV2(baseWidth=24, scale=4, expansion=4)`` and a strict ``load_state_dict``. Nothing in
the file names its sizes, so they are read from the tensor shapes (stem width, splits per block, split
width, expansion, blocks per stage, fbank bins, head width) and then checked by the strict loader:
a reduced-width file (the fixtures) loads exactly like the full one, and a file of another architecture
is refused with the keys that disagree. fp16 and fp32 files load alike (cast to float32).
"""

from __future__ import annotations

import io
import pickle
import re
import zipfile
from pathlib import Path

import torch

from exporter.checkpoint_io import examples, load_state_strict, read_file_bytes
from relaytts.errors import CheckpointError

from .model import ERes2NetV2, ERes2NetV2Config

__all__ = ["infer_config", "load_sv", "read_sv_state"]

_STAGE_BLOCK = re.compile(r"^layer([1-4])\.(\d+)\.")


def read_sv_state(path: str | Path) -> dict[str, torch.Tensor]:
    """The state dict stored in ``path``; one ``CheckpointError`` naming the file for anything else."""
    path = Path(path)
    data = read_file_bytes(path, "the ERes2NetV2 .ckpt file")
    if data[:2] != b"PK" or not zipfile.is_zipfile(io.BytesIO(data)):
        raise CheckpointError(path, "is not a torch checkpoint (expected a torch.save zip archive)")
    try:
        payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unpickling failed"
        raise CheckpointError(path, f"holds objects that are not safe to load ({first})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise CheckpointError(path, f"is truncated or corrupt ({type(exc).__name__}: {exc})") from None
    if isinstance(payload, dict) and "weight" in payload and isinstance(payload["weight"], dict):
        raise CheckpointError(
            path,
            "is a GPT-SoVITS GPT or SoVITS checkpoint ('weight' wrapper), not the "
            "speaker-verification net; pass pretrained_eres2netv2w24s4ep4.ckpt as --sv",
        )
    if not isinstance(payload, dict) or not payload:
        raise CheckpointError(path, f"holds a {type(payload).__name__}, not an ERes2NetV2 state dict")
    non_tensors = [k for k, v in payload.items() if not isinstance(v, torch.Tensor)]
    if non_tensors:
        raise CheckpointError(path, f"has non-tensor entries: {examples([str(k) for k in non_tensors])}")
    return dict(payload)


def infer_config(state: dict[str, torch.Tensor], path: Path) -> ERes2NetV2Config:
    """The constructor arguments that reproduce ``state``'s shapes; ``CheckpointError`` when it is not ERes2NetV2."""
    needed = ("conv1.weight", "layer1.0.conv1.weight", "layer1.0.conv3.weight", "layer3_ds.weight", "seg_1.weight")
    missing = [k for k in needed if k not in state]
    if missing:
        raise CheckpointError(path, f"is not an ERes2NetV2 state dict (no {', '.join(missing)})")
    m = int(state["conv1.weight"].shape[0])
    scale = sum(1 for k in state if re.fullmatch(r"layer1\.0\.convs\.\d+\.weight", k))
    width = int(state["layer1.0.convs.0.weight"].shape[0]) if scale else 0
    expansion = int(state["layer1.0.conv3.weight"].shape[0]) // m
    blocks = [0, 0, 0, 0]
    for key in state:
        match = _STAGE_BLOCK.match(key)
        if match:
            stage, index = int(match.group(1)) - 1, int(match.group(2))
            blocks[stage] = max(blocks[stage], index + 1)
    if not scale or not expansion or not all(blocks):
        raise CheckpointError(path, "is not an ERes2NetV2 state dict (incomplete stages)")
    seg_in = int(state["seg_1.weight"].shape[1])
    rows = seg_in // (2 * m * 8 * expansion)
    config = ERes2NetV2Config(
        m_channels=m,
        feat_dim=rows * 8,
        embedding_size=int(state["seg_1.weight"].shape[0]),
        num_blocks=tuple(blocks),
        # The split width is floor(m * base_width / 64) in stage 1; with m = 64 this is base_width itself.
        base_width=width * 64.0 / m,
        scale=scale,
        expansion=expansion,
        two_emb_layer="seg_2.weight" in state,
    )
    return config


def load_sv(path: str | Path) -> ERes2NetV2:
    """Read an upstream ERes2NetV2 ``.ckpt`` into a float32 :class:`ERes2NetV2` in eval mode.

    Raises ``CheckpointError`` (naming the file) for unreadable files, GPT-SoVITS checkpoints and state
    dicts whose tensors do not fit the architecture their own shapes imply.
    """
    path = Path(path)
    state = read_sv_state(path)
    config = infer_config(state, path)
    if config.feat_dim != 80:
        raise CheckpointError(path, f"expects {config.feat_dim} fbank bins; GPT-SoVITS feeds 80")
    # BatchNorm's num_batches_tracked is int64 in the file and in the model: keep it out of the float cast.
    counters = {k: v for k, v in state.items() if k.endswith("num_batches_tracked")}
    model = ERes2NetV2(config)
    model = load_state_strict(
        model,
        state,
        path,
        f"an ERes2NetV2 (m {config.m_channels}, split width "
        f"{config.width(0)}, scale {config.scale}, expansion {config.expansion})",
    )
    with torch.no_grad():
        for key, value in counters.items():
            model.get_buffer(key).copy_(value)
    return model.float().eval()
