"""The optional ``bert`` graph: export parity against transformers, graph contract, bundle entry, CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("transformers")

import torch  # noqa: E402

from bundle import Bundle, Precision, Role, write_edge_subset  # noqa: E402
from bundle.session import create_session  # noqa: E402
from exporter.onnx import bert_export  # noqa: E402
from exporter.onnx.bert_export import PARITY_CHARS, VOCAB_FILE, export_bert, load_bert  # noqa: E402
from relaytts.errors import InvalidArgument  # noqa: E402
from tests.unit.exporter.tiny_bert import write_tiny_bert  # noqa: E402

TOL = 1e-4


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory) -> Path:
    return write_tiny_bert(tmp_path_factory.mktemp("bert") / "chinese-roberta-tiny")


@pytest.fixture(scope="module")
def exported(bert_dir, tmp_path_factory):
    return export_bert(bert_dir, tmp_path_factory.mktemp("bert-out") / "bert.onnx")


def test_export_matches_transformers_hidden_states_minus_3(exported):
    assert min(PARITY_CHARS) == 1 and max(PARITY_CHARS) >= 300
    assert exported.parity["char_features_max_abs"] <= TOL, exported.parity
    assert exported.graph.is_file() and exported.vocab.name == VOCAB_FILE


def test_graph_contract_and_full_window(exported, bert_dir):
    """int64 [1, T] in, float32 [T-2, 1024] out, dynamic T up to 512 tokens; metadata names the vocabulary."""
    session = create_session(exported.graph)
    (inp,), (out,) = session.get_inputs(), session.get_outputs()
    assert (inp.name, inp.type, inp.shape[0]) == ("input_ids", "tensor(int64)", 1) and isinstance(inp.shape[1], str)
    assert (out.name, out.type, out.shape[1]) == ("char_features", "tensor(float)", 1024)
    meta = session.get_modelmeta().custom_metadata_map
    assert meta["vocab_file"] == VOCAB_FILE and meta["do_lower_case"] == "true" and meta["max_chars"] == "510"
    assert meta["hidden_state"] == "-3"
    assert exported.vocab.read_bytes() == (bert_dir / "vocab.txt").read_bytes()

    bert = load_bert(bert_dir)
    ids = torch.randint(5, bert.model.config.vocab_size, (1, 512), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = bert.model(input_ids=ids, output_hidden_states=True).hidden_states[-3][0, 1:-1].numpy()
    got = session.run(None, {"input_ids": ids.numpy()})[0]
    assert got.shape == (510, 1024)
    assert np.abs(got - want).max() <= TOL
    assert np.abs(want[:-1] - want[1:]).max() > 0.1  # a real layer: characters get different vectors


def test_graph_leaves_out_the_last_two_layers(exported, bert_dir):
    import onnx

    model = onnx.load(str(exported.graph), load_external_data=False)
    layer_norms = sum(node.op_type == "LayerNormalization" for node in model.graph.node)
    assert layer_norms == 1 + 2 * 2  # embeddings + 2 per layer, for layers 1-2 of 4


def test_vocabulary_from_tokenizer_json_only(bert_dir, tmp_path):
    """GPT-SoVITS's copy of the model ships tokenizer.json and no vocab.txt."""
    from transformers import BertTokenizerFast

    fast_dir = tmp_path / "fast"
    BertTokenizerFast(vocab_file=str(bert_dir / "vocab.txt")).save_pretrained(fast_dir)
    (fast_dir / "vocab.txt").unlink()
    (fast_dir / "tokenizer_config.json").unlink()
    settings = bert_export.read_tokenizer_settings(fast_dir)
    assert settings.vocab == (bert_dir / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert settings.do_lower_case is True and settings.strip_accents is None


def test_tokenizer_config_flags_are_kept(bert_dir, tmp_path):
    folder = tmp_path / "cased"
    shutil.copytree(bert_dir, folder)
    (folder / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": False}))
    settings = bert_export.read_tokenizer_settings(folder)
    assert settings.do_lower_case is False and settings.strip_accents is None


@pytest.mark.parametrize("problem", ["no_folder", "no_weights", "no_vocab", "hidden_64"])
def test_unusable_folders_are_refused_by_name(problem, bert_dir, tmp_path):
    folder = tmp_path / "m"
    if problem == "hidden_64":
        from transformers import BertConfig, BertModel

        shutil.copytree(bert_dir, folder, ignore=shutil.ignore_patterns("*.bin"))
        cfg = BertConfig(vocab_size=len((bert_dir / "vocab.txt").read_text().splitlines()), hidden_size=64,
                         num_hidden_layers=3, num_attention_heads=4, intermediate_size=64)
        BertModel(cfg).save_pretrained(folder, safe_serialization=False)
    elif problem != "no_folder":
        shutil.copytree(bert_dir, folder)
        (folder / ("pytorch_model.bin" if problem == "no_weights" else "vocab.txt")).unlink()
    expected = {"no_folder": "no config.json", "no_weights": "pytorch_model.bin", "no_vocab": "vocab.txt",
                "hidden_64": "hidden size 64"}[problem]
    with pytest.raises(InvalidArgument, match=expected):
        load_bert(folder)


def test_cli_export_with_bert_lists_the_graph(upstream_dir, bert_dir, tmp_path):
    from click.testing import CliRunner

    from relaytts.cli import main

    out = tmp_path / "bundle"
    result = CliRunner().invoke(main, ["export", "--gpt", str(upstream_dir / "gpt_v2.ckpt"), "--sovits",
                                       str(upstream_dir / "sovits_v2.pth"), "-o", str(out), "--bert", str(bert_dir)])
    assert result.exit_code == 0, result.output
    assert "char_features_max_abs" in result.output
    bundle = Bundle.open(out)
    entry = bundle.manifest.file(Role.BERT)
    assert entry.path == "bert.onnx" and entry.side == "cloud" and entry.validated
    assert entry.parity["char_features_max_abs"] <= TOL
    assert [f for f in bundle.manifest.files if f.role is Role.BERT] == [entry]  # fp32 only
    assert (out / VOCAB_FILE).read_bytes() == (bert_dir / "vocab.txt").read_bytes()
    assert bundle.manifest.sources["bert"]["file"] == f"{bert_dir.name}/pytorch_model.bin"
    assert "bert.onnx" in (out / "README.md").read_text()
    edge = Bundle.open(write_edge_subset(bundle, tmp_path / "edge"))
    assert Role.BERT not in {f.role for f in edge.manifest.files}
    assert Precision.FP32 in {f.precision for f in bundle.manifest.files if f.role is Role.T2S}
