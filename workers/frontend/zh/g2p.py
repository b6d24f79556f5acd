"""Chinese G2P: normalised text → (phone symbols, word2ph), one word2ph entry per character.

Hanzi become an initial and a tone-numbered final (2 phones); punctuation marks are their own phone
(1); the pause markers become ``SP2``/``SP3`` (1). Words come from jieba's part-of-speech cutter,
readings from pypinyin's phrase dictionary on those words, then the tone-sandhi rules.

Polyphones: upstream v2 reads them with g2pW, a BERT-sized model downloaded at install time. We
cannot download models, so readings come from pypinyin's phrase dictionary on jieba words (what
upstream v1 did), plus the part-of-speech fixes for the structural particles in ``sandhi``.

jieba and pypinyin load lazily, once per process: jieba's prefix dictionary takes ~0.5 s and ~50 MB
to build, and a worker that never sees Chinese text should not pay for it. Call ``warm_up()`` in a
Celery parent process to build it before forking, so children share the pages.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from ..symbols import SP2, SP3
from .normalize import SP2_MARK, SP3_MARK
from .pinyin import split_syllable
from .sandhi import apply_word_sandhi, context_fixes, erhua, pre_merge, third_tone_phrases

__all__ = ["g2p", "warm_up"]

_PUNCT = frozenset("!?…,.-")
_MARKS = {SP2_MARK: SP2, SP3_MARK: SP3}


@functools.cache
def _tools() -> tuple[Callable[[str], list[tuple[str, str]]], Callable[[str], list[str]], Callable[[str], bool]]:
    import jieba
    import jieba.posseg
    from pypinyin import Style, lazy_pinyin

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    freq = jieba.dt.FREQ

    def cut(text: str) -> list[tuple[str, str]]:
        return [(p.word, p.flag) for p in jieba.posseg.cut(text)]

    def readings(word: str) -> list[str]:
        return lazy_pinyin(word, style=Style.TONE3, neutral_tone_with_five=True, errors=lambda s: ["?"] * len(s))

    return cut, readings, lambda w: freq.get(w, 0) > 0


def warm_up() -> None:
    """Load jieba's dictionary and pypinyin now instead of on the first sentence."""
    _tools()
    g2p("你好")


def _word_syllables(word: str, readings: Callable[[str], list[str]]) -> list[str]:
    syls = readings(word)
    if len(syls) != len(word):  # pypinyin split a character oddly: read them one by one
        syls = [(readings(ch) or ["?"])[0] for ch in word]
    return syls


def _run_syllables(run: str) -> list[str]:
    """Tone-numbered syllables for a run of hanzi, one per character, after all sandhi rules."""
    cut, readings, is_word = _tools()
    words = pre_merge(cut(run))
    per_word: list[tuple[str, list[str]]] = []
    prev = ""
    for word, pos in words:
        syls = _word_syllables(word, readings)
        if "?" not in syls:
            syls = apply_word_sandhi(word, pos, syls, prev)
        per_word.append((word, syls))
        prev = word[-1]
    toned = third_tone_phrases(per_word, is_word)
    out: list[str] = []
    for (word, pos), syls in zip(words, toned, strict=True):
        out.extend(erhua(word, pos, syls) if "?" not in syls else syls)
    return context_fixes(run, out)


def _phones_for(syllable: str) -> list[str]:
    try:
        return list(split_syllable(syllable))
    except ValueError:
        return ["UNK"]


def g2p(norm_text: str) -> tuple[list[str], list[int]]:
    """Return ``(phones, word2ph)`` for text from ``normalize``; ``sum(word2ph) == len(phones)``."""
    phones: list[str] = []
    word2ph: list[int] = []
    run_start = None
    for i, ch in enumerate(norm_text + "\0"):
        is_han = "\u4e00" <= ch <= "\u9fa5"
        if is_han:
            if run_start is None:
                run_start = i
            continue
        if run_start is not None:
            for syllable in _run_syllables(norm_text[run_start:i]):
                ph = _phones_for(syllable)
                phones.extend(ph)
                word2ph.append(len(ph))
            run_start = None
        if i == len(norm_text):
            break
        # Anything else should have been removed by ``normalize``; keep the alignment regardless.
        phones.append(_MARKS.get(ch, ch if ch in _PUNCT else "UNK"))
        word2ph.append(1)
    return phones, word2ph
