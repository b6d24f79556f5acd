"""Chinese G2P: normalised text → (phone symbols, word2ph), as upstream's ``chinese2.g2p``.

Per clause (the text is cut after every punctuation mark): jieba's part-of-speech cut, upstream's word
merges, readings per word, tone sandhi per word, erhua, then each syllable's (initial, final) becomes two
symbols of the opencpop-strict table (``pinyin.symbols_for``); a punctuation mark is one symbol.

Readings come from pypinyin's phrase dictionary on each merged word (upstream's path without G2PW), or,
given a G2PW reader (a bundle exported with ``--g2pw``, see ``g2pw``), from G2PW over the whole clause
plus upstream's per-word corrections; pypinyin still decides the word merges, as upstream.

jieba and pypinyin load lazily, once per process: jieba's prefix dictionary takes ~0.5 s and ~50 MB
to build, and a worker that never sees Chinese text should not pay for it. Call ``warm_up()`` in a
Celery parent process to build it before forking, so children share the pages.
"""

from __future__ import annotations

import functools
import logging
import re
from typing import Protocol

from .lexicon import MUST_ERHUA, NOT_ERHUA
from .normalize import PUNCTUATION, normalize
from .pinyin import split_syllable, symbols_for, to_initial_final
from .sandhi import Word, modified_tone, pre_merge

__all__ = ["G2PWReader", "g2p", "phonemize", "warm_up"]

_CLAUSE_RE = re.compile(f"(?<=[{re.escape(PUNCTUATION)}])\\s*")
_LATIN_RE = re.compile("[a-zA-Z]+")
_SPECIAL = (("￥", "SP2"), ("^", "SP3"))


class G2PWReader(Protocol):
    """Reads tone-numbered pinyin for every character of each clause (``None`` where it has none)."""

    def __call__(self, clauses: list[str]) -> list[list[str | None]]: ...

    def correct(self, word: str, pinyins: list[str | None]) -> list[str | None]:
        """Upstream's per-word corrections (``polyphonic.rep``) of one word's readings."""
        ...


@functools.cache
def _jieba_cut():  # noqa: ANN202 - jieba has no types
    import jieba
    import jieba.posseg

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba.posseg.lcut


@functools.lru_cache(maxsize=1 << 16)  # bounded: arbitrary text cannot grow it forever
def _initials(word: str) -> tuple[str, ...]:
    from pypinyin import Style, lazy_pinyin

    return tuple(lazy_pinyin(word, neutral_tone_with_five=True, style=Style.INITIALS))


@functools.lru_cache(maxsize=1 << 16)  # bounded: arbitrary text cannot grow it forever
def _finals(word: str) -> tuple[str, ...]:
    from pypinyin import Style, lazy_pinyin

    return tuple(lazy_pinyin(word, neutral_tone_with_five=True, style=Style.FINALS_TONE3))


def _finals_list(word: str) -> list[str]:
    return list(_finals(word))


def warm_up() -> None:
    """Load jieba's dictionary and pypinyin now instead of on the first sentence."""
    _jieba_cut()
    g2p(normalize("你好,世界."))


def _erhua(initials: list[str], finals: list[str], word: str, pos: str) -> tuple[list[str], list[str]]:
    """A word-final 儿 takes the tone of the syllable before it (upstream ``_merge_erhua``)."""
    if finals and word[len(finals) - 1 : len(finals)] == "儿" and finals[-1] == "er1":
        finals[-1] = "er2"
    if word not in MUST_ERHUA and (word in NOT_ERHUA or pos in ("a", "j", "nr")):
        return initials, finals
    if len(finals) != len(word):
        return initials, finals
    if len(word) > 1 and word[-1] == "儿" and finals[-1] in ("er2", "er5") and word[-2:] not in NOT_ERHUA:
        finals[-1] = "er" + finals[-2][-1]
    return initials, finals


