"""The edge model cache: verified downloads committed atomically, and two clients sharing one cache
directory (one commits while the other downloads the same bundle) both end up on one intact copy."""

from __future__ import annotations

import os

import pytest

from bundle.manifest import MANIFEST_NAME
from edge_client.model_cache import ModelCache, ModelInfo
from orchestrator.models import EdgeFiles
from protos import relaytts_v1_pb2 as pb
from relaytts.errors import BundleError, BundleMismatch

PIECE = 64 * 1024


@pytest.fixture(scope="module")
def edge(fixture_bundle) -> EdgeFiles:
    return EdgeFiles.load(fixture_bundle.root)


def fetch(download, edge: EdgeFiles) -> None:
    """Write every listed file as the gateway would send it (``FetchModelFile`` pieces)."""
    for entry in download.files:
        data = edge.manifest_bytes if entry.path == MANIFEST_NAME else edge.paths[entry.path].read_bytes()
        writer = download.open(entry)
        for offset in range(0, len(data), PIECE):
            writer.write(pb.FileChunk(offset=offset, data=data[offset:offset + PIECE]))
        writer.finish()


def test_a_download_is_verified_committed_and_found_again(tmp_path, edge):
    cache = ModelCache(tmp_path)
    info = ModelInfo.from_pb(edge.info)
    assert cache.lookup(info) is None
    with cache.begin(info) as download:
        fetch(download, edge)
        bundle = download.commit()
    assert bundle.root == cache.dir_for(info.bundle_id)
    assert cache.lookup(info).manifest == bundle.manifest
    assert [p.name for p in tmp_path.iterdir()] == [info.bundle_id]  # no staging left behind


def test_a_second_client_keeps_the_copy_another_committed(tmp_path, edge):
    cache = ModelCache(tmp_path)
    info = ModelInfo.from_pb(edge.info)
    first, second = cache.begin(info), cache.begin(info)  # two clients start downloading the same bundle
    fetch(first, edge)
    fetch(second, edge)
    committed = first.commit()
    vocoder = next(committed.root.glob("*.onnx"))
    inode = os.stat(vocoder).st_ino
    kept = second.commit()  # the other client finishes later: the copy in use is not replaced
    assert kept.root == committed.root and os.stat(vocoder).st_ino == inode
    assert [p.name for p in tmp_path.iterdir()] == [info.bundle_id]


def test_a_damaged_cached_copy_is_replaced(tmp_path, edge):
    cache = ModelCache(tmp_path)
    info = ModelInfo.from_pb(edge.info)
    with cache.begin(info) as download:
        fetch(download, edge)
        bundle = download.commit()
    vocoder = next(bundle.root.glob("*.onnx"))
    vocoder.write_bytes(b"not a graph")
    assert cache.lookup(info) is None and not bundle.root.exists()
    with cache.begin(info) as download:
        fetch(download, edge)
        assert download.commit().root == bundle.root
    assert cache.lookup(info) is not None


def test_a_file_that_does_not_match_its_listing_is_refused_and_nothing_is_cached(tmp_path, edge):
    cache = ModelCache(tmp_path)
    info = ModelInfo.from_pb(edge.info)
    with cache.begin(info) as download:
        entry = next(e for e in download.files if e.path != MANIFEST_NAME)
        writer = download.open(entry)
        writer.write(pb.FileChunk(offset=0, data=b"\0" * min(entry.size_bytes, 16)))
        with pytest.raises(BundleMismatch, match="refused"):
            writer.finish()
        with pytest.raises(BundleError, match="missing"):
            download.commit()
    assert list(tmp_path.iterdir()) == []
