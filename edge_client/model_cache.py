"""The edge's cache of vocoder files fetched from the gateway, one verified directory per bundle id.

Layout: ``<cache_dir>/<bundle_id>/`` holds the edge subset of the served bundle (``manifest.json`` +
the vocoder graphs), a directory ``bundle.Bundle.open(..., side="edge")`` accepts. A download goes
into a hidden staging directory beside it; each file is written under a temporary name, hashed while
it streams in and compared with the sha256 the gateway's ``ModelInfo`` lists. A mismatch raises
``BundleMismatch`` and deletes the staging directory, so nothing unverified is ever cached. Only a
complete, verified download is renamed into place, so a crash mid-download leaves no half bundle.

No I/O on the network happens here: the sync and the asyncio client fetch ``FileChunk`` messages and
hand them to ``Download.open(entry).write(...)``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from bundle import Bundle
from bundle.manifest import MANIFEST_NAME, Manifest
from protos import relaytts_v1_pb2 as pb
from relaytts.errors import BundleError, BundleMismatch

__all__ = ["Download", "EdgeFile", "FileWriter", "ModelCache", "ModelInfo", "default_cache_dir"]


def default_cache_dir() -> Path:
    """``~/.cache/relaytts`` (what an empty ``RELAYTTS_EDGE_CACHE_DIR`` means)."""
    return Path.home() / ".cache" / "relaytts"


@dataclass(frozen=True)
class EdgeFile:
    """One file of the served bundle's edge subset."""

    path: str
    role: str
    precision: str
    sha256: str
    size_bytes: int

    @classmethod
    def from_pb(cls, msg: pb.ModelFile) -> EdgeFile:
        return cls(msg.path, msg.role, msg.precision, msg.sha256, msg.size_bytes)


@dataclass(frozen=True)
class ModelInfo:
    """The bundle the gateway serves (``GetModelInfo``)."""

    bundle_id: str
    model_version: str
    sample_rate_hz: int
    samples_per_token: int
    edge_files: tuple[EdgeFile, ...]
    edge_manifest: bytes
    """``manifest.json`` of the edge subset, verbatim."""

    @classmethod
    def from_pb(cls, msg: pb.ModelInfo) -> ModelInfo:
        return cls(msg.bundle_id, msg.model_version, msg.sample_rate_hz, msg.samples_per_token,
                   tuple(EdgeFile.from_pb(f) for f in msg.edge_files), msg.edge_manifest)


def _safe_relative(path: str) -> PurePosixPath:
    rel = PurePosixPath(path)
    if not path or rel.is_absolute() or ".." in rel.parts or "\\" in path:
        raise BundleError(f"gateway listed an edge file outside the bundle directory: {path!r}")
    return rel


class ModelCache:
    """Verified edge bundles under ``root``, keyed by bundle id."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root else default_cache_dir()

    def dir_for(self, bundle_id: str) -> Path:
        if not bundle_id or _safe_relative(bundle_id).name != bundle_id:
            raise BundleError(f"gateway sent an unusable bundle id: {bundle_id!r}")
        return self.root / bundle_id

    def lookup(self, info: ModelInfo) -> Bundle | None:
        """The cached edge bundle of ``info`` when present and intact (files re-hashed), else None.

        A damaged or stale entry is deleted so the next download replaces it.
        """
        dest = self.dir_for(info.bundle_id)
        if not (dest / MANIFEST_NAME).is_file():
            return None
        try:
            bundle = Bundle.open(dest, side="edge")
            _check_against(bundle.manifest, info)
        except BundleError:
            shutil.rmtree(dest, ignore_errors=True)
            return None
        return bundle

    def begin(self, info: ModelInfo) -> Download:
        """Start downloading ``info``'s edge files into a staging directory."""
        self.root.mkdir(parents=True, exist_ok=True)
        return Download(self, info)


