"""The Models service: the served bundle's identity and its edge files (manifest + vocoder graphs).

What the edge downloads is the *edge subset* of the bundle, exactly what ``bundle.write_edge_subset``
would write: the vocoder graphs plus a ``manifest.json`` that lists only them. That manifest is
built in memory from the bundle's own manifest, so the gateway serves a full bundle directory (or an
edge subset) without writing anything.

Bundle ids: ``ModelInfo.bundle_id`` is ``manifest.bundle_id`` of the FULL bundle the gateway was
given (the identity of the T2S + SoVITS pair the workers run); an edge stores it with the files it
fetched and sends it back as ``SynthesizeRequest.bundle_id``. An edge that holds only an edge subset
(from ``relaytts bundle edge``) can compute nothing but the subset manifest's own ``bundle_id``
(which hashes the vocoder graphs alone), so the gateway accepts that id too: both mean "this
vocoder". ``EdgeFiles.accepted_bundle_ids`` holds the two.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

import grpc

from bundle import Bundle
from bundle.manifest import MANIFEST_NAME
from protos import relaytts_v1_pb2 as pb
from protos import relaytts_v1_pb2_grpc as pb_grpc
from relaytts.errors import BundleError, NotFound

__all__ = ["EdgeFiles", "ModelsServicer"]

log = logging.getLogger(__name__)

PIECE_BYTES: Final = 1 << 20
"""FetchModelFile piece size (1 MiB; gRPC's default message limit is 4 MB)."""
MANIFEST_ROLE: Final = "manifest"


@dataclass(frozen=True)
class EdgeFiles:
    """The edge subset of a bundle: ``info`` for GetModelInfo, bytes or paths for FetchModelFile."""

    bundle_id: str
    edge_bundle_id: str
    info: pb.ModelInfo
    manifest_bytes: bytes
    paths: dict[str, Path]
    """Edge graph path (as in the manifest) -> file on disk."""

    @property
    def accepted_bundle_ids(self) -> tuple[str, ...]:
        """What ``SynthesizeRequest.bundle_id`` may be: the bundle's id, then its edge subset's."""
        return tuple(dict.fromkeys((self.bundle_id, self.edge_bundle_id)))

    @classmethod
    def load(cls, root: str | Path) -> EdgeFiles:
        """Open ``root`` checking the edge graphs (present, sizes, sha256) and cut the edge subset."""
        opened = Bundle.open(root, side="edge")
        manifest = opened.manifest
        edge = [entry for entry in manifest.files if entry.side == "edge"]
        if not edge:
            raise BundleError(f"{root}: has no edge graphs to serve")
        base = opened.root.resolve()
        paths = {}
        for entry in edge:
            path = (base / entry.path).resolve()
            if not path.is_relative_to(base) or entry.path == MANIFEST_NAME:
                raise BundleError(f"{root}: edge graph path {entry.path!r} points outside the bundle")
            paths[entry.path] = path
        subset = replace(manifest, files=edge)
        manifest_bytes = subset.to_json().encode()
        files = [pb.ModelFile(path=MANIFEST_NAME, role=MANIFEST_ROLE, sha256=hashlib.sha256(manifest_bytes).hexdigest(),
                              size_bytes=len(manifest_bytes))]
        files += [pb.ModelFile(path=e.path, role=e.role.value, precision=e.precision.value, sha256=e.sha256,
                               size_bytes=e.size_bytes) for e in edge]
        info = pb.ModelInfo(bundle_id=manifest.bundle_id, model_version=manifest.model_version,
                            sample_rate_hz=manifest.sample_rate, samples_per_token=manifest.samples_per_token,
                            edge_files=files, edge_manifest=manifest_bytes)
        return cls(bundle_id=manifest.bundle_id, edge_bundle_id=subset.bundle_id, info=info,
                   manifest_bytes=manifest_bytes, paths=paths)

    def known_paths(self) -> list[str]:
        return [MANIFEST_NAME, *self.paths]


class ModelsServicer(pb_grpc.ModelsServicer):
    """GetModelInfo and FetchModelFile over the served bundle's edge subset."""

    def __init__(self, edge: EdgeFiles | None) -> None:
        self.edge = edge

    def _edge(self) -> EdgeFiles:
        if self.edge is None:
            raise BundleError("this gateway serves no bundle (start it with --bundle or RELAYTTS_GATEWAY_BUNDLE)")
        return self.edge

    async def GetModelInfo(self, request: pb.GetModelInfoRequest, context: grpc.aio.ServicerContext) -> pb.ModelInfo:
        return self._edge().info

    async def FetchModelFile(self, request: pb.FetchModelFileRequest, context: grpc.aio.ServicerContext) -> None:
        edge = self._edge()
        if request.path == MANIFEST_NAME:
            data = edge.manifest_bytes
            for offset in range(0, len(data), PIECE_BYTES):
                await context.write(pb.FileChunk(data=data[offset:offset + PIECE_BYTES], offset=offset,
                                                 total_size_bytes=len(data)))
            return
        path = edge.paths.get(request.path)  # exact names only: no joining, so no traversal
        if path is None:
            raise NotFound(f"`path` must be one of the edge files ({', '.join(edge.known_paths())}); "
                           f"given {request.path[:200]!r}")
        with open(path, "rb") as handle:
            total = os.fstat(handle.fileno()).st_size
            offset = 0
            while piece := await asyncio.to_thread(handle.read, PIECE_BYTES):
                await context.write(pb.FileChunk(data=piece, offset=offset, total_size_bytes=total))
                offset += len(piece)
        if offset != total:
            raise BundleError(f"{request.path}: changed while being sent ({offset} of {total} bytes)")
