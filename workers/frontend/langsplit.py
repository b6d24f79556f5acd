"""Route the spans of a mixed-language segment to the language whose G2P reads them.

Scripts decide, as in upstream's ``zh``/``ja`` modes: Latin words are English, CJK characters are
Chinese (``zh``) or Japanese (``ja``); ``auto`` picks Japanese for CJK when the text has any kana.
Digits join the CJK span they are written against ("3月", "5个"), else the span before them, else the
one after. In ``zh`` mode digits are always Chinese and a unit after a number is English ("5kg" → zh
"5" + en "kg"), as upstream's ``LangSegmenter.getTexts(text, "zh")`` splits them; in ``auto`` mode a
measurement unit written after a number inside Chinese ("5kg", "30 km/h") stays with the number, so the
Chinese normaliser can read it as 千克/千米每小时. Punctuation, spaces and characters
no language reads (emoji, Hangul, other scripts) ride along with a neighbouring span and are dropped
by that language's normaliser.
"""

from __future__ import annotations

import re
from collections import Counter

from .schema import Language, Span

__all__ = ["char_class", "has_kana", "main_language", "split_languages"]

_HAN, _KANA, _LATIN, _DIGIT, _OTHER = "han", "kana", "latin", "digit", "other"

ZH_UNITS = (
    "km/h", "m/s", "km²", "m²", "m³", "cm²", "cm³", "mAh", "kWh", "kHz", "MHz", "GHz", "km", "kg", "cm", "mm",
    "mg", "ml", "mL", "ms", "min", "Hz", "kW", "m", "g", "L", "t", "h", "s", "W", "V",
)  # fmt: skip
"""Units the Chinese normaliser reads when written right after a number (longest first)."""

_UNIT_RE = re.compile(r"(?<=\d) ?(?:" + "|".join(re.escape(u) for u in ZH_UNITS) + r")(?![A-Za-z])")
_NUMBER_JOINERS = frozenset(".,:/-")
_LATIN_WORD_RE = re.compile(r"[A-Za-z\u00c0-\u024f]+")


def char_class(ch: str) -> str:
    """Classify one character by script: han, kana, latin, digit or other."""
    o = ord(ch)
    if 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF or ch in "々〇":
        return _HAN
    if 0x3040 <= o <= 0x30FF or 0x31F0 <= o <= 0x31FF or 0xFF66 <= o <= 0xFF9F:
        return _KANA
    if ch.isascii():
        if ch.isalpha():
            return _LATIN
        if ch.isdigit():
            return _DIGIT
        return _OTHER
    if 0x00C0 <= o <= 0x024F and ch.isalpha():
        return _LATIN
    return _OTHER


def has_kana(text: str) -> bool:
    """Whether ``text`` has any hiragana or katakana (our sign that CJK text is Japanese)."""
    return any(char_class(c) == _KANA for c in text)


# split-lang's word separators (its PUNCTUATION) and the ranges upstream's ``full_en`` accepts in an
# English piece: a Latin word glued to any other character ("°C", "μm", "Àb") is not English there.
_SPLIT_LANG_PUNCT = frozenset("""〜~,.;:!?，。！？；：、·([{<（【《〈「『“‘)]}>）】》〉」』”’"-_—#$%&…￥'*+=?@\\^`|""")
_FULL_EN_RE = re.compile(r"[\u0020-\u007e\u2000-\u206f\u3000-\u303f\uff00-\uffef]+")


def _not_english_words(text: str) -> list[tuple[int, int]]:
    """Spans of Latin words upstream's zh mode keeps Chinese: a word with a character ``full_en`` rejects.

    A word here is a run without spaces, digits (``str.isdigit``: also ``²``), CJK or split-lang's
    punctuation.
    """
    out: list[tuple[int, int]] = []
    start = 0
    for i, ch in enumerate(text + " "):
        if ch.isspace() or ch.isdigit() or ch in _SPLIT_LANG_PUNCT or char_class(ch) in (_HAN, _KANA):
            word = text[start:i]
            if word and _FULL_EN_RE.fullmatch(word) is None and any(char_class(c) == _LATIN for c in word):
                out.append((start, i))
            start = i + 1
    return out


