"""Put upstream's G2PW polyphone model into a bundle (``relaytts export --g2pw DIR``).

Upstream's default Chinese frontend (``chinese2.is_g2pw = True``) reads polyphones with G2PW: an ONNX
graph in the install's ``GPT_SoVITS/text/G2PWModel`` folder (downloaded by GPT-SoVITS on first use) plus
tables read beside it. ``DIR`` is that folder. What upstream reads, and where we take it from:

* ``g2pW.onnx`` (or ``g2pw.onnx``): copied as the bundle's ``g2pw.onnx``, with ONNX metadata naming the
  tables file and its sha256 (the graph itself is unchanged; the check below runs both on the same
  inputs);
* ``config.py``: only ``use_mask`` and ``use_char_phoneme`` matter (upstream's defaults: true, false). It is
  read as literal assignments, never executed;
* ``POLYPHONIC_CHARS.txt``, ``MONOPHONIC_CHARS.txt`` and ``bopomofo_to_pinyin_wo_tune_dict.json`` (``DIR``,
  else upstream's fallback folder, which is ``DIR`` in an install); ``char_bopomofo_dict.json`` is not
  needed (upstream reads pypinyin for those characters either way);
* the tokenizer vocabulary: upstream tokenizes with the BERT folder it runs (``bert_path``,
  chinese-roberta-wwm-ext-large), so ``vocab_dir`` (``--bert``) first, then ``DIR``, ``DIR/bert-base-chinese``
  and the install's ``pretrained_models/chinese-roberta-wwm-ext-large`` (the two vocabularies are the same);
* ``polyphonic.rep`` and ``polyphonic-fix.rep``, upstream's per-word corrections: they ship with GPT-SoVITS's
  code (``GPT_SoVITS/text/g2pw/``), not in the model folder, so ``DIR/../g2pw`` (or ``DIR``, or
  ``rep_dir``); ``-fix`` entries override, as upstream's ``read_dict`` does.

All tables go into one ``g2pw_tables.json`` (``workers.frontend.zh.g2pw.G2PWTables``).
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bundle.manifest import sha256_file
from exporter.onnx.bert_export import read_tokenizer_settings
from relaytts.errors import InvalidArgument
from workers.frontend.zh.g2pw import INPUT_NAMES, G2PWTables

__all__ = ["TABLES_FILE", "LoadedG2PW", "export_g2pw_graph", "g2pw_parity", "load_g2pw"]

TABLES_FILE = "g2pw_tables.json"
GRAPH_NAMES = ("g2pW.onnx", "g2pw.onnx")
REP_FILES = ("polyphonic.rep", "polyphonic-fix.rep")
CONFIG_DEFAULTS = {"use_mask": True, "use_char_phoneme": False}


@dataclass(frozen=True)
class LoadedG2PW:
    """A G2PWModel folder read for export."""

    model_dir: Path
    graph: Path
    tables: G2PWTables

    def source(self) -> dict[str, str]:
        """Entry for ``Manifest.sources``."""
        return {
            "file": f"{self.model_dir.name}/{self.graph.name}",
            "sha256": sha256_file(self.graph),
            "info": f"G2PW, {len(self.tables.char_phonemes)} polyphonic characters, {len(self.tables.labels)} "
            f"readings, {len(self.tables.corrections)} corrections",
        }


def _read_config(path: Path) -> dict[str, Any]:
    """Literal top-level assignments of upstream's ``config.py`` (it is Python; we do not run it)."""
    values = dict(CONFIG_DEFAULTS)
    if not path.is_file():
        return values
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                values[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue  # not a literal: not one of the flags we read
    return values


def _pairs(path: Path) -> list[tuple[str, str]]:
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").strip().split("\n")]
    bad = [i + 1 for i, row in enumerate(rows) if len(row) != 2]
    if bad:
        raise InvalidArgument(f"{path}: line {bad[0]} is not 'character<TAB>bopomofo'")
    return [(a, b) for a, b in rows]


def _corrections(folder: Path) -> dict[str, list[str]]:
    """``word: ['pin1', 'yin1']`` lines of both files; the second file's entries win (upstream ``read_dict``)."""
    table: dict[str, list[str]] = {}
    for name in REP_FILES:
        path = folder / name
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            key, sep, value = line.partition(":")
            try:
                readings = ast.literal_eval(value.strip()) if sep else None
            except (ValueError, SyntaxError):
                readings = None
            if not isinstance(readings, list) or not all(isinstance(r, str) for r in readings):
                raise InvalidArgument(f"{path}:{number}: not 'word: [readings]'")
            table[key.strip()] = readings
    return table


def _find(candidates: list[Path], what: str, test: Any) -> Path:  # noqa: ANN401 - a predicate
    for folder in candidates:
        if test(folder):
            return folder
    raise InvalidArgument(f"{what} not found; looked in: " + ", ".join(str(c) for c in candidates))


def load_g2pw(
    model_dir: str | Path, *, vocab_dir: str | Path | None = None, rep_dir: str | Path | None = None
) -> LoadedG2PW:
    """Read a G2PWModel folder and upstream's correction tables; never downloads."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise InvalidArgument(f"{model_dir}: not a folder (expected GPT-SoVITS's GPT_SoVITS/text/G2PWModel)")
    graph = next((model_dir / n for n in GRAPH_NAMES if (model_dir / n).is_file()), None)
    if graph is None:
        raise InvalidArgument(f"{model_dir}: no {' or '.join(GRAPH_NAMES)} (the G2PW model)")
    for name in ("POLYPHONIC_CHARS.txt", "MONOPHONIC_CHARS.txt", "bopomofo_to_pinyin_wo_tune_dict.json"):
        if not (model_dir / name).is_file():
            raise InvalidArgument(f"{model_dir}: no {name}")
    config = _read_config(model_dir / "config.py")
    polyphonic = _pairs(model_dir / "POLYPHONIC_CHARS.txt")
    use_char_phoneme = bool(config["use_char_phoneme"])
    # upstream get_phoneme_labels / get_char_phoneme_labels: sorted distinct labels, candidates in file order
    keys = [f"{c} {p}" if use_char_phoneme else p for c, p in polyphonic]
    labels = sorted(set(keys))
    index = {label: i for i, label in enumerate(labels)}
    char_phonemes: dict[str, list[int]] = {}
    for (char, _), key in zip(polyphonic, keys, strict=True):
        char_phonemes.setdefault(char, []).append(index[key])

    vocab_candidates = [Path(vocab_dir)] if vocab_dir is not None else []
    vocab_candidates += [
        model_dir,
        model_dir / "bert-base-chinese",
        model_dir.parent.parent / "pretrained_models" / "chinese-roberta-wwm-ext-large",
    ]
    vocab_folder = _find(
        vocab_candidates,
        "a BERT tokenizer vocabulary (vocab.txt or tokenizer.json)",
        lambda f: (f / "vocab.txt").is_file() or (f / "tokenizer.json").is_file(),
    )
    tokenizer = read_tokenizer_settings(vocab_folder)
    rep_candidates = [Path(rep_dir)] if rep_dir is not None else [model_dir.parent / "g2pw", model_dir]
    rep_folder = _find(
        rep_candidates,
        "upstream's polyphonic.rep and polyphonic-fix.rep (GPT_SoVITS/text/g2pw)",
        lambda f: all((f / n).is_file() for n in REP_FILES),
    )
    tables = G2PWTables(
        labels=labels,
        char_phonemes=char_phonemes,
        monophonic=dict(_pairs(model_dir / "MONOPHONIC_CHARS.txt")),
        bopomofo_to_pinyin=json.loads((model_dir / "bopomofo_to_pinyin_wo_tune_dict.json").read_text("utf-8")),
        corrections=_corrections(rep_folder),
        vocab=tokenizer.vocab,
        use_mask=bool(config["use_mask"]),
        use_char_phoneme=use_char_phoneme,
        do_lower_case=tokenizer.do_lower_case,
        strip_accents=tokenizer.strip_accents,
    )
    return LoadedG2PW(model_dir=model_dir, graph=graph, tables=tables)


def export_g2pw_graph(g2pw: LoadedG2PW, path: Path) -> Path:
    """Write ``path`` (the G2PW graph with metadata naming the tables) and ``g2pw_tables.json`` beside it."""
    import onnx

    tables_path = path.with_name(TABLES_FILE)
    tables_path.write_text(g2pw.tables.to_json(), encoding="utf-8")
    model = onnx.load(str(g2pw.graph))
    names = {i.name for i in model.graph.input}
    missing = [n for n in INPUT_NAMES if n not in names]
    if missing:
        raise InvalidArgument(f"{g2pw.graph}: not a G2PW graph (no input {', '.join(missing)})")
    props = {p.key: p.value for p in model.metadata_props}
    props |= {"relaytts.role": "g2pw", "tables_file": TABLES_FILE, "tables_sha256": sha256_file(tables_path)}
    onnx.helper.set_model_props(model, props)
    onnx.save(model, str(path))
    return path


def _example_feeds(tables: G2PWTables, rows: int, tokens: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    chars = sorted(tables.char_phonemes)
    picked = [chars[i] for i in rng.integers(0, len(chars), rows)]
    mask = np.zeros((rows, len(tables.labels)), dtype=np.float32)
    for r, char in enumerate(picked):
        mask[r, tables.char_phonemes[char]] = 1.0
    ids = rng.integers(0, len(tables.vocab), (rows, tokens)).astype(np.int64)
    return {
        "input_ids": ids,
        "token_type_ids": np.zeros_like(ids),
        "attention_mask": np.ones_like(ids),
        "phoneme_mask": mask if tables.use_mask else np.ones_like(mask),
        "char_ids": np.array([chars.index(c) for c in picked], dtype=np.int64),
        "position_ids": rng.integers(1, tokens - 1, rows).astype(np.int64),
    }


def g2pw_parity(g2pw: LoadedG2PW, session: Any) -> dict[str, float]:  # noqa: ANN401 - an ORT session
    """The bundle's graph against the source graph on random inputs (metadata must not change a number)."""
    from bundle.session import create_session

    source = create_session(g2pw.graph)
    errors: list[float] = []
    agree: list[bool] = []
    for seed, (rows, tokens) in enumerate(((1, 8), (3, 40), (2, 130))):
        feeds = _example_feeds(g2pw.tables, rows, tokens, seed)
        want, got = source.run(None, feeds)[0], session.run(None, feeds)[0]
        if got.shape != (rows, len(g2pw.tables.labels)):
            raise InvalidArgument(
                f"{g2pw.graph}: gives {got.shape} for {rows} queries; expected "
                f"({rows}, {len(g2pw.tables.labels)}) (labels of POLYPHONIC_CHARS.txt)"
            )
        errors.append(float(np.abs(got - want).max()))
        agree.append(bool((got.argmax(1) == want.argmax(1)).all()))
    return {
        "probs_max_abs": max(errors),
        "argmax_agreement": float(all(agree)),
        "labels": float(len(g2pw.tables.labels)),
        "polyphonic_chars": float(len(g2pw.tables.char_phonemes)),
    }
