"""Mandarin tone sandhi as upstream applies it (GPT-SoVITS ``tone_sandhi.ToneSandhi``, from PaddleSpeech).

Two stages, both on jieba's (word, part-of-speech) cut of one clause:

``pre_merge`` joins words so the per-word rules see their context: 不 joins the word after it; V一V
(听一听) and a lone 一 joins the word after it; a word repeated joins its copy (试试); two adjacent words
that are both all third tone, then two whose meeting syllables are both third tone, join when together
they are at most 3 characters (a reduplicated word never joins); a lone 儿 joins the word before.

``modified_tone`` then changes one word's tone-numbered finals, in upstream's order:

* 不: neutral in the middle of a 3-character word (看不懂); tone 2 before tone 4 (不怕).
* 一: unchanged in a digit string (一九九八, 十一); neutral in V一V; tone 1 in 第一…; else tone 2 before
  tone 4 (一段) and tone 4 before anything else except punctuation (一天).
* neutral tone: reduplicated nouns/verbs/adjectives (奶奶, 试试); the particles 吧呢哈啊…; 的地得
  at the end of a word; 了着过 as aspect particles (pos ul/uz/ug); 们/子 after a noun or pronoun;
  上下里 after a place word; 来去 after a directional verb; 个 as a measure word; and the words of
  ``lexicon.MUST_NEUTRAL`` (whole word, its last two characters, or either half of the word).
* third tone: two thirds → 2 3; three: split the word with jieba's search cut (2+1: 2 2 3, 1+2:
  3 2 3); four: each half on its own.

Readings that jieba's cut puts in one word thus follow the word; there is no rule across words beyond
what ``pre_merge`` joined (小李|想买|好酒 keeps 想 tone 3 before 买's changed tone 2 only inside 想买).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from .lexicon import MUST_NEUTRAL, NOT_NEUTRAL

__all__ = ["Word", "modified_tone", "pre_merge"]

Word = tuple[str, str]
"""A jieba word and its part-of-speech tag."""

_PARTICLES = "吧呢哈啊呐噻嘛吖嗨呐哦哒额滴哩哟喽啰耶喔诶"
_CLAUSE_MARKS = "：，；。？！“”‘’':,;.?!"


def _retone(final: str, tone: str) -> str:
    return final[:-1] + tone


def _all_third(finals: list[str]) -> bool:
    return all(f[-1] == "3" for f in finals)


@functools.lru_cache(maxsize=1 << 16)  # bounded: arbitrary text cannot grow it forever
def _halves(word: str) -> tuple[str, str]:
    """Split a word in two at its shortest search-mode sub-word (蒙古包 → 蒙古 包, 纸老虎 → 纸 老虎)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)  # its dictionary may load here first: no "Building prefix dict" chatter
    shortest = min(jieba.cut_for_search(word), key=len)  # min keeps the first of equal lengths
    if word.find(shortest) == 0:
        return shortest, word[len(shortest) :]
    return word[: -len(shortest)], shortest


# --- pre_merge ----------------------------------------------------------------------------------------


def _merge_bu(words: list[Word]) -> list[Word]:
    out: list[Word] = []
    last = ""
    for word, pos in words:
        if last == "不":
            word = last + word
        if word != "不":
            out.append((word, pos))
        last = word
    if last == "不":
        out.append((last, "d"))
    return out


def _merge_yi(words: list[Word]) -> list[Word]:
    joined: list[list[str]] = []
    i = 0
    while i < len(words):
        word, pos = words[i]
        if 0 < i < len(words) - 1 and word == "一":
            before, after = joined[-1], words[i + 1]
            if before[0] == after[0] and before[1] == "v" and after[1] == "v":
                joined[-1] = [before[0] + "一" + after[0], before[1]]  # 听 一 听 → 听一听
                i += 2
                continue
        joined.append([word, pos])
        i += 1
    out: list[list[str]] = []
    for word, pos in joined:
        if out and out[-1][0] == "一":
            out[-1][0] += word  # a lone 一 takes the next word (and keeps its own tag)
        else:
            out.append([word, pos])
    return [(w, p) for w, p in out]


def _merge_repeats(words: list[Word]) -> list[Word]:
    out: list[list[str]] = []
    for word, pos in words:
        if out and word == out[-1][0]:
            out[-1][0] += word
        else:
            out.append([word, pos])
    return [(w, p) for w, p in out]


def _merge_thirds(words: list[Word], finals: Callable[[str], list[str]], whole: bool) -> list[Word]:
    """Join third-tone neighbours: ``whole`` = both words all tone 3, else just the meeting syllables."""
    tones = [finals(w) for w, _ in words]
    out: list[list[str]] = []
    merged_last = [False] * len(words)
    for i, (word, pos) in enumerate(words):
        if i and not merged_last[i - 1]:
            prev, cur = tones[i - 1], tones[i]
            meets = _all_third(prev) and _all_third(cur) if whole else prev[-1][-1] == "3" and cur[0][-1] == "3"
            before = words[i - 1][0]
            reduplicated = len(before) == 2 and before[0] == before[1]
            if meets and not reduplicated and len(before) + len(word) <= 3:
                out[-1][0] += word
                merged_last[i] = True
                continue
        out.append([word, pos])
    return [(w, p) for w, p in out]


