"""Exporting the upstream fixtures gives bundles that reproduce upstream's outputs through ORT alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bundle import FORMAT_VERSION, Bundle, Precision, Role, write_edge_subset
from bundle.manifest import MANIFEST_NAME
from exporter.onnx.bundle_export import export_bundle
from relaytts.errors import BundleError, InvalidArgument

TOL = 1e-4
CHECK_SCRIPT = Path(__file__).with_name("ort_fixture_check.py")
SOVITS = {"v2_": "sovits_v2.pth", "v2pp_": "sovits_v2proplus.pth"}


@pytest.fixture(scope="module", params=list(SOVITS))
def exported(request, upstream_dir, tmp_path_factory):
    prefix = request.param
    out = tmp_path_factory.mktemp("bundles") / prefix.rstrip("_")
    manifest, rows = export_bundle(upstream_dir / "gpt_v2.ckpt", upstream_dir / SOVITS[prefix], out,
                                   (Precision.FP32, Precision.FP16, Precision.INT8))
    return prefix, out, manifest, rows


def test_fp32_graphs_reproduce_upstream_references_without_torch(exported, upstream_dir):
    prefix, out, _, _ = exported
    proc = subprocess.run([sys.executable, str(CHECK_SCRIPT), str(out), str(upstream_dir / "reference.npz"), prefix],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result.pop("torch_imported") == 0.0, "loading and running a bundle imported torch"
    for key in ("t2s_greedy_tokens_equal", "prompt_codes_equal"):
        assert result.pop(key) == 1.0, key
    for key, diff in result.items():
        assert diff <= TOL, f"{key}: max abs diff {diff:.3g} > {TOL}"


def _fixture_check(out: Path, upstream_dir: Path, prefix: str) -> dict[str, float]:
    proc = subprocess.run([sys.executable, str(CHECK_SCRIPT), str(out), str(upstream_dir / "reference.npz"), prefix],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_v2proplus_bundle_with_sv_reproduces_the_whole_chain_without_torch(voice_bundle_pp, upstream_dir):
    """``--sv``: clip -> numpy fbank -> sv graph -> style encoder -> vocoder equals upstream's chain (1e-4)."""
    result = _fixture_check(voice_bundle_pp.root, upstream_dir, "v2pp_")
    assert result.pop("torch_imported") == 0.0, "loading and running a bundle imported torch"
    assert {"sv_embedding", "svnet_ge", "svnet_decode_wav"} <= set(result)
    for key in ("t2s_greedy_tokens_equal", "prompt_codes_equal"):
        assert result.pop(key) == 1.0, key
    for key, diff in result.items():
        assert diff <= TOL, f"{key}: max abs diff {diff:.3g} > {TOL}"
    manifest = voice_bundle_pp.manifest
    sv = manifest.file(Role.SV)
    assert sv.validated and sv.parity["sv_emb_max_abs"] <= TOL
    assert manifest.sources["sv"]["file"] == "sv_eres2netv2.ckpt"
    assert manifest.sovits["sv_dim"] == np.load(upstream_dir / "reference.npz")["sv_embedding"].shape[1]


def test_sv_is_refused_for_a_v2_sovits(upstream_dir, tmp_path):
    with pytest.raises(InvalidArgument, match="--sv .*SoVITS v2, which has no speaker-verification branch"):
        export_bundle(upstream_dir / "gpt_v2.ckpt", upstream_dir / "sovits_v2.pth", tmp_path / "b",
                      sv_path=upstream_dir / "sv_eres2netv2.ckpt")
    assert not (tmp_path / "b").exists()


def test_manifest_describes_the_bundle(exported):
    prefix, out, manifest, rows = exported
    assert manifest.model_version == ("v2" if prefix == "v2_" else "v2ProPlus")
    assert manifest.sample_rate == 32000 and manifest.samples_per_token == 1280
    assert manifest.format_version == FORMAT_VERSION and manifest.onnxruntime_version
    roles = {(f.role, f.precision) for f in manifest.files}
    optional = (Role.BERT, Role.HUBERT, Role.G2PW, Role.SV)  # only with their flags
    assert {(r, Precision.FP32) for r in Role if r not in optional} <= roles
    assert (Role.T2S, Precision.INT8) in roles and (Role.VOCODER, Precision.FP16) in roles
    assert all(f.validated for f in manifest.files if f.precision is Precision.FP32)
    assert all(f.validated or f.note for f in manifest.files)
    t2s_fp32 = manifest.file(Role.T2S)
    assert t2s_fp32.parity["greedy_200_agreement"] == 1.0
    assert manifest.file(Role.T2S, Precision.INT8).size_bytes < 0.6 * t2s_fp32.size_bytes
    assert all(row.ok for row in rows if row.precision == "fp32")
    reopened = Bundle.open(out)
    assert reopened.manifest == manifest
    readme = (out / "README.md").read_text()
    assert manifest.bundle_id in readme and "past_key_i" in readme and "`noise`" in readme
    assert manifest.sources["gpt"]["sha256"] and manifest.sources["sovits"]["file"] == SOVITS[prefix]


def test_t2s_weights_exist_once(exported):
    """Prefill and step are one graph: one T2S file per precision, no second copy of the weights."""
    _, out, manifest, _ = exported
    t2s_files = [f for f in manifest.files if f.role is Role.T2S and f.precision is Precision.FP32]
    assert len(t2s_files) == 1
    assert sorted(p.name for p in out.glob("t2s*.onnx")) == ["t2s.fp16.onnx", "t2s.int8.onnx", "t2s.onnx"]


def test_edge_subset_holds_only_the_vocoder(exported, tmp_path):
    _, out, manifest, _ = exported
    edge = write_edge_subset(Bundle.open(out), tmp_path / "edge")
    opened = Bundle.open(edge)
    assert {f.role for f in opened.manifest.files} == {Role.VOCODER}
    assert sorted(p.name for p in edge.glob("*.onnx")) == ["vocoder.fp16.onnx", "vocoder.int8.onnx", "vocoder.onnx"]


def copy_bundle(src: Path, dest: Path) -> Path:
    import shutil

    shutil.copytree(src, dest)
    return dest


def test_tampered_graph_is_refused(exported, tmp_path):
    bundle = copy_bundle(exported[1], tmp_path / "b")
    path = bundle / "vocoder.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="vocoder.onnx: sha256 does not match"):
        Bundle.open(bundle)


def test_missing_graph_is_refused(exported, tmp_path):
    bundle = copy_bundle(exported[1], tmp_path / "b")
    (bundle / "t2s.onnx").unlink()
    with pytest.raises(BundleError, match="missing graph t2s.onnx"):
        Bundle.open(bundle)


def test_newer_format_is_refused(exported, tmp_path):
    bundle = copy_bundle(exported[1], tmp_path / "b")
    data = json.loads((bundle / MANIFEST_NAME).read_text())
    data["format_version"] = FORMAT_VERSION + 1
    (bundle / MANIFEST_NAME).write_text(json.dumps(data))
    with pytest.raises(BundleError, match="newer than this relaytts reads"):
        Bundle.open(bundle)


def test_not_a_bundle(tmp_path):
    with pytest.raises(BundleError, match="not a bundle"):
        Bundle.open(tmp_path)


def test_export_refuses_to_overwrite(exported, upstream_dir):
    _, out, _, _ = exported
    with pytest.raises(InvalidArgument, match="already exists"):
        export_bundle(upstream_dir / "gpt_v2.ckpt", upstream_dir / "sovits_v2.pth", out)