def _symbols(ch: str, initial: str, final: str) -> tuple[str, str]:
    try:
        return symbols_for(initial, final)
    except (ValueError, IndexError):
        # 哼 hng, 呒 m, 欸 ê...: pypinyin's strict split leaves no final and upstream fails on them;
        # read the nearest table syllable instead (see ``pinyin.split_syllable``).
        from pypinyin import Style, lazy_pinyin

        syllable = lazy_pinyin(ch, style=Style.TONE3, neutral_tone_with_five=True)[0]
        tone = final[-1:] if final[-1:] in ("1", "2", "3", "4", "5") else syllable[-1:]
        try:
            return split_syllable(syllable.rstrip("12345") + tone)
        except ValueError:
            return "UNK", "UNK"


def _word_readings(word: str, pinyins: list[str | None] | None, g2pw: G2PWReader | None) -> tuple[list[str], list[str]]:
    if pinyins is None or g2pw is None:
        return list(_initials(word)), list(_finals(word))
    initials: list[str] = []
    finals: list[str] = []
    for i, syl in enumerate(g2pw.correct(word, pinyins)):
        ch = word[i] if i < len(word) else ""
        if syl and syl[0].isalpha():
            initial, final = to_initial_final(syl)
            initials.append(initial)
            finals.append(final)
        else:  # punctuation (or a character G2PW and pypinyin cannot read) stands for itself
            initials.append(syl or ch)
            finals.append(syl or ch)
    return initials, finals


def _clause(clause: str, pinyins: list[str | None] | None, g2pw: G2PWReader | None) -> tuple[list[str], list[int]]:
    words: list[Word] = [(w, p) for w, p in _jieba_cut()(clause)]
    words = pre_merge(words, _finals_list)
    phones: list[str] = []
    word2ph: list[int] = []
    start = 0
    for word, pos in words:
        end = start + len(word)
        if pos == "eng":
            start = end
            continue
        initials, finals = _word_readings(word, None if pinyins is None else pinyins[start:end], g2pw)
        start = end
        finals = modified_tone(word, pos, finals)
        initials, finals = _erhua(initials, finals, word, pos)
        for ch, c, v in zip(word, initials, finals, strict=False):
            if c == v:  # a punctuation mark (or an unreadable character, which upstream rejects)
                phones.append(c if c in PUNCTUATION else "UNK")
                word2ph.append(1)
            else:
                phones.extend(_symbols(ch, c, v))
                word2ph.append(2)
    return phones, word2ph


def g2p(norm_text: str, g2pw: G2PWReader | None = None) -> tuple[list[str], list[int]]:
    """Return ``(phones, word2ph)`` for text from ``normalize``; ``sum(word2ph) == len(phones)``.

    ``g2pw``: read characters with G2PW (upstream's default) instead of pypinyin's phrase dictionary.
    """
    clauses = [_LATIN_RE.sub("", c) for c in _CLAUSE_RE.split(norm_text) if c.strip()]
    readings: list[list[str | None] | None] = [None] * len(clauses)
    if g2pw is not None:
        non_empty = [c for c in clauses if c]
        batch = iter(g2pw(non_empty) if non_empty else [])
        readings = [next(batch) if c else None for c in clauses]
    phones: list[str] = []
    word2ph: list[int] = []
    for clause, pinyins in zip(clauses, readings, strict=True):
        p, w = _clause(clause, pinyins, g2pw)
        phones += p
        word2ph += w
    return phones, word2ph


def phonemize(text: str, g2pw: G2PWReader | None = None) -> tuple[str, list[str], list[int]]:
    """Normalise and phonemize one Chinese piece: ``(norm_text, phones, word2ph)``.

    As upstream's ``clean_text``: a ``￥`` (or else ``^``) in the text turns every comma of the piece
    into the pause symbol ``SP2`` (``SP3``), the mark itself being read as a comma first.
    """
    for mark, pause in _SPECIAL:
        if mark in text:
            norm = normalize(text.replace(mark, ","))
            phones, word2ph = g2p(norm, g2pw)
            return norm, [pause if p == "," else p for p in phones], word2ph
    norm = normalize(text)
    phones, word2ph = g2p(norm, g2pw)
    return norm, phones, word2ph