def _merge_er(words: list[Word]) -> list[Word]:
    out: list[list[str]] = []
    for i, (word, pos) in enumerate(words):
        if i and word == "儿" and words[i - 1][0] != "#":
            out[-1][0] += word
        else:
            out.append([word, pos])
    return [(w, p) for w, p in out]


def pre_merge(words: list[Word], finals: Callable[[str], list[str]]) -> list[Word]:
    """Join jieba words as upstream's ``pre_merge_for_modify`` does; ``finals`` reads a word's finals."""
    words = _merge_yi(_merge_bu(words))
    words = _merge_repeats(words)
    words = _merge_thirds(words, finals, whole=True)
    words = _merge_thirds(words, finals, whole=False)
    return _merge_er(words)


# --- modified_tone ------------------------------------------------------------------------------------


def _bu(word: str, finals: list[str]) -> None:
    if len(word) == 3 and word[1] == "不":
        finals[1] = _retone(finals[1], "5")
        return
    for i, ch in enumerate(word[:-1]):
        if ch == "不" and finals[i + 1][-1] == "4":
            finals[i] = _retone(finals[i], "2")


def _yi(word: str, finals: list[str]) -> None:
    if "一" in word and all(ch.isnumeric() for ch in word if ch != "一"):
        return
    if len(word) == 3 and word[1] == "一" and word[0] == word[-1]:
        finals[1] = _retone(finals[1], "5")
    elif word.startswith("第一"):
        finals[1] = _retone(finals[1], "1")
    else:
        for i, ch in enumerate(word[:-1]):
            if ch != "一":
                continue
            if finals[i + 1][-1] == "4":
                finals[i] = _retone(finals[i], "2")
            elif word[i + 1] not in _CLAUSE_MARKS:
                finals[i] = _retone(finals[i], "4")


def _neutral(word: str, pos: str, finals: list[str]) -> list[str]:
    for j in range(1, len(word)):
        if word[j] == word[j - 1] and pos[0] in "nva" and word not in NOT_NEUTRAL:
            finals[j] = _retone(finals[j], "5")
    ge = word.find("个")
    last = word[-1]
    if last in _PARTICLES or last in "的地得":
        finals[-1] = _retone(finals[-1], "5")
    elif len(word) == 1 and word in "了着过" and pos in ("ul", "uz", "ug"):
        finals[-1] = _retone(finals[-1], "5")
    elif len(word) > 1 and last in "们子" and pos in ("r", "n") and word not in NOT_NEUTRAL:
        finals[-1] = _retone(finals[-1], "5")
    elif len(word) > 1 and last in "上下里" and pos in ("s", "l", "f"):
        finals[-1] = _retone(finals[-1], "5")
    elif len(word) > 1 and last in "来去" and word[-2] in "上下进出回过起开":
        finals[-1] = _retone(finals[-1], "5")
    elif ge >= 1 and (word[ge - 1].isnumeric() or word[ge - 1] in "几有两半多各整每做是") or word == "个":
        finals[ge] = _retone(finals[ge], "5")
    elif word in MUST_NEUTRAL or word[-2:] in MUST_NEUTRAL:
        finals[-1] = _retone(finals[-1], "5")
    head, tail = _halves(word)
    parts = [finals[: len(head)], finals[len(head) :]]
    for part_word, part in zip((head, tail), parts, strict=True):
        if part_word in MUST_NEUTRAL or part_word[-2:] in MUST_NEUTRAL:
            part[-1] = _retone(part[-1], "5")
    return parts[0] + parts[1]


def _third(word: str, finals: list[str]) -> list[str]:
    if len(word) == 2 and _all_third(finals):
        finals[0] = _retone(finals[0], "2")
    elif len(word) == 3:
        head, _ = _halves(word)
        if _all_third(finals):
            if len(head) == 2:  # 蒙古/包
                finals[0], finals[1] = _retone(finals[0], "2"), _retone(finals[1], "2")
            elif len(head) == 1:  # 纸/老虎
                finals[1] = _retone(finals[1], "2")
        else:
            parts = [finals[: len(head)], finals[len(head) :]]
            for i, part in enumerate(parts):
                if len(part) == 2 and _all_third(part):  # 所有/人
                    part[0] = _retone(part[0], "2")
                elif i == 1 and not _all_third(part) and part[0][-1] == "3" and parts[0][-1][-1] == "3":
                    parts[0][-1] = _retone(parts[0][-1], "2")  # 好/喜欢
            finals = parts[0] + parts[1]
    elif len(word) == 4:
        parts = [finals[:2], finals[2:]]
        for part in parts:
            if _all_third(part):
                part[0] = _retone(part[0], "2")
        finals = parts[0] + parts[1]
    return finals


def modified_tone(word: str, pos: str, finals: list[str]) -> list[str]:
    """Apply the 不, 一, neutral-tone and third-tone rules to one (merged) word; returns new finals."""
    finals = list(finals)
    _bu(word, finals)
    _yi(word, finals)
    finals = _neutral(word, pos, finals)
    return _third(word, finals)
