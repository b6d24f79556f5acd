"""Opening a bundle directory: manifest, presence and integrity of every graph, sessions."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from bundle.manifest import MANIFEST_NAME, Manifest, Precision, Role, sha256_file
from bundle.session import SessionOptions, create_session
from relaytts.errors import BundleError

if TYPE_CHECKING:
    import onnxruntime

__all__ = ["Bundle", "write_edge_subset"]


@dataclass(frozen=True)
class Bundle:
    """A verified bundle on disk."""

    root: Path
    manifest: Manifest

    @classmethod
    def open(cls, root: str | Path, *, verify: bool = True, side: str | None = None) -> Bundle:
        """Read ``root/manifest.json`` and check the graphs it lists (all, or one ``side``: cloud/edge).

        ``verify`` hashes every file: a tampered or half-copied graph fails here, by name, instead
        of producing wrong audio later.
        """
        root = Path(root)
        manifest_path = root / MANIFEST_NAME
        if not manifest_path.is_file():
            raise BundleError(f"{root}: not a bundle (no {MANIFEST_NAME}); make one with `relaytts export`")
        manifest = Manifest.from_json(manifest_path.read_text(encoding="utf-8"), source=manifest_path)
        for entry in manifest.files:
            if side is not None and entry.side != side:
                continue
            path = root / entry.path
            if not path.is_file():
                raise BundleError(f"{root}: missing graph {entry.path} ({entry.role.value}, {entry.precision.value})")
            size = path.stat().st_size
            if size != entry.size_bytes:
                raise BundleError(
                    f"{path}: size {size} bytes, manifest says {entry.size_bytes} (tampered or truncated)"
                )
            if verify and sha256_file(path) != entry.sha256:
                raise BundleError(f"{path}: sha256 does not match the manifest (tampered or corrupt)")
        return cls(root=root, manifest=manifest)

    def path(self, role: Role, precision: Precision = Precision.FP32) -> Path:
        return self.root / self.manifest.file(role, precision).path

    def session(
        self, role: Role, precision: Precision = Precision.FP32, options: SessionOptions | None = None
    ) -> onnxruntime.InferenceSession:
        return create_session(self.path(role, precision), options, quantized=precision is Precision.INT8)


def write_edge_subset(bundle: Bundle, dest: str | Path) -> Path:
    """Copy what an edge device needs (the vocoder graphs + a manifest listing only them) to ``dest``."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    edge_files = [f for f in bundle.manifest.files if f.side == "edge"]
    if not edge_files:
        raise BundleError(f"{bundle.root}: has no edge graphs to copy")
    for entry in edge_files:
        shutil.copy2(bundle.root / entry.path, dest / entry.path)
    subset = replace(bundle.manifest, files=edge_files)
    (dest / MANIFEST_NAME).write_text(subset.to_json(), encoding="utf-8")
    return dest
