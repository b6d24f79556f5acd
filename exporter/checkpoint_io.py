"""Reading GPT-SoVITS checkpoint files as upstream writes them.

Both kinds are ``torch.save`` zip archives holding a dict with ``weight`` (the state dict, fp16),
``config`` and ``info``. Two upstream habits need care:

* SoVITS v2Pro/v2ProPlus (and v3/v4 LoRA) files have their first two bytes overwritten with a
  version tag (``05``, ``06``, ``03``, ``04``) instead of the zip magic ``PK``;
* fine-tuned SoVITS files pickle ``config`` as an instance of upstream's ``utils.HParams``.

Files are unpickled with ``weights_only=True``: checkpoints come from strangers, and the restricted
unpickler admits tensors, containers and our ``HParams`` stand-in, nothing that runs code.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from relaytts.errors import CheckpointError

__all__ = ["HEADER_TAGS", "RawCheckpoint", "examples", "load_state_strict", "read_checkpoint"]

ZIP_MAGIC = b"PK"

#: First two bytes of a SoVITS file -> the model version upstream's writer tagged it with.
HEADER_TAGS: dict[bytes, str] = {
    b"00": "v1",
    b"01": "v2",
    b"02": "v3",
    b"03": "v3 LoRA",
    b"04": "v4 LoRA",
    b"05": "v2Pro",
    b"06": "v2ProPlus",
}


class HParams:
    """Stand-in for upstream's ``utils.HParams`` so pickled configs load as plain attributes."""

    def __init__(self, **kwargs: Any) -> None:
        self.__dict__.update(kwargs)

    def to_dict(self) -> dict[str, Any]:
        return {k: _plain(v) for k, v in self.__dict__.items()}


# The restricted unpickler matches globals by "module.qualname"; pretend to be upstream's class.
HParams.__module__ = "utils"


def _plain(value: Any) -> Any:
    """Turn nested HParams / mappings into plain dicts (configs are data, not objects)."""
    if isinstance(value, HParams):
        return value.to_dict()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class RawCheckpoint:
    """The top-level contents of a checkpoint file, before any model-specific interpretation."""

    path: Path
    header: bytes
    """The file's first two bytes: ``PK`` for a plain zip, else an upstream version tag."""
    weights: dict[str, Any]
    """The state dict (``torch.Tensor`` values), exactly as stored."""
    config: dict[str, Any]
    """The training config as plain nested dicts (HParams objects are converted)."""
    info: str

    @property
    def header_version(self) -> str | None:
        """The model version named by a header tag, or None for a plain ``PK`` file."""
        return HEADER_TAGS.get(self.header)


def read_file_bytes(path: Path, expected: str) -> bytes:
    """The bytes of ``path``; a missing, directory or unreadable path is one ``CheckpointError`` naming it."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(path, "no such file") from None
    except IsADirectoryError:
        raise CheckpointError(path, f"is a directory, expected {expected}") from None
    except OSError as exc:
        raise CheckpointError(path, f"cannot be read ({exc.strerror})") from None


def read_checkpoint(path: str | Path) -> RawCheckpoint:
    """Read a ``.ckpt`` / ``.pth`` file; any problem becomes one ``CheckpointError`` naming the file."""
    import torch  # exporter-only dependency

    path = Path(path)
    data = read_file_bytes(path, "a checkpoint file")
    if len(data) < 4:
        raise CheckpointError(path, f"is only {len(data)} bytes, not a checkpoint")
    header = data[:2]
    if header != ZIP_MAGIC and header not in HEADER_TAGS:
        raise CheckpointError(
            path,
            f"does not look like a GPT-SoVITS checkpoint (starts with {header!r}, "
            "expected a torch zip archive or an upstream version tag)",
        )
    buffer = io.BytesIO(ZIP_MAGIC + data[2:])
    if not zipfile.is_zipfile(buffer):
        raise CheckpointError(path, "is truncated or corrupt (not a complete zip archive)")
    buffer.seek(0)
    try:
        with torch.serialization.safe_globals([HParams]):
            payload = torch.load(buffer, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else "unpickling failed"
        raise CheckpointError(path, f"holds objects that are not safe to load ({first_line})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise CheckpointError(path, f"is truncated or corrupt ({type(exc).__name__}: {exc})") from None
    if not isinstance(payload, dict) or "weight" not in payload:
        kind = type(payload).__name__
        raise CheckpointError(path, f"is a torch file but not a GPT-SoVITS checkpoint (a {kind} without 'weight')")
    weights = payload["weight"]
    if not isinstance(weights, dict) or not weights:
        raise CheckpointError(path, "has an empty or malformed 'weight' state dict")
    config = _plain(payload.get("config") or {})
    if not isinstance(config, dict):
        raise CheckpointError(path, f"has a 'config' of unexpected type {type(config).__name__}")
    return RawCheckpoint(
        path=path,
        header=header,
        weights=dict(weights),
        config=config,
        info=str(payload.get("info", "")),
    )


def examples(keys: list[str], n: int = 4) -> str:
    """A few of ``keys`` for an error message, with a count of the rest."""
    shown = ", ".join(keys[:n])
    return shown + (f", ... ({len(keys) - n} more)" if len(keys) > n else "")


def load_state_strict(model: Any, weights: dict[str, Any], path: Path, what: str) -> Any:  # noqa: ANN401
    """Load ``weights`` (any float dtype) into ``model`` as float32, or one ``CheckpointError`` that
    lists missing and unexpected keys, or the tensors whose shapes the file's own config contradicts.

    ``what`` names the model in the message, e.g. "a SoVITS v2 model built from its own config".
    """
    expected = model.state_dict()
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    if missing or unexpected:
        detail = []
        if missing:
            detail.append(f"{len(missing)} missing weights ({examples(missing)})")
        if unexpected:
            detail.append(f"{len(unexpected)} unexpected weights ({examples(unexpected)})")
        raise CheckpointError(path, f"does not match {what}: " + "; ".join(detail))
    bad = [
        f"{k} is {tuple(weights[k].shape)}, config implies {tuple(v.shape)}"
        for k, v in expected.items()
        if tuple(weights[k].shape) != tuple(v.shape)
    ]
    if bad:
        raise CheckpointError(path, f"has tensor shapes that do not match its config: {examples(bad, 3)}")
    model.load_state_dict({k: v.float() for k, v in weights.items()}, strict=True)
    return model
