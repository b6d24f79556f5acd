"""G2PW polyphone readings from a bundle (upstream's default Chinese path), on ONNX Runtime alone.

The graphs are small stand-ins with G2PW's interface (``tests/unit/exporter/tiny_g2pw.py``); the ``probe`` one
answers in a way known in advance, so these tests check what reaches the model and how its answer is read
back, not the model's quality.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bundle import Bundle, GraphFile, Manifest, Precision, Role
from bundle.manifest import MANIFEST_NAME, sha256_file
from relaytts.errors import BundleError
from workers.frontend import Frontend
from workers.frontend.zh.g2pw import G2PW, WordPiece, g2pw_from_bundle

pytest.importorskip("torch")
pytest.importorskip("opencc")

SENTENCES = ("这家银行的行长昨天去上海出差了。", "他还没还钱，音乐会很快乐。", "我们重新开始吧，路还很长。")
REPO = Path(__file__).resolve().parents[4]


def write_bundle(root: Path, model_dir: Path) -> Path:
    """A bundle directory holding only the g2pw graph and its tables (as ``relaytts export`` writes them)."""
    from exporter.onnx.g2pw_export import export_g2pw_graph, load_g2pw

    root.mkdir(parents=True, exist_ok=True)
    graph = export_g2pw_graph(load_g2pw(model_dir), root / "g2pw.onnx")
    entry = GraphFile(
        role=Role.G2PW,
        precision=Precision.FP32,
        path=graph.name,
        sha256=sha256_file(graph),
        size_bytes=graph.stat().st_size,
        validated=True,
    )
    (root / MANIFEST_NAME).write_text(Manifest(model_version="v2", t2s={}, sovits={}, files=[entry]).to_json())
    return root


@pytest.fixture(scope="module")
def probe_dir(tmp_path_factory) -> Path:
    from tests.unit.exporter.tiny_g2pw import write_tiny_g2pw

    return write_tiny_g2pw(tmp_path_factory.mktemp("install"), chars="".join(SENTENCES), kind="probe")


@pytest.fixture(scope="module")
def probe(probe_dir, tmp_path_factory) -> G2PW:
    bundle = write_bundle(tmp_path_factory.mktemp("bundle"), probe_dir)
    reader = g2pw_from_bundle(bundle)
    assert reader is not None
    return reader


def _probe_answer(probe_dir: Path, char: str) -> str:
    """What the probe graph must answer for a query character (see tiny_g2pw)."""
    from tests.unit.exporter.tiny_g2pw import BOPOMOFO_TO_PINYIN, POLYPHONIC

    vocab = (probe_dir / "bert-base-chinese" / "vocab.txt").read_text(encoding="utf-8").splitlines()
    candidates = sorted(POLYPHONIC[char])
    label = candidates[-1] if vocab.index(char) % 2 == 0 else candidates[0]
    return BOPOMOFO_TO_PINYIN[label[:-1]] + label[-1]


def test_clause_readings_follow_upstreams_three_sources(probe, probe_dir):
    from pypinyin import Style, pinyin

    clause = "这家银行的行长昨天去上海出差了."
    (got,) = probe([clause])
    plain = [r[0] for r in pinyin(clause, neutral_tone_with_five=True, style=Style.TONE3)]
    expected = list(plain)
    expected[1], expected[2] = "gu1", "yin2"  # 家, 銀: the monophonic table, not pypinyin
    for i in (3, 5, 6):  # 行, 行, 長 (s2tw): the model's answers
        expected[i] = _probe_answer(probe_dir, "行" if i != 6 else "長")
    assert got == expected


def test_excluded_characters_are_not_queries(probe):
    from pypinyin import Style, pinyin

    clause = "一天一夜."  # 一 is in the model's list but on upstream's exclusion list: pypinyin reads it
    assert probe([clause]) == [[r[0] for r in pinyin(clause, neutral_tone_with_five=True, style=Style.TONE3)]]


def test_corrections_replace_whole_words_then_characters(probe):
    assert probe.correct("银行", ["yin2", "xing2"]) == ["yin2", "hang2"]
    assert probe.correct("音乐", ["yin1", "le4"]) == ["yin1", "yue4"]  # polyphonic-fix.rep wins
    assert probe.correct("还钱", ["hai2", "qian2"]) == ["huan2", "qian2"]  # single-character entry
    assert probe.correct("长大", ["zhang3", "da4"]) == ["zhang3", "da4"]


def test_frontend_reads_through_g2pw(probe):
    with_g2pw = Frontend(g2pw=probe).phonemize_sentence("他还没还钱。", "zh")
    plain = Frontend().phonemize_sentence("他还没还钱。", "zh")
    # 还 has a single-character correction (huan2) that applies in every word: both become h uan2
    assert list(with_g2pw.symbols) == ["t", "a1", "h", "uan2", "m", "ei2", "h", "uan2", "q", "ian2", "."]
    assert list(plain.symbols)[2:4] == ["h", "ai2"]  # pypinyin's reading, for contrast
    assert len(with_g2pw.word2ph) == len(with_g2pw.norm_text)


def test_random_graph_reads_every_sentence(tmp_path):
    from tests.unit.exporter.tiny_g2pw import write_tiny_g2pw

    model_dir = write_tiny_g2pw(tmp_path / "install", chars="".join(SENTENCES), kind="random", seed=3)
    reader = g2pw_from_bundle(write_bundle(tmp_path / "bundle", model_dir))
    readings = reader(["我们重新开始吧,", "路还很长."])
    allowed = {"zhong4", "chong2", "hai2", "huan2", "chang2", "zhang3"}
    assert readings[0][2] in allowed and readings[1][1] in allowed and readings[1][3] in allowed
    fe = Frontend(g2pw=reader)
    for text in SENTENCES:
        seg = fe.phonemize_sentence(text, "zh")
        assert "UNK" not in seg.symbols and len(seg.word2ph) == len(seg.norm_text)


@pytest.mark.parametrize(
    "word", ["行", "鑫", "，", ",", "phone", "phones", "PHONE", "ab12", "é", "x\u0301", "\u200b", "…", "ing"]
)
def test_wordpiece_matches_bert_tokenizer(probe_dir, word):
    transformers = pytest.importorskip("transformers")
    vocab_file = probe_dir / "bert-base-chinese" / "vocab.txt"
    reference = transformers.BertTokenizer(vocab_file=str(vocab_file))
    ours = WordPiece(vocab_file.read_text(encoding="utf-8").splitlines())
    assert ours.tokenize(word) == reference.tokenize(word)


def test_bundle_without_g2pw_reads_with_pypinyin(tmp_path):
    (tmp_path / MANIFEST_NAME).write_text(Manifest(model_version="v2", t2s={}, sovits={}, files=[]).to_json())
    assert g2pw_from_bundle(tmp_path) is None
    assert Bundle.open(tmp_path).manifest.zh_polyphones == "pypinyin"


def test_manifest_says_g2pw_and_tables_are_hash_pinned(probe_dir, tmp_path):
    import json

    bundle = write_bundle(tmp_path, probe_dir)
    assert json.loads((bundle / MANIFEST_NAME).read_text())["zh_polyphones"] == "g2pw"
    assert Bundle.open(bundle).manifest.zh_polyphones == "g2pw"
    tables = bundle / "g2pw_tables.json"
    tables.write_text(tables.read_text(encoding="utf-8").replace("huan2", "hai2"), encoding="utf-8")
    with pytest.raises(BundleError, match="g2pw_tables.json"):
        G2PW.from_bundle(bundle)


def test_reading_needs_no_torch(probe_dir, tmp_path):
    bundle = write_bundle(tmp_path, probe_dir)
    script = (
        "import sys\n"
        "from workers.frontend import Frontend\n"
        "from workers.frontend.zh.g2pw import g2pw_from_bundle\n"
        f"seg = Frontend(g2pw=g2pw_from_bundle({str(bundle)!r})).phonemize_sentence('这家银行的行长还没来。', 'zh')\n"
        "assert len(seg.ids) > 10\n"
        "print(','.join(m for m in ('torch', 'transformers') if m in sys.modules) or 'clean')\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "clean"


def test_g2pw_path_equals_upstreams_own(tmp_path):
    """443 sentences through upstream's G2PW code path and ours, same graph and tables (see expected.jsonl)."""
    import json

    folder = Path(__file__).parent / "data" / "g2pw_parity"
    lines = (folder / "expected.jsonl").read_text(encoding="utf-8").splitlines()[1:]
    reader = g2pw_from_bundle(write_bundle(tmp_path, folder / "GPT_SoVITS" / "text" / "G2PWModel"))
    fe = Frontend(g2pw=reader)
    wrong = []
    for record in map(json.loads, lines):
        seg = fe.phonemize_sentence(record["text"], "zh")
        if (seg.norm_text, " ".join(seg.symbols)) != (record["norm_text"], record["phones"]):
            wrong.append(record["text"])
    assert len(lines) == 443 and wrong == []
