"""Japanese normalisation and G2P with upstream's prosody marks, from OpenJTalk full-context labels.

``pyopenjtalk-plus`` (its wheel ships the OpenJTalk dictionary) turns each phrase between punctuation
marks into full-context labels. From the labels we emit the phonemes plus the marks upstream trains
with (ESPnet's prosody scheme):

* ``[`` pitch rises (after the first mora of an accent phrase that rises into its second);
* ``]`` pitch falls (after the accent nucleus);
* ``#`` accent-phrase border — not in the symbol table, so it becomes ``UNK``, as upstream;
* ``_`` a pause inside the phrase (OpenJTalk ``pau``; the pad symbol).

The phrase-initial ``^`` and phrase-final ``$``/``?`` marks are dropped; the punctuation between
phrases becomes ``, . ! ? …`` symbols instead. Devoiced vowels other than ``I``/``U`` (rare) are not
in the table and become ``UNK``.

pyopenjtalk is imported on first use (its dictionary takes ~0.3 s and ~100 MB).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from ..symbols import UNK

__all__ = ["g2p", "normalize", "prosody_phones", "warm_up"]

_PUNCT_MAP = {
    "、": ",", "，": ",", ",": ",", "・": ",", "：": ",", ":": ",", "；": ",", ";": ",", "。": ".", "．": ".",
    ".": ".", "！": "!", "!": "!", "？": "?", "?": "?", "…": "…", "‥": "…", "—": "-", "―": "-", "-": "-",
    "〜": "-", "~": "-", "～": "-", "\n": ".",
}  # fmt: skip
_PUNCT = frozenset(_PUNCT_MAP.values())
# Anything that is neither kana, kanji, a digit, the long-vowel mark nor punctuation is dropped.
_DROP_RE = re.compile(r"[^\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々〇0-9"
                      + re.escape("".join(_PUNCT_MAP)) + "]+")  # fmt: skip
_REPEAT_RE = re.compile(r"([,.!?…\-])[,.!?…\-]+")
_VOICED_END = frozenset("aeiouAEIOUNcl")
_P3_RE = re.compile(r"-(.*?)\+")
_A_RE = re.compile(r"/A:([0-9\-]+|xx)\+(\d+|xx)\+(\d+|xx)/")
_F_RE = re.compile(r"/F:(\d+|xx)_")


@functools.cache
def _extract() -> Callable[[str], list[str]]:
    import pyopenjtalk

    return pyopenjtalk.extract_fullcontext


def warm_up() -> None:
    """Load the OpenJTalk dictionary now instead of on the first sentence."""
    g2p("こんにちは")


def normalize(text: str) -> str:
    """Map punctuation to the six marks, read % as パーセント, drop what OpenJTalk cannot read."""
    text = text.replace("%", "パーセント").replace("％", "パーセント")
    text = _DROP_RE.sub("", text)
    text = "".join(_PUNCT_MAP.get(c, c) for c in text)
    return _REPEAT_RE.sub(r"\1", text)


def _num(value: str) -> int:
    return -50 if value == "xx" else int(value)


def prosody_phones(labels: list[str]) -> list[str]:
    """Phonemes with ``^ $ ? [ ] # _`` marks from OpenJTalk full-context labels (ESPnet's scheme)."""
    out: list[str] = []
    n = len(labels)
    for i, label in enumerate(labels):
        p3 = _P3_RE.search(label).group(1)
        if p3 == "sil":
            if i == 0:
                out.append("^")
            elif i == n - 1:
                out.append("?" if _E3_is_question(label) else "$")
            continue
        if p3 == "pau":
            out.append("_")
            continue
        out.append(p3)
        a = _A_RE.search(label)
        a1, a2, a3 = (_num(g) for g in a.groups()) if a else (-50, -50, -50)
        f1 = _num(_F_RE.search(label).group(1)) if _F_RE.search(label) else -50
        nxt = _A_RE.search(labels[i + 1]) if i + 1 < n else None
        a2_next = _num(nxt.group(2)) if nxt else -50
        if a3 == 1 and a2_next == 1 and p3 in _VOICED_END:
            out.append("#")  # the accent phrase ends here
        elif a1 == 0 and a2_next == a2 + 1 and a2 != f1:
            out.append("]")  # pitch falls after the nucleus
        elif a2 == 1 and a2_next == 2:
            out.append("[")  # pitch rises into the second mora
    return out


def _E3_is_question(label: str) -> bool:  # noqa: N802 - named after the label field
    m = re.search(r"/E:[^_]+_[^!]+!([^_]+)_", label)
    return bool(m) and m.group(1) == "1"


def _phrase_phones(phrase: str) -> list[str]:
    phones = prosody_phones(_extract()(phrase))
    return [UNK if p == "#" else p for p in phones if p not in ("^", "$", "?")]


def g2p(norm_text: str) -> tuple[list[str], list[int]]:
    """Return ``(phones, word2ph)`` for text from ``normalize``.

    ``word2ph`` has one entry per character: a phrase's phones at its first character, one for each
    punctuation mark.
    """
    phones: list[str] = []
    word2ph = [0] * len(norm_text)
    for m in re.finditer(r"[^,.!?…\-]+|[,.!?…\-]", norm_text):
        chunk = m.group()
        ph = [chunk] if chunk in _PUNCT else _phrase_phones(chunk)
        phones.extend(ph)
        word2ph[m.start()] += len(ph)
    return phones, word2ph
