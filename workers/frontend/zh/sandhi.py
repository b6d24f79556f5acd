"""Mandarin tone sandhi on tone-numbered pinyin (``"ni3"``), word by word.

Rules, applied in this order (the order matters: 一个 → yi2 ge4 before 个 turns neutral):

* 不: neutral in the V不V question (看不看); tone 2 before a tone-4 syllable (不要 → bu2 yao4).
* 一: tone 1 in numbers and ordinals (一百一, 第一) and at the end of a word; neutral in V一V (看一看);
  tone 2 before tone 4 (一个, 一样); tone 4 before tones 1–3 (一天, 一年, 一起).
* neutral tone (轻声): sentence particles, the structural 的/地/得/着/了, noun suffixes 子/们, directional
  上/下/里 after a noun and 来/去 after a verb of direction, 个 after a number, reduplicated nouns,
  verbs and adjectives (妈妈, 看看), and a list of everyday words (东西, 朋友).
* third tone: two third tones in a row → the first becomes 2 (你好 → ni2 hao3). Inside a phrase the
  word structure decides three in a row: 2+1 (展览/馆) → 2 2 3, 1+2 (老/虎皮...) → 3 2 3.
* erhua: a suffix 儿 is not a syllable of its own in speech; upstream keeps it as ``er`` (so word2ph
  stays 2 per hanzi) but with the tone of the syllable it colours (花园儿 → ... er2 → tone of 园).
"""

from __future__ import annotations

from collections.abc import Callable

from .lexicon import MUST_NEUTRAL, NOT_ERHUA, NOT_NEUTRAL, PARTICLES

__all__ = ["Word", "apply_word_sandhi", "erhua", "pre_merge", "context_fixes", "third_tone_phrases"]

Word = tuple[str, str]
"""A jieba word and its part-of-speech tag."""

_NUMERALS = frozenset("零一二三四五六七八九十百千万亿两几")
_PUNCT = frozenset("!?…,.-")
_DIGIT_WORDS = frozenset("零〇一二三四五六七八九两")
_DIRECTION_VERBS = frozenset("上下进出回过起开")


def _tone(syllable: str) -> str:
    return syllable[-1]


def _retone(syllable: str, tone: str) -> str:
    return syllable[:-1] + tone


def pre_merge(words: list[Word]) -> list[Word]:
    """Merge jieba words so that the sandhi rules see the syllable that follows inside one word.

    不 and a lone 一 join the next word, V一V and reduplicated single characters join into one word,
    and a lone 儿 joins the word before it.
    """
    merged: list[Word] = []
    i = 0
    while i < len(words):
        word, pos = words[i]
        nxt = words[i + 1] if i + 1 < len(words) else None
        if (
            nxt is not None
            and len(word) == 1
            and i + 2 < len(words)
            and nxt[0] in ("一", "不")
            and words[i + 2][0] == word
            and word not in _NUMERALS
        ):
            merged.append((word + nxt[0] + word, pos))  # 看 一 看 → 看一看, 买 不 买 → 买不买
            i += 3
            continue
        if word in ("不", "一") and nxt is not None and nxt[0][0] not in _PUNCT:
            words = [*words[: i + 1], (word + nxt[0], nxt[1]), *words[i + 2 :]]
            i += 1  # re-examine the merged word in its new slot
            continue
        if word == "儿" and merged and merged[-1][0][-1] not in _PUNCT:
            prev, ppos = merged.pop()
            merged.append((prev + word, ppos))
            i += 1
            continue
        if merged and len(word) == 1 and merged[-1][0] == word and pos[:1] in "vna":
            merged.pop()
            merged.append((word + word, pos))  # 试 试 → 试试
            i += 1
            continue
        merged.append((word, pos))
        i += 1
    return merged


def _bu(word: str, syls: list[str]) -> None:
    if len(word) == 3 and word[1] == "不":  # 看不看, and the potential complement 对不起, 来不及
        syls[1] = _retone(syls[1], "5")
        return
    for i, ch in enumerate(word[:-1]):
        if ch == "不" and _tone(syls[i + 1]) == "4":
            syls[i] = _retone(syls[i], "2")


def _yi(word: str, syls: list[str], prev: str) -> None:
    if "一" not in word:
        return
    if len(word) == 3 and word[1] == "一" and word[0] == word[2]:
        syls[1] = _retone(syls[1], "5")
        return
    for i, ch in enumerate(word):
        if ch != "一":
            continue
        before = word[i - 1] if i else prev
        after = word[i + 1] if i + 1 < len(word) else ""
        after2 = word[i + 2] if i + 2 < len(word) else ""
        if (
            not after
            or after in _PUNCT
            or before in _NUMERALS
            or before == "第"
            or after in _DIGIT_WORDS
            or after in "月日号加减乘除等"
            or after == "点"
            and after2 in _DIGIT_WORDS
        ):
            # 统一, 十一, 第一, 一九九八, 一月一日, 一加一, 一点二: a number read as such keeps tone 1
            # (pypinyin's phrase readings are not consistent here)
            syls[i] = _retone(syls[i], "1")
        else:  # before 百/千/万 it still changes (一千 → yi4)
            syls[i] = _retone(syls[i], "2" if _tone(syls[i + 1]) == "4" else "4")