def _runs(text: str, cjk: Language, units: bool) -> list[tuple[str, str]]:
    """Group ``text`` into (class, chars) runs; number-internal joiners stay in the digit run."""
    classes = [char_class(c) for c in text]
    if not units:  # zh mode: see _not_english_words; split-lang reads ² ① as digits (str.isdigit)
        for start, end in _not_english_words(text):
            for i in range(start, end):
                classes[i] = _OTHER
        classes = [_DIGIT if c == _OTHER and ch.isdigit() else c for ch, c in zip(text, classes, strict=True)]
    for i, ch in enumerate(text):
        if ch in _NUMBER_JOINERS and 0 < i < len(text) - 1 and text[i - 1].isdigit() and text[i + 1].isdigit():
            classes[i] = _DIGIT
    if units and cjk is Language.ZH:
        for m in _UNIT_RE.finditer(text):
            for i in range(m.start(), m.end()):
                classes[i] = _DIGIT
    runs: list[tuple[str, str]] = []
    for ch, cls in zip(text, classes, strict=True):
        if runs and runs[-1][0] == cls:
            runs[-1] = (cls, runs[-1][1] + ch)
        else:
            runs.append((cls, ch))
    return runs


def split_languages(text: str, lang: Language, cjk: Language | None = None) -> tuple[Span, ...]:
    """Split one segment's ``text`` into per-language spans.

    ``cjk`` is the language of CJK characters; ``None`` derives it from ``lang`` (and, for ``auto``,
    from kana in ``text``). ``lang=en`` gives one English span.
    """
    if not text:
        return ()
    if lang is Language.EN:
        return (Span(text, Language.EN),)
    if cjk is None:
        cjk = Language.JA if lang is Language.JA or (lang is Language.AUTO and has_kana(text)) else Language.ZH
    runs = _runs(text, cjk, units=lang is not Language.ZH)
    langs: list[Language | None] = [
        cjk if cls in (_HAN, _KANA) else Language.EN if cls == _LATIN else None for cls, _ in runs
    ]
    # Digits: against a CJK character → that language; else the previous span; else the next one.
    for i, (cls, _) in enumerate(runs):
        if cls != _DIGIT:
            continue
        nxt = runs[i + 1][0] if i + 1 < len(runs) else None
        if nxt in (_HAN, _KANA) or lang is Language.ZH:
            langs[i] = cjk
            continue
        prev = next((lg for lg in reversed(langs[:i]) if lg is not None), None)
        langs[i] = prev or next((lg for lg in langs[i + 1 :] if lg is not None), None)
    fallback = cjk if lang is not Language.AUTO else Language.EN
    # Punctuation, spaces and unread characters ride with the previous span (leading ones: the next).
    resolved: list[Language] = []
    for i, lg in enumerate(langs):
        if lg is None:
            lg = resolved[-1] if resolved else next((x for x in langs[i + 1 :] if x is not None), fallback)
        resolved.append(lg)
    spans: list[Span] = []
    for (_, chars), lg in zip(runs, resolved, strict=True):
        if spans and spans[-1].language is lg:
            spans[-1] = Span(spans[-1].text + chars, lg)
        else:
            spans.append(Span(chars, lg))
    return tuple(spans)


def main_language(spans: tuple[Span, ...], lang: Language) -> Language:
    """The segment's language: the caller's, or for ``auto`` the one with the most words.

    A CJK character counts as a word, as does a run of Latin letters.
    """
    if lang is not Language.AUTO:
        return lang
    counts: Counter[Language] = Counter()
    for span in spans:
        if span.language is Language.EN:
            counts[span.language] += len(_LATIN_WORD_RE.findall(span.text))
        else:
            counts[span.language] += sum(1 for c in span.text if char_class(c) in (_HAN, _KANA))
    return counts.most_common(1)[0][0] if counts else Language.EN
