"""The edge subset the Models service serves."""

from __future__ import annotations

import json
import shutil

import pytest

from bundle import write_edge_subset
from orchestrator.models import EdgeFiles
from relaytts.errors import BundleError


def test_edge_files_match_what_write_edge_subset_writes(fixture_bundle, tmp_path):
    edge = EdgeFiles.load(fixture_bundle.root)
    subset = write_edge_subset(fixture_bundle, tmp_path / "edge")
    assert edge.manifest_bytes == (subset / "manifest.json").read_bytes()
    assert edge.bundle_id == edge.info.bundle_id == fixture_bundle.manifest.bundle_id
    assert edge.edge_bundle_id != edge.bundle_id and edge.accepted_bundle_ids == (edge.bundle_id, edge.edge_bundle_id)
    assert edge.known_paths() == ["manifest.json", "vocoder.onnx", "vocoder.int8.onnx"]
    roles = {f.path: f.role for f in edge.info.edge_files}
    assert roles == {"manifest.json": "manifest", "vocoder.onnx": "vocoder", "vocoder.int8.onnx": "vocoder"}
    # An edge subset directory serves the same files; its own id is the subset's.
    again = EdgeFiles.load(subset)
    assert again.manifest_bytes == edge.manifest_bytes and again.bundle_id == edge.edge_bundle_id
    assert again.accepted_bundle_ids == (edge.edge_bundle_id,)


def test_a_manifest_pointing_outside_the_bundle_is_refused(fixture_bundle, tmp_path):
    root = tmp_path / "b" / "bundle"
    write_edge_subset(fixture_bundle, root)
    shutil.move(root / "vocoder.onnx", tmp_path / "b" / "vocoder.onnx")
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["files"][0]["path"] = "../vocoder.onnx"
    (root / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="points outside the bundle"):
        EdgeFiles.load(root)


def test_no_edge_graphs_is_an_error(tmp_path):
    with pytest.raises(BundleError, match="not a bundle"):
        EdgeFiles.load(tmp_path)