def _neutral(word: str, pos: str, syls: list[str]) -> None:
    last = word[-1]
    if word in MUST_NEUTRAL or word[-2:] in MUST_NEUTRAL:
        syls[-1] = _retone(syls[-1], "5")
    for i in range(1, len(word)):
        # 妈妈, 看看, 试试: a reduplicated noun, verb or adjective has a light second syllable.
        if word[i] == word[i - 1] and pos[:1] in "nva" and word not in NOT_NEUTRAL and len(word) == 2:
            syls[i] = _retone(syls[i], "5")
    if last in PARTICLES:
        syls[-1] = _retone(syls[-1], "5")
    elif last in "的地得着了" and pos.startswith("u"):
        syls[-1] = {"的": "de5", "地": "de5", "得": "de5", "着": "zhe5", "了": "le5"}[last]
    elif len(word) == 3 and word[1] == "得" and word[0] != "不":
        syls[1] = "de5"  # 跑得快, 看得见: the complement marker
    elif last in "们子" and len(word) > 1 and pos[:1] in "nr" and word not in NOT_NEUTRAL:
        syls[-1] = _retone(syls[-1], "5")
    elif last in "上下里" and len(word) > 1 and pos[:1] in "sfl":
        syls[-1] = _retone(syls[-1], "5")
    elif last in "来去" and len(word) > 1 and word[-2] in _DIRECTION_VERBS:
        syls[-1] = _retone(syls[-1], "5")
    ge = word.find("个")
    if ge >= 1 and (word[ge - 1] in _NUMERALS or word[ge - 1] in "这那哪每各整半多") or word == "个":
        syls[ge] = _retone(syls[ge], "5")


def apply_word_sandhi(word: str, pos: str, syls: list[str], prev: str = "") -> list[str]:
    """Apply the 不, 一 and neutral-tone rules to one (merged) word's syllables; returns a new list.

    ``prev`` is the character before the word (第 and numerals before 一 keep its tone 1).
    """
    out = list(syls)
    _bu(word, out)
    _yi(word, out, prev)
    _neutral(word, pos, out)
    return out


def erhua(word: str, pos: str, syls: list[str]) -> list[str]:
    """Give a suffix 儿 the tone of the syllable before it (see the module docstring)."""
    if len(word) < 2 or word[-1] != "儿" or not syls[-1].startswith("er"):
        return syls
    out = list(syls)
    if out[-1] == "er1":
        out[-1] = "er2"
    if word in NOT_ERHUA or word[-2:] in NOT_ERHUA or pos in ("a", "j", "nr"):
        return out
    if out[-1] in ("er2", "er5"):
        out[-1] = "er" + _tone(out[-2])
    return out


def _three_in_word(syls: list[str], head_is_word: bool) -> None:
    """Third-tone sandhi inside one word; ``head_is_word``: its first two characters form a word."""
    tones = [_tone(s) for s in syls]
    if tones == ["3"] * 3 and not head_is_word:
        syls[1] = _retone(syls[1], "2")  # 1+2: 小 老虎 → 3 2 3
        return
    if tones == ["3"] * 4 and head_is_word:
        syls[0], syls[2] = _retone(syls[0], "2"), _retone(syls[2], "2")  # 2+2 → 2 3 2 3
        return
    for i in range(len(syls) - 2, -1, -1):
        if tones[i] == "3" and tones[i + 1] == "3":
            syls[i] = _retone(syls[i], "2")  # compare with the original tone: 2+1 → 2 2 3


def third_tone_phrases(words: list[tuple[str, list[str]]], is_word: Callable[[str], bool]) -> list[list[str]]:
    """Apply third-tone sandhi over a sentence's words; returns each word's new syllables.

    Two adjacent words share a sandhi domain when they are at most 3 syllables together (a prosodic
    word). The change runs right to left and looks at the already-changed next syllable, so a 1+2
    structure keeps its first tone 3 (我 很好 → wo3 hen2 hao3) while 2+1 does not (展览 馆 → 2 2 3).
    """
    result = [list(syls) for _, syls in words]
    for (word, _), syls in zip(words, result, strict=True):
        _three_in_word(syls, len(word) in (3, 4) and is_word(word[:2]))
    for i in range(len(result) - 1, 0, -1):
        left, right = result[i - 1], result[i]
        if left and right and len(left) + len(right) <= 3 and _tone(left[-1]) == "3" and _tone(right[0]) == "3":
            left[-1] = _retone(left[-1], "2")
    return result


def context_fixes(run: str, syls: list[str]) -> list[str]:
    """Fixes that look across jieba's word boundaries, over a whole run of hanzi.

    * V一V / V不V: the middle is neutral (jieba sometimes cuts through it: 人静 一静);
    * 一 before a digit, 点+digit or 月/日/号/加… keeps tone 1 across words (1+1, 1.2, 10月1日);
    * 得 before 了/到 is the verb dé, not the particle (他得了99分);
    * 长 before a number is cháng, "long" (这条路长2000米); pypinyin reads a lone 长 as zhǎng.
    """
    out = list(syls)
    for i, ch in enumerate(run):
        if "?" in out[i]:
            continue
        prev = run[i - 1] if i else ""
        nxt = run[i + 1] if i + 1 < len(run) else ""
        if ch in "一不" and prev and prev == nxt and prev not in _NUMERALS:
            out[i] = _retone(out[i], "5")
        elif (
            ch == "一"
            and prev not in "看听想试"
            and (
                nxt in _DIGIT_WORDS
                or nxt
                and nxt in "月日号加减乘除等"
                or nxt == "点"
                and run[i + 2 : i + 3] in _DIGIT_WORDS
                and run[i + 2 : i + 3]
            )
        ):
            out[i] = "yi1"
        elif ch == "得" and nxt in ("了", "到"):
            out[i] = "de2"
        elif ch == "长" and nxt in _DIGIT_WORDS | _NUMERALS:
            out[i] = "chang2"
    return out
