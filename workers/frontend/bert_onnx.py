"""The bundle's ``bert`` graph as a ``CharFeatureExtractor``: normalised Chinese text → ``[n_chars, 1024]``.

No torch, no transformers: ONNX Runtime runs the graph and the tokenizer is a dictionary lookup.

Tokenization is one vocabulary id per character, wrapped in ``[CLS]`` … ``[SEP]``. For what the
Chinese frontend produces (hanzi and punctuation, numbers already read out as hanzi) this is exactly
what ``BertTokenizer`` gives: BERT's basic tokenizer puts every CJK character and every punctuation
mark in a word of its own, and WordPiece maps a one-character word to its id or ``[UNK]``. Each
character is lower-cased and stripped of accents first when the exported tokenizer does so (the
graph's metadata says). Where BertTokenizer would not give one token per character (whitespace and
control characters, which it drops; runs of Latin letters or digits, which WordPiece may merge) this
still gives one row per character, as ``BertFeaturizer`` needs; upstream fails an assertion there.

Text longer than the model's 510-character window (number reading can lengthen a segment) is cut
into equal chunks that each fit, run separately, and joined.

``bert_extractor_from_bundle(bundle)`` gives ``None`` for a bundle exported without ``--bert``; the
frontend then uses zero features (``BertFeaturizer(None)``).
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bundle.bundle import Bundle
from bundle.manifest import Precision, Role, sha256_file
from bundle.session import SessionOptions
from relaytts.errors import BundleError

from .bert import BERT_DIM

if TYPE_CHECKING:
    import onnxruntime

__all__ = ["OnnxBertExtractor", "bert_extractor_from_bundle", "read_vocab"]

DEFAULT_MAX_CHARS = 510


def read_vocab(path: str | Path) -> dict[str, int]:
    """``bert_vocab.txt`` → token → id (line ``i`` is id ``i``), read the way transformers reads vocab.txt."""
    with open(path, encoding="utf-8") as reader:
        return {line.rstrip("\n"): i for i, line in enumerate(reader.readlines())}


def _flag(meta: Mapping[str, str], key: str, default: bool | None) -> bool | None:
    value = meta.get(key, "").strip().lower()
    return {"true": True, "false": False, "none": None}.get(value, default)


class OnnxBertExtractor:
    """``CharFeatureExtractor`` over an ONNX Runtime session of the ``bert`` graph.

    ``input_ids int64 [1, n + 2]`` → ``char_features float32 [n, dim]``. Thread-safe (ORT sessions are).
    """

    def __init__(
        self,
        session: onnxruntime.InferenceSession,
        vocab: Mapping[str, int],
        *,
        do_lower_case: bool = True,
        strip_accents: bool | None = None,
        cls_token: str = "[CLS]",
        sep_token: str = "[SEP]",
        unk_token: str = "[UNK]",
        max_chars: int = DEFAULT_MAX_CHARS,
        dim: int = BERT_DIM,
    ) -> None:
        missing = [t for t in (cls_token, sep_token, unk_token) if t not in vocab]
        if missing:
            raise BundleError(f"BERT vocabulary lacks {', '.join(missing)}")
        if max_chars < 1:
            raise ValueError(f"max_chars must be >= 1; given {max_chars}")
        self.session = session
        self.vocab = dict(vocab)
        self.do_lower_case = do_lower_case
        self.strip_accents = do_lower_case if strip_accents is None else strip_accents
        self.cls_id, self.sep_id, self.unk_id = vocab[cls_token], vocab[sep_token], vocab[unk_token]
        self.max_chars = max_chars
        self.dim = dim
        self._ids: dict[str, int] = {}

    @classmethod
    def from_bundle(
        cls, bundle: Bundle | str | Path, precision: Precision = Precision.FP32, options: SessionOptions | None = None
    ) -> OnnxBertExtractor:
        """Open the bundle's ``bert`` graph and the vocabulary its metadata names (hash-checked)."""
        if not isinstance(bundle, Bundle):
            bundle = Bundle.open(bundle, side="cloud")
        session = bundle.session(Role.BERT, precision, options)
        meta = dict(session.get_modelmeta().custom_metadata_map)
        name = meta.get("vocab_file")
        if not name:
            raise BundleError(f"{bundle.path(Role.BERT, precision)}: bert graph names no vocab_file in its metadata")
        vocab_path = bundle.root / name
        if not vocab_path.is_file():
            raise BundleError(f"{bundle.root}: missing {name} (the bert graph's vocabulary)")
        if meta.get("vocab_sha256") and sha256_file(vocab_path) != meta["vocab_sha256"]:
            raise BundleError(f"{vocab_path}: sha256 does not match the bert graph's metadata (tampered or corrupt)")
        return cls(
            session,
            read_vocab(vocab_path),
            do_lower_case=bool(_flag(meta, "do_lower_case", True)),
            strip_accents=_flag(meta, "strip_accents", None),
            cls_token=meta.get("cls_token", "[CLS]"),
            sep_token=meta.get("sep_token", "[SEP]"),
            unk_token=meta.get("unk_token", "[UNK]"),
            max_chars=int(meta.get("max_chars", DEFAULT_MAX_CHARS)),
            dim=int(meta.get("hidden_size", BERT_DIM)),
        )

    def char_id(self, char: str) -> int:
        """Vocabulary id of one character as BERT's tokenizer normalises it; ``[UNK]`` when absent."""
        cached = self._ids.get(char)
        if cached is not None:
            return cached
        token = char.lower() if self.do_lower_case else char
        if self.strip_accents:
            token = "".join(c for c in unicodedata.normalize("NFD", token) if unicodedata.category(c) != "Mn")
        found = self.vocab.get(token, self.unk_id)
        if len(self._ids) < 65536:  # bounded: hostile text cannot grow it without limit
            self._ids[char] = found
        return found

    def token_ids(self, norm_text: str) -> np.ndarray:
        """int64 ``[len(norm_text) + 2]``: ``[CLS]``, one id per character, ``[SEP]``."""
        return np.array([self.cls_id, *(self.char_id(c) for c in norm_text), self.sep_id], dtype=np.int64)

    def __call__(self, norm_text: str) -> np.ndarray:
        """float32 ``[len(norm_text), dim]``: one row per character, [CLS]/[SEP] removed."""
        n = len(norm_text)
        if n == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        chunks = math.ceil(n / self.max_chars)
        size = math.ceil(n / chunks)
        parts = [self._run(norm_text[start : start + size]) for start in range(0, n, size)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)

    def _run(self, text: str) -> np.ndarray:
        ids = self.token_ids(text)[None, :]
        out = self.session.run(["char_features"], {"input_ids": ids})[0]
        if out.shape != (len(text), self.dim):
            raise BundleError(f"bert graph returned {out.shape} for {len(text)} characters; expected "
                              f"({len(text)}, {self.dim})")
        return out.astype(np.float32, copy=False)


def bert_extractor_from_bundle(
    bundle: Bundle | str | Path, precision: Precision = Precision.FP32, options: SessionOptions | None = None
) -> OnnxBertExtractor | None:
    """The bundle's BERT as a ``CharFeatureExtractor``, or ``None`` when it was exported without one."""
    if not isinstance(bundle, Bundle):
        bundle = Bundle.open(bundle, side="cloud")
    if not any(f.role is Role.BERT and f.precision is precision for f in bundle.manifest.files):
        return None
    return OnnxBertExtractor.from_bundle(bundle, precision, options)
