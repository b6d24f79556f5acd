"""``relaytts export --g2pw DIR``: upstream's G2PW folder (and its correction tables) into a bundle."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("torch")

from bundle import Bundle, Role, write_edge_subset  # noqa: E402
from exporter.onnx.g2pw_export import TABLES_FILE, load_g2pw  # noqa: E402
from relaytts.errors import InvalidArgument  # noqa: E402
from tests.unit.exporter.tiny_g2pw import MONOPHONIC, POLYPHONIC, labels, write_tiny_g2pw  # noqa: E402

CHARS = "这家银行的行长昨天去上海出差了他还没还钱"


@pytest.fixture(scope="module")
def g2pw_dir(tmp_path_factory) -> Path:
    return write_tiny_g2pw(tmp_path_factory.mktemp("install"), chars=CHARS)


def test_tables_are_read_as_upstream_reads_them(g2pw_dir):
    tables = load_g2pw(g2pw_dir).tables
    assert tables.labels == labels()  # sorted distinct readings: upstream's get_phoneme_labels
    for char, candidates in POLYPHONIC.items():
        assert [tables.labels[i] for i in tables.char_phonemes[char]] == candidates  # file order kept
    assert tables.monophonic == MONOPHONIC
    # both correction files, the -fix file's entry winning (upstream's read_dict reads it second)
    assert tables.corrections == {"银行": ["yin2", "hang2"], "音乐": ["yin1", "yue4"], "还": ["huan2"]}
    vocab = (g2pw_dir / "bert-base-chinese" / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert tables.vocab == vocab and tables.use_mask and not tables.use_char_phoneme


def test_vocabulary_from_the_bert_folder_first(g2pw_dir, tmp_path):
    bert = tmp_path / "chinese-roberta"
    bert.mkdir()
    (bert / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n行\n", encoding="utf-8")
    assert load_g2pw(g2pw_dir, vocab_dir=bert).tables.vocab[-1] == "行"


@pytest.mark.parametrize(
    ("remove", "message"),
    [("g2pW.onnx", "g2pW.onnx"), ("POLYPHONIC_CHARS.txt", "POLYPHONIC_CHARS.txt"),
     ("../g2pw/polyphonic-fix.rep", "polyphonic-fix.rep"), ("bert-base-chinese/vocab.txt", "vocabulary")],
)  # fmt: skip
def test_incomplete_folders_are_refused_by_name(g2pw_dir, tmp_path, remove, message):
    root = tmp_path / "copy"
    shutil.copytree(g2pw_dir.parents[2], root)
    model = root / "GPT_SoVITS" / "text" / "G2PWModel"
    (model / remove).unlink()
    with pytest.raises(InvalidArgument, match=message):
        load_g2pw(model)


def test_cli_export_with_g2pw(upstream_dir, g2pw_dir, tmp_path):
    from click.testing import CliRunner

    from relaytts.cli import main

    out = tmp_path / "bundle"
    args = ["export", "--gpt", str(upstream_dir / "gpt_v2.ckpt"), "--sovits", str(upstream_dir / "sovits_v2.pth"),
            "-o", str(out), "--g2pw", str(g2pw_dir)]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "probs_max_abs" in result.output and "Chinese polyphones: g2pw" in result.output
    bundle = Bundle.open(out)
    entry = bundle.manifest.file(Role.G2PW)
    assert entry.path == "g2pw.onnx" and entry.side == "cloud" and entry.validated
    assert entry.parity["probs_max_abs"] == 0.0 and entry.parity["argmax_agreement"] == 1.0
    assert bundle.manifest.zh_polyphones == "g2pw"
    assert json.loads((out / "manifest.json").read_text())["zh_polyphones"] == "g2pw"
    assert bundle.manifest.sources["g2pw"]["file"] == "G2PWModel/g2pW.onnx"
    assert (out / TABLES_FILE).is_file() and "g2pw" in (out / "README.md").read_text()
    verify = CliRunner().invoke(main, ["bundle", "verify", str(out)])
    assert verify.exit_code == 0 and "Chinese polyphones: g2pw" in verify.output
    edge = Bundle.open(write_edge_subset(bundle, tmp_path / "edge"))
    assert Role.G2PW not in {f.role for f in edge.manifest.files}

    from workers.frontend import Frontend
    from workers.frontend.zh.g2pw import g2pw_from_bundle

    seg = Frontend(g2pw=g2pw_from_bundle(bundle)).phonemize_sentence("他还没还钱。", "zh")
    assert list(seg.symbols)[2:4] == ["h", "uan2"]  # the bundle's correction table is in use
