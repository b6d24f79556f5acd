"""G2PW polyphone readings from a bundle's ``g2pw`` graph, as upstream's default Chinese path reads them.

Upstream (GPT-SoVITS ``text/g2pw``, from PaddleSpeech / g2pW) reads each clause like this, and so do we:

1. the clause is converted to Taiwan-traditional characters with OpenCC ``s2tw`` (the model was trained on
   traditional text); pypinyin (``TONE3``, neutral tone 5) reads the simplified form of that clause;
2. a character of the model's polyphonic list (less upstream's short exclusion list) is a query; a
   character of its monophonic list gets that list's reading; any other character pypinyin's;
3. each query is predicted from the clause cut to 16 characters around the first and last query:
   BERT-style tokens (one per character, WordPiece for ASCII letter/digit runs, ``[UNK]`` otherwise),
   the query's position and character id, and a mask of that character's candidate readings; the
   arg-max label (a bopomofo syllable) is converted to tone-numbered pinyin;
4. per jieba word, ``correct`` applies upstream's ``polyphonic.rep`` / ``polyphonic-fix.rep`` table: a
   whole-word entry replaces the word's readings, else single-character entries replace theirs.

Upstream runs identical clause texts of several queries once through BERT and broadcasts (a speed
measure); here each query is its own row of the same batch, which computes the same probabilities.

Everything the model needs besides the graph (labels, character lists, bopomofo table, vocabulary,
correction table) is one JSON file beside the graph, named and hash-pinned by the graph's metadata, as
the ``bert`` graph does with its vocabulary. No torch, no transformers: ONNX Runtime and the small
tokenizer below. OpenCC is the ``opencc`` package upstream uses.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bundle.bundle import Bundle
from bundle.manifest import Precision, Role, sha256_file
from bundle.session import SessionOptions
from relaytts.errors import BundleError

if TYPE_CHECKING:
    import onnxruntime

__all__ = ["G2PW", "G2PWTables", "WordPiece", "g2pw_from_bundle"]

TABLES_FORMAT = 1
INPUT_NAMES = ("input_ids", "token_type_ids", "attention_mask", "phoneme_mask", "char_ids", "position_ids")
"""The graph's inputs (upstream's ``predict`` feeds exactly these)."""
CONTEXT_CHARS = 16
"""Characters kept either side of a clause's queries (upstream's ``g2pw_polyphonic_context_chars`` default)."""
MAX_TOKENS = 512
# Upstream's exclusion lists (``_G2PWBaseOnnxConverter``): never a query / never from the monophonic list.
NON_POLYPHONIC = frozenset("一不和咋嗲剖差攢倒難奔勁拗肖瘙誒泊听噢")
NON_MONOPHONIC = frozenset("似攢")
_ASCII_WORD = re.compile(r"[a-zA-Z0-9]+")


@dataclasses.dataclass(frozen=True)
class G2PWTables:
    """What ``g2pw_tables.json`` holds (written by ``exporter.onnx.g2pw_export``)."""

    labels: list[str]
    """Model output classes: bopomofo syllables (or ``"char bopomofo"`` with ``use_char_phoneme``)."""
    char_phonemes: dict[str, list[int]]
    """Polyphonic character → its candidate label indices (``POLYPHONIC_CHARS.txt``)."""
    monophonic: dict[str, str]
    """Character → its one bopomofo reading (``MONOPHONIC_CHARS.txt``)."""
    bopomofo_to_pinyin: dict[str, str]
    """Toneless bopomofo → toneless pinyin (``bopomofo_to_pinyin_wo_tune_dict.json``)."""
    corrections: dict[str, list[str]]
    """Word or character → pinyin readings (upstream ``polyphonic.rep`` then ``polyphonic-fix.rep``)."""
    vocab: list[str]
    """Tokenizer vocabulary in id order."""
    use_mask: bool = True
    use_char_phoneme: bool = False
    do_lower_case: bool = True
    strip_accents: bool | None = None

    def to_json(self) -> str:
        data = {"format": TABLES_FORMAT, **dataclasses.asdict(self)}
        return json.dumps(data, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: object = "g2pw tables") -> G2PWTables:
        try:
            data = json.loads(text)
            if data.pop("format", None) != TABLES_FORMAT:
                raise BundleError(f"{source}: unknown G2PW tables format; re-export the bundle")
            return cls(**data)
        except (json.JSONDecodeError, TypeError) as exc:
            raise BundleError(f"{source}: malformed G2PW tables ({exc})") from None


class WordPiece:
    """BERT's ``tokenize`` for one short word (lower-casing, accent stripping, punctuation split, WordPiece).

    Enough for what G2PW tokenizes: single characters and runs of ASCII letters and digits.
    """

    def __init__(
        self,
        vocab: Sequence[str],
        *,
        do_lower_case: bool = True,
        strip_accents: bool | None = None,
        unk_token: str = "[UNK]",
        max_chars: int = 100,
    ) -> None:
        self.ids = {tok: i for i, tok in enumerate(vocab)}
        self.do_lower_case = do_lower_case
        self.strip_accents = do_lower_case if strip_accents is None else strip_accents
        self.unk = unk_token
        self.max_chars = max_chars

    def _pieces(self, text: str) -> list[str]:
        """Text cleaning and basic tokenization: control characters dropped, CJK and punctuation split off."""
        out: list[str] = []
        current = ""
        for ch in text:
            cat = unicodedata.category(ch)
            if ch in "\0\ufffd" or (cat.startswith("C") and ch not in "\t\n\r"):
                continue
            if ch.isspace() or _is_cjk(ch) or _is_punctuation(ch):
                if current:
                    out.append(current)
                current = ""
                if not ch.isspace():
                    out.append(ch)
                continue
            current += ch
        if current:
            out.append(current)
        return out

    def _normalize(self, word: str) -> str:
        if self.do_lower_case:
            word = word.lower()
        if self.strip_accents:
            word = "".join(c for c in unicodedata.normalize("NFD", word) if unicodedata.category(c) != "Mn")
        return word

    def tokenize(self, text: str) -> list[str]:
        tokens: list[str] = []
        for piece in self._pieces(text):
            for word in self._pieces(self._normalize(piece)):  # accent stripping can expose punctuation
                tokens.extend(self._wordpiece(word))
        return tokens

    def _wordpiece(self, word: str) -> list[str]:
        if len(word) > self.max_chars:
            return [self.unk]
        pieces: list[str] = []
        start = 0
        while start < len(word):
            end = len(word)
            while end > start:
                sub = ("##" if start else "") + word[start:end]
                if sub in self.ids:
                    pieces.append(sub)
                    break
                end -= 1
            else:
                return [self.unk]
            start = end
        return pieces


def _is_cjk(ch: str) -> bool:
    o = ord(ch)
    return (
        0x4E00 <= o <= 0x9FFF
        or 0x3400 <= o <= 0x4DBF
        or 0x20000 <= o <= 0x2A6DF
        or 0x2A700 <= o <= 0x2B73F
        or 0x2B740 <= o <= 0x2B81F
        or 0x2B820 <= o <= 0x2CEAF
        or 0xF900 <= o <= 0xFAFF
        or 0x2F800 <= o <= 0x2FA1F
    )


def _is_punctuation(ch: str) -> bool:
    o = ord(ch)
    return 33 <= o <= 47 or 58 <= o <= 64 or 91 <= o <= 96 or 123 <= o <= 126 or unicodedata.category(ch)[0] == "P"


@functools.cache
def _s2tw() -> Any:  # noqa: ANN401 - opencc has no types
    try:
        import opencc
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise BundleError("the bundle reads Chinese with G2PW, which needs the `opencc` package") from exc
    return opencc.OpenCC("s2tw")


class G2PW:
    """Reads every character of Chinese clauses (the ``G2PWReader`` the Chinese G2P takes)."""

    def __init__(self, session: onnxruntime.InferenceSession, tables: G2PWTables) -> None:
        names = {i.name for i in session.get_inputs()}
        missing = [n for n in INPUT_NAMES if n not in names]
        if missing:
            raise BundleError(f"g2pw graph lacks input(s) {', '.join(missing)}")
        self.session = session
        self.tables = tables
        self.tokenizer = WordPiece(tables.vocab, do_lower_case=tables.do_lower_case, strip_accents=tables.strip_accents)
        self.token_id = self.tokenizer.ids
        for special in ("[CLS]", "[SEP]", "[UNK]"):
            if special not in self.token_id:
                raise BundleError(f"G2PW vocabulary lacks {special}")
        self.chars = sorted(tables.char_phonemes)
        self.char_id = {c: i for i, c in enumerate(self.chars)}
        self.queries = set(self.chars) - NON_POLYPHONIC
        self.monophonic = {c: p for c, p in tables.monophonic.items() if c not in NON_MONOPHONIC}
        n = len(tables.labels)
        self.masks = {c: np.isin(np.arange(n), idx).astype(np.float32) for c, idx in tables.char_phonemes.items()}
        self.full_mask = np.ones(n, dtype=np.float32)

    @classmethod
    def from_bundle(cls, bundle: Bundle | str | Path, options: SessionOptions | None = None) -> G2PW:
        """Open the bundle's ``g2pw`` graph and the tables file its metadata names (hash-checked)."""
        if not isinstance(bundle, Bundle):
            bundle = Bundle.open(bundle, side="cloud")
        session = bundle.session(Role.G2PW, Precision.FP32, options)
        meta = dict(session.get_modelmeta().custom_metadata_map)
        name = meta.get("tables_file")
        if not name:
            raise BundleError(f"{bundle.path(Role.G2PW)}: g2pw graph names no tables_file in its metadata")
        path = bundle.root / name
        if not path.is_file():
            raise BundleError(f"{bundle.root}: missing {name} (the g2pw graph's tables)")
        if sha256_file(path) != meta.get("tables_sha256"):
            raise BundleError(f"{path}: sha256 does not match the g2pw graph's metadata (tampered or corrupt)")
        return cls(session, G2PWTables.from_json(path.read_text(encoding="utf-8"), source=path))

    # --- reading ---------------------------------------------------------------------------------------

    def _pinyin(self, bopomofo: str) -> str | None:
        base = self.tables.bopomofo_to_pinyin.get(bopomofo[:-1])
        return base + bopomofo[-1] if base else None

    def __call__(self, clauses: list[str]) -> list[list[str | None]]:
        """Tone-numbered pinyin per character of each clause (``None`` where nothing reads it)."""
        from pypinyin import Style, pinyin

        from .normalize import to_simplified

        results: list[list[str | None]] = []
        queries: list[tuple[int, int, str, int]] = []  # clause, char index, cropped text, index in it
        for k, clause in enumerate(clauses):
            trad = _s2tw().convert(clause)
            if len(trad) != len(clause):  # upstream asserts; keep the characters OpenCC would not map 1:1
                trad = clause
            readings = pinyin(to_simplified(trad), neutral_tone_with_five=True, style=Style.TONE3)
            out: list[str | None] = [None] * len(trad)
            polyphonic: list[int] = []
            for i, ch in enumerate(trad):
                if ch in self.queries:
                    polyphonic.append(i)
                elif ch in self.monophonic:
                    out[i] = self._pinyin(self.monophonic[ch])
                else:
                    out[i] = readings[i][0] if i < len(readings) else ch
            if polyphonic:
                left = max(0, polyphonic[0] - CONTEXT_CHARS)
                right = min(len(trad), polyphonic[-1] + CONTEXT_CHARS + 1)
                queries += [(k, i, trad[left:right], i - left) for i in polyphonic]
            results.append(out)
        if queries:
            for (k, i, _, _), label in zip(queries, self._predict([(t, q) for _, _, t, q in queries]), strict=True):
                if self.tables.use_char_phoneme:
                    label = label.split(" ")[1]
                results[k][i] = self._pinyin(label)
        return results

    def _tokens(self, text: str) -> tuple[list[str], list[int | None]]:
        """Tokens of ``text`` and each character's token index (upstream ``tokenize_and_map``)."""
        tokens: list[str] = []
        char_token: list[int | None] = [None] * len(text)
        words = 0
        i = 0
        while i < len(text):
            if text[i] == " ":
                i += 1
                continue
            m = _ASCII_WORD.match(text, i)
            end = m.end() if m else i + 1
            # upstream first maps characters to their word's index and then overwrites with token indices
            # wherever a token's length covers them; a character no token covers keeps the word index
            char_token[i:end] = [words] * (end - i)
            words += 1
            pieces = self.tokenizer.tokenize(text[i:end])
            if not pieces or pieces == ["[UNK]"]:
                pieces, lengths = ["[UNK]"], [end - i]
            else:
                lengths = [len(p.removeprefix("##")) for p in pieces]
            start = i
            for piece, length in zip(pieces, lengths, strict=True):
                for pos in range(start, min(start + length, len(text))):
                    char_token[pos] = len(tokens)
                tokens.append(piece)
                start += length
            i = end
        return tokens, char_token

    def _window(self, text: str, query: int) -> tuple[list[str], int]:
        """The tokens the model sees for one query and the query's token index (upstream ``_truncate``)."""
        tokens, char_token = self._tokens(text)
        limit = MAX_TOKENS - 2
        position = char_token[query]
        if position is None:
            raise BundleError(f"g2pw: query character {text[query]!r} has no token")
        if len(tokens) <= limit:
            return tokens, position
        start = min(max(position - limit // 2, 0), len(tokens) - limit)  # centred, kept inside the text
        return tokens[start : start + limit], position - start

    def _predict(self, items: list[tuple[str, int]]) -> list[str]:
        rows: list[dict[str, Any]] = []
        for text, query in items:
            text = text.lower()
            tokens, position = self._window(text, query)
            ids = [
                self.token_id[t] if t in self.token_id else self.token_id["[UNK]"] for t in ["[CLS]", *tokens, "[SEP]"]
            ]
            char = text[query]
            if char not in self.char_id:
                raise BundleError(f"g2pw: {char!r} is not one of the model's polyphonic characters")
            mask = self.masks[char] if self.tables.use_mask else self.full_mask
            rows.append({"ids": ids, "mask": mask, "char": self.char_id[char], "position": position + 1})
        width = max(len(r["ids"]) for r in rows)
        ids = np.zeros((len(rows), width), dtype=np.int64)
        attention = np.zeros((len(rows), width), dtype=np.int64)
        for r, row in enumerate(rows):
            ids[r, : len(row["ids"])] = row["ids"]
            attention[r, : len(row["ids"])] = 1
        feeds = {
            "input_ids": ids,
            "token_type_ids": np.zeros_like(ids),
            "attention_mask": attention,
            "phoneme_mask": np.stack([r["mask"] for r in rows]),
            "char_ids": np.array([r["char"] for r in rows], dtype=np.int64),
            "position_ids": np.array([r["position"] for r in rows], dtype=np.int64),
        }
        probs = self.session.run(None, feeds)[0]
        if probs.shape != (len(rows), len(self.tables.labels)):
            raise BundleError(f"g2pw graph returned {probs.shape}; expected ({len(rows)}, {len(self.tables.labels)})")
        return [self.tables.labels[int(k)] for k in np.argmax(probs, axis=1)]

    def correct(self, word: str, pinyins: list[str | None]) -> list[str | None]:
        """Upstream's ``correct_pronunciation``: the correction table's word entry, else its character entries."""
        whole = self.tables.corrections.get(word)
        if whole is not None:
            return list(whole)
        out = list(pinyins)
        for i, ch in enumerate(word[: len(out)]):
            fix = self.tables.corrections.get(ch)
            if fix:
                out[i] = fix[0]
        return out


def g2pw_from_bundle(bundle: Bundle | str | Path, options: SessionOptions | None = None) -> G2PW | None:
    """The bundle's G2PW reader, or ``None`` when it was exported without ``--g2pw`` (pypinyin path)."""
    if not isinstance(bundle, Bundle):
        bundle = Bundle.open(bundle, side="cloud")
    if not any(f.role is Role.G2PW for f in bundle.manifest.files):
        return None
    return G2PW.from_bundle(bundle, options)
