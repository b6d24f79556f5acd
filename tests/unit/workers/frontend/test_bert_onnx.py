"""The bundle's ``bert`` graph as the frontend's ``CharFeatureExtractor`` (ONNX Runtime only)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from bundle import Bundle, GraphFile, Manifest, Precision, Role
from bundle.manifest import MANIFEST_NAME, sha256_file
from relaytts.errors import BundleError
from workers.frontend import BertFeaturizer, Language
from workers.frontend.bert_onnx import OnnxBertExtractor, bert_extractor_from_bundle

TOL = 1e-4
REPO = Path(__file__).resolve().parents[4]


def write_bundle(root: Path, graphs: list[Path]) -> Path:
    """A bundle directory listing ``graphs`` (already inside ``root``) as fp32 bert graphs."""
    files = [GraphFile(role=Role.BERT, precision=Precision.FP32, path=g.name, sha256=sha256_file(g),
                       size_bytes=g.stat().st_size, validated=True) for g in graphs]
    manifest = Manifest(model_version="v2", t2s={}, sovits={}, files=files)
    (root / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def norm_texts() -> list[str]:
    from tests.unit.exporter.tiny_bert import normalised_zh

    return normalised_zh()


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory, norm_texts) -> Path:
    pytest.importorskip("transformers")
    from tests.unit.exporter.tiny_bert import write_tiny_bert

    return write_tiny_bert(tmp_path_factory.mktemp("bert") / "model", extra_chars="".join(norm_texts))


@pytest.fixture(scope="module")
def bundle_dir(bert_dir, tmp_path_factory) -> Path:
    from exporter.onnx.bert_export import export_bert

    root = tmp_path_factory.mktemp("bundle")
    result = export_bert(bert_dir, root / "bert.onnx")
    assert result.parity["char_features_max_abs"] <= TOL
    return write_bundle(root, [result.graph])


@pytest.fixture(scope="module")
def extractor(bundle_dir) -> OnnxBertExtractor:
    found = bert_extractor_from_bundle(Bundle.open(bundle_dir))
    assert isinstance(found, OnnxBertExtractor)
    return found


def test_char_ids_equal_bert_tokenizer_ids(extractor, bert_dir, norm_texts):
    from transformers import BertTokenizer, BertTokenizerFast

    slow = BertTokenizer(vocab_file=str(bert_dir / "vocab.txt"))
    fast = BertTokenizerFast(vocab_file=str(bert_dir / "vocab.txt"))
    assert any("鑫" in t for t in norm_texts) and "鑫" not in extractor.vocab  # [UNK] is exercised
    assert not any(ch.isdigit() for t in norm_texts for ch in t)  # the frontend reads numbers out
    for text in norm_texts:
        ids = extractor.token_ids(text).tolist()
        assert len(ids) == len(text) + 2
        assert ids == slow(text)["input_ids"] == fast(text)["input_ids"], text


def test_features_equal_transformers_hidden_states_minus_3(extractor, bert_dir, frontend):
    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    (seg,) = frontend.phonemize("我在2024年3月15日花了3.5元买了2张票！", "zh")
    (span,) = seg.spans
    tokenizer = AutoTokenizer.from_pretrained(bert_dir, local_files_only=True)
    model = AutoModelForMaskedLM.from_pretrained(bert_dir, local_files_only=True).eval()
    with torch.no_grad():  # upstream's get_bert_feature
        inputs = tokenizer(span.norm_text, return_tensors="pt")
        want = model(**inputs, output_hidden_states=True).hidden_states[-3][0, 1:-1].numpy()
    got = extractor(span.norm_text)
    assert got.dtype == np.float32 and got.shape == (len(span.norm_text), 1024)
    assert np.abs(got - want).max() <= TOL

    feats = BertFeaturizer(extractor).segment_features(seg)
    assert feats.shape == (1024, sum(seg.word2ph)) == (1024, len(seg.ids))
    np.testing.assert_array_equal(feats[:, 0], got[0])
    np.testing.assert_array_equal(feats[:, span.word2ph[0]], got[1])


def test_long_text_is_run_in_windows(extractor):
    text = "我们去公园散步," * 80  # 640 characters: over the 510-character window
    out = extractor(text)
    assert out.shape == (640, 1024)
    np.testing.assert_array_equal(out[:320], extractor(text[:320]))
    assert extractor("").shape == (0, 1024)


def test_bundle_without_bert_gives_none_and_zero_features(tmp_path):
    bundle = Bundle.open(write_bundle(tmp_path, []))
    assert bert_extractor_from_bundle(bundle) is None
    featurizer = BertFeaturizer(bert_extractor_from_bundle(bundle))
    feats = featurizer.features(["n", "i2"], [2], "你", Language.ZH)
    assert feats.shape == (1024, 2) and not feats.any()


def test_missing_or_tampered_vocabulary_is_refused(bundle_dir, tmp_path):
    import shutil

    copy = shutil.copytree(bundle_dir, tmp_path / "b")
    vocab = copy / "bert_vocab.txt"
    vocab.write_text(vocab.read_text(encoding="utf-8") + "extra\n", encoding="utf-8")
    with pytest.raises(BundleError, match="bert_vocab.txt: sha256 does not match"):
        bert_extractor_from_bundle(copy)
    vocab.unlink()
    with pytest.raises(BundleError, match="missing bert_vocab.txt"):
        bert_extractor_from_bundle(copy)


def test_runtime_imports_neither_torch_nor_transformers(bundle_dir):
    script = textwrap.dedent(f"""
        import json, sys
        from workers.frontend import BertFeaturizer, Frontend
        from workers.frontend.bert_onnx import bert_extractor_from_bundle
        fe = Frontend(bert=BertFeaturizer(bert_extractor_from_bundle({str(bundle_dir)!r})))
        (seg,) = fe.phonemize("今天天气很好。", "zh")
        feats = fe.bert_features(seg)
        print(json.dumps({{"shape": list(feats.shape), "nonzero": bool(feats.any()),
                           "torch": "torch" in sys.modules, "transformers": "transformers" in sys.modules}}))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"shape": [1024, 13], "nonzero": True, "torch": False, "transformers": False}
