"""``manifest.json``: what a bundle holds, how it was validated, and how to check it is intact.

The manifest is plain JSON written by the exporter and read by workers and edge clients with the
standard library alone. ``FORMAT_VERSION`` grows when a reader of an older relaytts could
misread a newer bundle; such a bundle is refused with a message saying to upgrade.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from relaytts.errors import BundleError

__all__ = [
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "GraphFile",
    "Manifest",
    "Precision",
    "Role",
    "sha256_file",
]

FORMAT_VERSION: Final = 1
MANIFEST_NAME: Final = "manifest.json"


class Role(enum.StrEnum):
    """What a graph is for. ``T2S`` serves both the prefill and the decode step (one set of weights).

    ``BERT`` is optional (bundles exported with ``--bert``): Chinese RoBERTa features per character.
    ``HUBERT`` is optional (bundles exported with ``--hubert``): chinese-hubert-base content features of a
    reference clip, which voice registration needs.
    ``G2PW`` is optional (bundles exported with ``--g2pw``): upstream's polyphone model for Chinese; with it
    the frontend reads Chinese as upstream's default does, without it with pypinyin's phrase dictionary.
    ``SV`` is the ERes2NetV2 speaker-verification net of v2Pro / v2ProPlus bundles (exported with ``--sv``): the
    fbank of the 16 kHz reference -> the embedding their style encoder needs beside the spectrogram.
    """

    T2S = "t2s"
    PROMPT_EXTRACTOR = "prompt_extractor"
    STYLE_ENCODER = "style_encoder"
    VOCODER = "vocoder"
    BERT = "bert"
    HUBERT = "hubert"
    G2PW = "g2pw"
    SV = "sv"

    @property
    def side(self) -> str:
        """``edge`` for graphs an edge device runs, ``cloud`` for the workers' graphs."""
        return "edge" if self is Role.VOCODER else "cloud"


class Precision(enum.StrEnum):
    FP32 = "fp32"
    FP16 = "fp16"
    INT8 = "int8"


@dataclass(frozen=True)
class GraphFile:
    """One ONNX file of the bundle."""

    role: Role
    precision: Precision
    path: str
    """Relative to the bundle directory."""
    sha256: str
    size_bytes: int
    validated: bool
    """True when the export-time parity checks passed for this file."""
    parity: dict[str, float] = field(default_factory=dict)
    """Figures measured at export against the PyTorch reference (max/mean abs error, SNR, ...)."""
    note: str = ""
    """Why the file is not validated, or anything a user choosing a variant should know."""

    @property
    def side(self) -> str:
        return self.role.side

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"role": self.role.value, "precision": self.precision.value, "side": self.side}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GraphFile:
        return cls(
            role=Role(data["role"]),
            precision=Precision(data["precision"]),
            path=data["path"],
            sha256=data["sha256"],
            size_bytes=int(data["size_bytes"]),
            validated=bool(data["validated"]),
            parity={k: float(v) for k, v in data.get("parity", {}).items()},
            note=data.get("note", ""),
        )


@dataclass(frozen=True)
class Manifest:
    """The whole bundle description."""

    model_version: str
    """GPT-SoVITS version of the SoVITS half: ``v2``, ``v2Pro`` or ``v2ProPlus``."""
    t2s: dict[str, int]
    """T2S sizes the engine needs: ``num_layers``, ``hidden_dim``, ``vocab_size``, ``eos``, ``phoneme_vocab_size``,
    ``max_sec``; ``batched`` = 1 when the graph takes a batch with per-row cache lengths (exports since
    continuous batching; older bundles serve one decode at a time)."""
    sovits: dict[str, int]
    """SoVITS sizes the engines need: ``gin_channels``, ``latent_channels``, ``ssl_dim``, ``spec_bins``."""
    files: list[GraphFile]
    sample_rate: int = 32000
    samples_per_token: int = 1280
    symbol_table: str = "v2"
    """Phoneme-id table the T2S and SoVITS text embeddings index (``v2`` = 732 symbols)."""
    onnxruntime_version: str = ""
    """The ONNX Runtime version the parity checks ran with."""
    sources: dict[str, dict[str, str]] = field(default_factory=dict)
    """Checkpoints the bundle was made from: name -> {file, sha256, info}."""
    created_at: str = ""
    format_version: int = FORMAT_VERSION

    def file(self, role: Role, precision: Precision = Precision.FP32) -> GraphFile:
        for entry in self.files:
            if entry.role is role and entry.precision is precision:
                return entry
        have = ", ".join(f"{f.role.value}/{f.precision.value}" for f in self.files) or "none"
        raise BundleError(f"bundle has no {role.value} graph in {precision.value} (it has: {have})")

    @property
    def bundle_id(self) -> str:
        """Identity of the model weights: the hash of every graph's hash (parity figures excluded)."""
        digest = hashlib.sha256(self.model_version.encode())
        for entry in sorted(self.files, key=lambda f: f.path):
            digest.update(f"{entry.path}:{entry.sha256}".encode())
        return digest.hexdigest()[:16]

    @property
    def zh_polyphones(self) -> str:
        """How the Chinese frontend reads polyphones with this bundle: ``g2pw`` (upstream's default) or ``pypinyin``."""
        return "g2pw" if any(f.role is Role.G2PW for f in self.files) else "pypinyin"

    def to_json(self) -> str:
        # zh_polyphones is derived from the files (never read back); written so a reader of the JSON sees it
        data = asdict(self) | {"files": [f.to_dict() for f in self.files], "zh_polyphones": self.zh_polyphones}
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, source: object = MANIFEST_NAME) -> Manifest:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BundleError(f"{source}: not valid JSON ({exc})") from None
        version = data.get("format_version") if isinstance(data, dict) else None
        if not isinstance(version, int):
            raise BundleError(f"{source}: not a relaytts bundle manifest (no format_version)")
        if version > FORMAT_VERSION:
            raise BundleError(
                f"{source}: bundle format {version} is newer than this relaytts reads ({FORMAT_VERSION}); "
                "upgrade relaytts or re-export the bundle"
            )
        try:
            return cls(
                model_version=data["model_version"],
                t2s={k: int(v) for k, v in data["t2s"].items()},
                sovits={k: int(v) for k, v in data["sovits"].items()},
                files=[GraphFile.from_dict(f) for f in data["files"]],
                sample_rate=int(data["sample_rate"]),
                samples_per_token=int(data["samples_per_token"]),
                symbol_table=data["symbol_table"],
                onnxruntime_version=data.get("onnxruntime_version", ""),
                sources=data.get("sources", {}),
                created_at=data.get("created_at", ""),
                format_version=version,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"{source}: malformed manifest ({type(exc).__name__}: {exc})") from None


def sha256_file(path: Path, chunk_bytes: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()
