"""The frontend's vocabulary: languages, text segments and their phonemized form."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np

from relaytts.errors import InvalidArgument

__all__ = ["Language", "PhonemizedSegment", "PhonemizedSpan", "Segment", "Span"]


class Language(enum.StrEnum):
    """Language of a text, as the caller names it (``--lang``)."""

    ZH = "zh"
    """Mandarin Chinese; Latin-script words inside it are read as English."""
    EN = "en"
    """English; the whole text is read as English (non-Latin letters are dropped)."""
    JA = "ja"
    """Japanese; Latin-script words inside it are read as English."""
    AUTO = "auto"
    """Detect per span: kana anywhere in the text makes CJK spans Japanese, else Chinese."""

    @classmethod
    def parse(cls, value: str | Language) -> Language:
        """Return the member named by ``value``; raise ``InvalidArgument`` for anything else."""
        if isinstance(value, Language):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            allowed = ", ".join(m.value for m in cls)
            raise InvalidArgument(f"`lang` must be one of {allowed}; given {value!r}") from None


@dataclass(frozen=True)
class Span:
    """A run of one segment's text that one language's G2P reads."""

    text: str
    language: Language


@dataclass(frozen=True)
class Segment:
    """One unit of synthesis (one T2S run): text plus its per-language spans."""

    text: str
    language: Language
    """The segment's main language: the caller's, or for ``auto`` the one covering most characters."""
    spans: tuple[Span, ...]


@dataclass(frozen=True, eq=False)
class PhonemizedSpan:
    """One span after normalisation and G2P.

    ``word2ph`` has one entry per character of ``norm_text`` and sums to ``len(symbols)``. For
    Chinese it is upstream's (2 per hanzi, 1 per punctuation mark) and feeds the BERT features.
    For English a word's phones are counted at its first letter (0 for its other letters and for
    spaces); for Japanese a phrase's phones at its first character. Only the Chinese alignment is
    used downstream.
    """

    text: str
    norm_text: str
    language: Language
    symbols: tuple[str, ...]
    ids: np.ndarray = field(repr=False)
    word2ph: tuple[int, ...]


@dataclass(frozen=True, eq=False)
class PhonemizedSegment:
    """A segment ready for T2S: the concatenation of its spans' symbols, ids and ``word2ph``."""

    text: str
    norm_text: str
    language: Language
    symbols: tuple[str, ...]
    ids: np.ndarray = field(repr=False)
    """int64 phoneme ids, one per symbol."""
    word2ph: tuple[int, ...]
    spans: tuple[PhonemizedSpan, ...]

    @classmethod
    def join(cls, text: str, language: Language, spans: tuple[PhonemizedSpan, ...]) -> PhonemizedSegment:
        """Concatenate ``spans`` along the phone axis."""
        ids = np.concatenate([s.ids for s in spans]) if spans else np.zeros(0, dtype=np.int64)
        return cls(
            text=text,
            norm_text="".join(s.norm_text for s in spans),
            language=language,
            symbols=tuple(p for s in spans for p in s.symbols),
            ids=ids.astype(np.int64, copy=False),
            word2ph=tuple(n for s in spans for n in s.word2ph),
            spans=spans,
        )