class Download:
    """A staging directory being filled; ``commit()`` renames it into the cache, ``abort()`` deletes it."""

    def __init__(self, cache: ModelCache, info: ModelInfo) -> None:
        if not info.edge_files:
            raise BundleError(f"gateway lists no edge files for bundle {info.bundle_id}")
        self.cache = cache
        self.info = info
        self.dest = cache.dir_for(info.bundle_id)
        self.staging = Path(tempfile.mkdtemp(prefix=f".{info.bundle_id}.", suffix=".partial", dir=cache.root))
        self.files = list(info.edge_files)
        """What to fetch, in order."""
        self._done: set[str] = set()

    def __enter__(self) -> Download:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self.staging.exists():
            self.abort()

    def open(self, entry: EdgeFile) -> FileWriter:
        target = self.staging / _safe_relative(entry.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        return FileWriter(self, entry, target)

    def commit(self) -> Bundle:
        """Check the set is complete and consistent, then move it to ``<root>/<bundle_id>``."""
        missing = [f.path for f in self.files if f.path not in self._done]
        if missing:
            raise BundleError(f"download of bundle {self.info.bundle_id} is missing {', '.join(missing)}")
        manifest_path = self.staging / MANIFEST_NAME
        if MANIFEST_NAME not in self._done:
            if not self.info.edge_manifest:
                raise BundleError(f"gateway sent no edge manifest for bundle {self.info.bundle_id}")
            manifest_path.write_bytes(self.info.edge_manifest)
        bundle = Bundle.open(self.staging, side="edge", verify=False)  # every file was hashed as it arrived
        _check_against(bundle.manifest, self.info)
        # Another client sharing the cache may have committed the same bundle meanwhile, and may be using
        # it: an intact copy is kept, never replaced under it (lookup deletes a damaged one).
        for _attempt in range(2):
            found = self.cache.lookup(self.info)
            if found is not None:
                self.abort()
                return found
            try:
                os.replace(self.staging, self.dest)
            except OSError:
                continue  # a copy appeared between the lookup and the rename: look again
            return Bundle(root=self.dest, manifest=bundle.manifest)
        raise BundleError(f"cannot place bundle {self.info.bundle_id} in the cache at {self.dest}")

    def abort(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)


class FileWriter:
    """One file arriving as ``FileChunk`` pieces: offsets checked, hashed on the way, renamed when verified."""

    def __init__(self, download: Download, entry: EdgeFile, target: Path) -> None:
        self.download = download
        self.entry = entry
        self.target = target
        self.part = target.with_name(f"{target.name}.{uuid.uuid4().hex[:8]}.part")
        self._handle = open(self.part, "wb")  # closed by finish() or abort()
        self._digest = hashlib.sha256()
        self.written = 0

    def write(self, chunk: pb.FileChunk) -> None:
        if chunk.offset != self.written:
            self.abort()
            raise BundleError(f"{self.entry.path}: piece at offset {chunk.offset}, expected {self.written}")
        if self.written + len(chunk.data) > self.entry.size_bytes:
            self.abort()
            raise BundleMismatch(f"{self.entry.path}: gateway sent more than the {self.entry.size_bytes} bytes "
                                 "its ModelInfo lists")
        self._handle.write(chunk.data)
        self._digest.update(chunk.data)
        self.written += len(chunk.data)

    def finish(self) -> None:
        """Verify size and sha256 against ModelInfo; a mismatch deletes the file and raises BundleMismatch."""
        self._handle.close()
        digest = self._digest.hexdigest()
        if self.written != self.entry.size_bytes or digest != self.entry.sha256:
            self.abort()
            raise BundleMismatch(
                f"{self.entry.path}: received {self.written} bytes with sha256 {digest[:16]}, but the gateway's "
                f"ModelInfo lists {self.entry.size_bytes} bytes with sha256 {self.entry.sha256[:16]}; refused"
            )
        os.replace(self.part, self.target)
        self.download._done.add(self.entry.path)

    def abort(self) -> None:
        self._handle.close()
        self.part.unlink(missing_ok=True)


def _check_against(manifest: Manifest, info: ModelInfo) -> None:
    """The edge manifest must list exactly the hashes ModelInfo lists for the edge files."""
    listed = {f.path: f for f in info.edge_files}
    for entry in manifest.files:
        if entry.side != "edge":
            continue
        other = listed.get(entry.path)
        if other is None or other.sha256 != entry.sha256:
            raise BundleMismatch(f"edge manifest of bundle {info.bundle_id} lists {entry.path} with sha256 "
                                 f"{entry.sha256[:16]}, ModelInfo with "
                                 f"{other.sha256[:16] if other else 'nothing'}")
    if info.sample_rate_hz and manifest.sample_rate != info.sample_rate_hz:
        raise BundleMismatch(f"edge manifest says {manifest.sample_rate} Hz, ModelInfo {info.sample_rate_hz} Hz")
