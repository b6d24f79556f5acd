"""The optional ``hubert`` graph: parity against transformers at several clip lengths, contract, bundle entry."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("transformers")

import torch  # noqa: E402

from bundle import Precision, Role, write_edge_subset  # noqa: E402
from bundle.session import create_session  # noqa: E402
from exporter.onnx.hubert_export import PARITY_SAMPLES, export_hubert, load_hubert  # noqa: E402
from relaytts.errors import InvalidArgument  # noqa: E402

TOL = 1e-4


@pytest.fixture(scope="module")
def exported(hubert_dir, tmp_path_factory):
    return export_hubert(hubert_dir, tmp_path_factory.mktemp("hubert-out") / "hubert.onnx")


def test_export_matches_transformers_last_hidden_state(exported):
    assert min(PARITY_SAMPLES) < 16000 and max(PARITY_SAMPLES) == 160_000 + 9600  # short, 3 s + pad, 10 s + pad
    assert exported.parity["ssl_max_abs"] <= TOL, exported.parity


@pytest.mark.parametrize("samples", [400, 48_000 + 9600 + 319, 80_000])
def test_graph_contract_dynamic_length_and_frame_count(exported, hubert_dir, samples):
    """float32 [1, N] in, float32 [1, 768, floor((N - 400) / 320) + 1] out, equal to transformers at any N."""
    session = create_session(exported.graph)
    (inp,), (out,) = session.get_inputs(), session.get_outputs()
    assert (inp.name, inp.type) == ("wav", "tensor(float)") and (out.name, out.shape[1]) == ("ssl", 768)
    wav = (0.3 * np.sin(np.arange(samples) * 0.05) + 0.01 * np.random.default_rng(1).standard_normal(samples))
    wav = wav.astype(np.float32)[None]
    got = session.run(None, {"wav": wav})[0]
    assert got.shape == (1, 768, (samples - 400) // 320 + 1)
    with torch.no_grad():
        want = load_hubert(hubert_dir).model(torch.from_numpy(wav)).last_hidden_state.transpose(1, 2).numpy()
    assert np.abs(got - want).max() <= TOL
    assert session.get_modelmeta().custom_metadata_map["sample_rate_hz"] == "16000"


def test_bad_folders_are_refused_with_the_reason(tmp_path, hubert_dir):
    with pytest.raises(InvalidArgument, match="no config.json"):
        load_hubert(tmp_path)
    folder = tmp_path / "wide"
    folder.mkdir()
    config = json.loads((hubert_dir / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(config | {"hidden_size": 1024}))
    with pytest.raises(InvalidArgument, match="no model.safetensors"):
        load_hubert(folder)
    (folder / "model.safetensors").write_bytes((hubert_dir / "model.safetensors").read_bytes())
    with pytest.raises(InvalidArgument, match="hidden size 1024; SoVITS reads 768"):
        load_hubert(folder)
    (folder / "config.json").write_text(json.dumps(config | {"conv_stride": [5, 2, 2, 2, 2, 2, 1]}))
    with pytest.raises(InvalidArgument, match="160 samples per frame"):
        load_hubert(folder)
    (folder / "config.json").write_text(json.dumps(config | {"model_type": "bert"}))
    with pytest.raises(InvalidArgument, match="expected HuBERT"):
        load_hubert(folder)


def test_the_bundle_lists_a_validated_cloud_hubert_graph(voice_bundle, hubert_dir, tmp_path):
    manifest = voice_bundle.manifest
    entry = manifest.file(Role.HUBERT, Precision.FP32)
    assert entry.path == "hubert.onnx" and entry.side == "cloud" and entry.validated
    assert entry.parity["ssl_max_abs"] <= TOL
    assert manifest.sources["hubert"]["file"] == f"{hubert_dir.name}/model.safetensors"
    edge = write_edge_subset(voice_bundle, tmp_path / "edge")
    assert not (edge / "hubert.onnx").exists()  # the edge never gets it


def test_export_command_takes_hubert():
    from click.testing import CliRunner

    from relaytts.cli import main

    result = CliRunner().invoke(main, ["export", "--help"])
    assert result.exit_code == 0 and "--hubert" in result.output and "chinese-hubert-base" in result.output
