"""BERT features for T2S: a float32 ``[1024, n_phones]`` array per span or segment.

Upstream feeds T2S the hidden states of chinese-roberta-wwm-ext-large (layer −3) for Chinese text,
one 1024-d vector per character of the normalised text, repeated ``word2ph[i]`` times so there is one
vector per phone; every other language gets zeros. A bundle's optional ``bert`` graph plugs in as a
``CharFeatureExtractor`` (normalised text → ``[n_chars, 1024]``; see ``bert_onnx.py``). Without one
the features are zeros, and the process logs that once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from .schema import Language, PhonemizedSegment, PhonemizedSpan

__all__ = ["BERT_DIM", "BertFeaturizer", "CharFeatureExtractor", "expand_to_phones"]

BERT_DIM = 1024
"""Width of one BERT feature vector (hidden size of chinese-roberta-wwm-ext-large)."""

log = logging.getLogger(__name__)
_warned = threading.Event()


class CharFeatureExtractor(Protocol):
    """Per-character features of normalised Chinese text (the bundle's BERT session implements this)."""

    def __call__(self, norm_text: str) -> np.ndarray:
        """Return float32 ``[len(norm_text), BERT_DIM]``: one row per character, [CLS]/[SEP] removed."""
        ...


def expand_to_phones(char_features: np.ndarray, word2ph: Sequence[int]) -> np.ndarray:
    """Repeat row ``i`` of ``[n_chars, dim]`` ``word2ph[i]`` times; return ``[dim, sum(word2ph)]``."""
    if char_features.shape[0] != len(word2ph):
        raise ValueError(f"BERT gave {char_features.shape[0]} character rows for {len(word2ph)} word2ph entries")
    per_phone = np.repeat(char_features.astype(np.float32, copy=False), np.asarray(word2ph, dtype=np.int64), axis=0)
    return np.ascontiguousarray(per_phone.T)


class BertFeaturizer:
    """Turn phonemized text into T2S BERT features, with or without a BERT model.

    ``BertFeaturizer()`` gives zeros (and logs one warning per process, at construction: a worker
    builds one featurizer at start-up, so the warning is a start-up message, not a per-request one).
    ``BertFeaturizer(extractor)`` runs ``extractor`` on Chinese spans.
    """

    def __init__(self, extractor: CharFeatureExtractor | None = None, dim: int = BERT_DIM) -> None:
        self.extractor = extractor
        self.dim = dim
        if extractor is None and not _warned.is_set():
            _warned.set()
            log.warning(
                "no BERT graph configured: Chinese text gets zero BERT features (as non-Chinese text always "
                "does); expect flatter Chinese prosody until the bundle provides `bert`"
            )

    @property
    def enabled(self) -> bool:
        """Whether real features are computed (a BERT extractor is configured)."""
        return self.extractor is not None

    def features(self, phones: Sequence[str], word2ph: Sequence[int], norm_text: str, language: Language) -> np.ndarray:
        """Return float32 ``[dim, len(phones)]`` for one span (zeros unless Chinese with an extractor)."""
        if self.extractor is None or language is not Language.ZH or not phones:
            return np.zeros((self.dim, len(phones)), dtype=np.float32)
        if sum(word2ph) != len(phones) or len(word2ph) != len(norm_text):
            raise ValueError("word2ph must have one entry per character and sum to the number of phones")
        feats = np.asarray(self.extractor(norm_text))
        if feats.ndim != 2 or feats.shape[1] != self.dim:
            raise ValueError(f"BERT extractor returned shape {feats.shape}; expected ({len(norm_text)}, {self.dim})")
        return expand_to_phones(feats, word2ph)

    def span_features(self, span: PhonemizedSpan) -> np.ndarray:
        """Features for one phonemized span."""
        return self.features(span.symbols, span.word2ph, span.norm_text, span.language)

    def segment_features(self, segment: PhonemizedSegment) -> np.ndarray:
        """Features for a whole segment: its spans' features joined along the phone axis."""
        if not segment.spans:
            return np.zeros((self.dim, 0), dtype=np.float32)
        return np.concatenate([self.span_features(s) for s in segment.spans], axis=1)
