"""``Frontend``: text → segments → per-language normalisation and G2P → phoneme ids (+ BERT features).

Heavy data (jieba's dictionary, pypinyin, the CMU dictionary, the OOV model, OpenJTalk's dictionary)
loads lazily, on the first text of each language, and once per process: importing this module costs
nothing, and a worker that only ever reads English never pays for Chinese. ``warm_up()`` loads it all
up front — call it in a Celery parent before forking, so the children share the pages.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from relaytts.errors import InvalidArgument

from . import symbols as sym
from .bert import BertFeaturizer
from .ja.g2p import JapaneseSetupError  # cheap: pyopenjtalk itself loads on first use
from .langsplit import has_kana, main_language, split_languages
from .schema import Language, PhonemizedSegment, PhonemizedSpan, Segment, Span
from .segment import MAX_SEGMENT_CHARS, MIN_SEGMENT_CHARS, normalize_punctuation, split_text

if TYPE_CHECKING:
    from .zh.g2p import G2PWReader

__all__ = ["Frontend"]

log = logging.getLogger(__name__)

MIN_SEGMENT_PHONES = 6
"""A segment with fewer phones is phonemized again with a leading ``.`` (upstream: T2S needs context)."""


def _g2p_zh(text: str, g2pw: G2PWReader | None = None) -> tuple[str, list[str], list[int]]:
    from .zh.g2p import phonemize

    return phonemize(text, g2pw)


def _g2p_en(text: str) -> tuple[str, list[str], list[int]]:
    from .en.g2p import g2p
    from .en.normalize import normalize

    norm = normalize(text)
    if not norm:
        return "", [], []
    phones, word2ph, norm = g2p(norm)
    return norm, phones, word2ph


def _g2p_ja(text: str) -> tuple[str, list[str], list[int]]:
    from .ja.g2p import g2p, normalize

    norm = normalize(text)
    phones, word2ph = g2p(norm)
    return norm, phones, word2ph


_CJK_RE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_G2P = {Language.ZH: _g2p_zh, Language.EN: _g2p_en, Language.JA: _g2p_ja}


class Frontend:
    """The text frontend the workers run.

    Usage::

        fe = Frontend()
        for seg in fe.phonemize("今天天气很好，我们去 park 散步吧。", "zh"):
            seg.ids          # np.int64 phoneme ids for T2S
            fe.bert_features(seg)   # float32 [1024, len(seg.ids)]
    """

    def __init__(
        self,
        *,
        max_segment_chars: int = MAX_SEGMENT_CHARS,
        min_segment_chars: int = MIN_SEGMENT_CHARS,
        bert: BertFeaturizer | None = None,
        g2pw: G2PWReader | None = None,
    ) -> None:
        if max_segment_chars < 16:
            raise InvalidArgument(f"`max_segment_chars` must be at least 16; given {max_segment_chars}")
        self.max_segment_chars = max_segment_chars
        self.min_segment_chars = min_segment_chars
        self._bert = bert
        self.g2pw = g2pw
        """Chinese polyphone reader (a bundle's G2PW, upstream's default); ``None``: pypinyin's dictionary."""

    @property
    def bert(self) -> BertFeaturizer:
        """The BERT featurizer (zeros, with one start-up warning, unless one was given)."""
        if self._bert is None:
            self._bert = BertFeaturizer()
        return self._bert

    def warm_up(self, languages: Iterable[Language | str] = (Language.ZH, Language.EN, Language.JA)) -> None:
        """Load every dictionary and model the given languages need, now."""
        for lang in map(Language.parse, languages):
            if lang is Language.ZH:
                from .zh.g2p import warm_up
            elif lang is Language.EN:
                from .en.g2p import warm_up
            elif lang is Language.JA:
                from .ja.g2p import warm_up
            else:
                continue
            try:
                warm_up()
            except JapaneseSetupError as exc:
                # A server without the OpenJTalk dictionary still serves Chinese and English; each Japanese
                # request then fails with this same message (FAILED_PRECONDITION) instead of the whole worker.
                log.warning("Japanese is unavailable on this server: %s", exc)
        sym.symbol_table()
        _ = self.bert

    def segments(self, text: str, lang: Language | str = Language.AUTO) -> list[Segment]:
        """Split ``text`` into synthesis segments, each split into per-language spans.

        Returns ``[]`` for text with nothing to say (empty, only punctuation or emoji).
        """
        if not isinstance(text, str):
            raise InvalidArgument(f"`text` must be a string; given {type(text).__name__}")
        lang = Language.parse(lang)
        cjk = None
        if lang is Language.AUTO:
            cjk = Language.JA if has_kana(text) else Language.ZH
        closing = "." if lang is Language.EN or (lang is Language.AUTO and not _has_cjk(text)) else "。"
        out: list[Segment] = []
        # Japanese text keeps its full-width characters: upstream's Japanese reader tells them apart.
        fold = not (lang is Language.JA or cjk is Language.JA)
        pieces = split_text(text, closing, self.max_segment_chars, self.min_segment_chars, fold_width=fold)
        for piece in pieces:
            spans = split_languages(piece, lang, cjk)
            out.append(Segment(piece, main_language(spans, lang), spans))
        return out

    def phonemize(self, text: str, lang: Language | str = Language.AUTO) -> list[PhonemizedSegment]:
        """Segment ``text`` and phonemize every segment; segments with nothing to say are left out."""
        out: list[PhonemizedSegment] = []
        for segment in self.segments(text, lang):
            done = self.phonemize_segment(segment)
            if done is not None:
                out.append(done)
        return out

    def phonemize_sentence(self, text: str, lang: Language | str = Language.AUTO) -> PhonemizedSegment | None:
        """Phonemize ``text`` as exactly one segment (no cutting), as upstream reads one cut piece.

        This is the unit upstream's goldens describe; ``phonemize`` is this after ``segments``' cutting.
        """
        lang = Language.parse(lang)
        cjk = (Language.JA if has_kana(text) else Language.ZH) if lang is Language.AUTO else None
        text = normalize_punctuation(text, fold_width=not (lang is Language.JA or cjk is Language.JA)).strip()
        spans = split_languages(text, lang, cjk)
        if not spans:
            return None
        return self.phonemize_segment(Segment(text, main_language(spans, lang), spans))

    def phonemize_segment(self, segment: Segment) -> PhonemizedSegment | None:
        """Phonemize one segment; ``None`` when it yields no phones other than punctuation."""
        result = self._phonemize_spans(segment.text, segment.spans)
        if result is None:
            return None
        if len(result.symbols) < MIN_SEGMENT_PHONES:
            first = segment.spans[0]
            spans = (Span("." + first.text, first.language), *segment.spans[1:])
            result = self._phonemize_spans(segment.text, spans) or result
        return PhonemizedSegment.join(segment.text, segment.language, result.spans)

    def phonemize_span(self, span: Span) -> PhonemizedSpan:
        """Normalise and phonemize one single-language span."""
        if span.language is Language.ZH:
            norm, phones, word2ph = _g2p_zh(span.text, self.g2pw)
        else:
            norm, phones, word2ph = _G2P[span.language](span.text)
        table = sym.symbol_table()
        symbols = tuple(p if p in table else sym.UNK for p in phones)
        return PhonemizedSpan(span.text, norm, span.language, symbols, sym.ids_of(symbols), tuple(word2ph))

    def bert_features(self, segment: PhonemizedSegment) -> np.ndarray:
        """float32 ``[1024, len(segment.ids)]`` BERT features for T2S (see ``bert``)."""
        return self.bert.segment_features(segment)

    def _phonemize_spans(self, text: str, spans: tuple[Span, ...]) -> PhonemizedSegment | None:
        done = tuple(p for p in (self.phonemize_span(s) for s in spans) if p.symbols)
        # Only marks and UNK (Japanese keeps unread characters as UNK, as upstream): nothing to say.
        if not any(s not in sym.PUNCTUATION and s != sym.UNK for p in done for s in p.symbols):
            return None
        return PhonemizedSegment.join(text, spans[0].language, done)


def _has_cjk(text: str) -> bool:
    return _CJK_RE.search(text) is not None
