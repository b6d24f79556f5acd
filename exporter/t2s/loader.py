"""Load (and write) T2S ``.ckpt`` files in upstream's on-disk format."""

from __future__ import annotations

from pathlib import Path

import torch

from exporter.checkpoint_io import RawCheckpoint, load_state_strict, read_checkpoint
from exporter.t2s.config import T2SConfig
from exporter.t2s.model import Text2SemanticDecoder
from relaytts.errors import CheckpointError, UnsupportedModelVersion

__all__ = ["load_t2s", "save_t2s_checkpoint"]

PREFIX = "model."
V1_PHONEME_ROWS = 512
SOVITS_MARKERS = ("enc_p.", "dec.", "flow.", "ref_enc.", "quantizer.")


def _strip_prefix(raw: RawCheckpoint) -> dict[str, torch.Tensor]:
    keys = list(raw.weights)
    if raw.header_version is not None or any(k.startswith(SOVITS_MARKERS) for k in keys):
        what = f"SoVITS {raw.header_version}" if raw.header_version else "SoVITS"
        raise CheckpointError(raw.path, f"is a {what} checkpoint, not a GPT (T2S) checkpoint; pass it as --sovits")
    if not all(k.startswith(PREFIX) for k in keys):
        odd = [k for k in keys if not k.startswith(PREFIX)][:3]
        raise CheckpointError(
            raw.path, f"is not a GPT (T2S) checkpoint: keys without the '{PREFIX}' prefix, e.g. {odd}"
        )
    return {k[len(PREFIX) :]: v for k, v in raw.weights.items()}


def load_t2s(source: str | Path | RawCheckpoint) -> Text2SemanticDecoder:
    """Read an upstream GPT ``.ckpt`` into a float32 :class:`Text2SemanticDecoder` in eval mode.

    The architecture comes from the file's own config; every tensor shape is checked against it.
    v1 checkpoints (512-symbol phoneme table) are refused with a message naming the version.
    """
    raw = source if isinstance(source, RawCheckpoint) else read_checkpoint(source)
    weights = _strip_prefix(raw)
    text_rows = weights.get("ar_text_embedding.word_embeddings.weight")
    if text_rows is not None and text_rows.shape[0] == V1_PHONEME_ROWS:
        raise UnsupportedModelVersion(
            raw.path, "is a v1 GPT checkpoint (512-symbol phoneme table); relaytts supports v2, v2Pro and v2ProPlus"
        )
    config = T2SConfig.from_checkpoint_config(raw.config)
    if config.eos != config.vocab_size - 1:
        raise CheckpointError(raw.path, f"config has EOS {config.eos} but vocab_size {config.vocab_size}")
    model = load_state_strict(Text2SemanticDecoder(config), weights, raw.path, "a T2S model built from its own config")
    return model.eval()


def save_t2s_checkpoint(model: Text2SemanticDecoder, path: str | Path, info: str = "GPT-e1") -> Path:
    """Write ``model`` as upstream does (fp16, ``model.`` prefix, config dict) — for tests and demos."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    weight = {PREFIX + k: v.detach().half() for k, v in model.state_dict().items()}
    torch.save({"weight": weight, "config": model.config.to_checkpoint_config(), "info": info}, path)
    return path
