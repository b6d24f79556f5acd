"""Japanese G2P on upstream GPT-SoVITS's path (``text/japanese.py``), with the dictionary it trained on.

Upstream's v2 models were trained on phones from pyopenjtalk 0.4.1 with the NAIST-jdic build that
OpenJTalk 1.11 ships (``open_jtalk_dic_utf_8-1.11``). Accent marks are most of what a Japanese phone
sequence holds, and they come from that dictionary, so we read text with the same library and the same
dictionary: pyopenjtalk 0.4.1 pointed at Debian's ``open-jtalk-mecab-naist-jdic`` 1.11 (see
``docs/frontend.md``). Nothing is downloaded: pyopenjtalk would fetch its dictionary on first use, so
we open OpenJTalk on an explicit directory and fail with one clear line when it is missing.

The path, as upstream runs it on one Japanese piece of a segment:

1. runs of ``! ? … , . -`` collapse to their first mark (``text_normalize``; this is ``norm_text``);
2. ``％`` (full width only) becomes パーセント, then the text is lower-cased (``preprocess_jap``);
3. the text is cut at every character that is not "Japanese" — kana (U+3040–U+30FF, so ``ー`` and
   ``・`` too), CJK unified ideographs (not extension A, not ``〇``), ``々``, ASCII and full-width
   letters, any Unicode digit (upstream matches ``\\d``), half-width katakana;
4. each run of Japanese characters goes through OpenJTalk, and its full-context labels become phones
   with ESPnet's prosody marks (``pyopenjtalk_g2p_prosody``) minus the leading ``^`` and trailing
   ``$``/``?``; devoiced vowels are written lower-case (``drop_unvoiced_vowels=True``);
5. each cutting character is kept as a symbol of its own, except an ASCII space; ``、 。 ！ ？ ： ；
   ， ·`` and newline map to ``, . ! ? , , , , .`` (``post_replace_ph``);
6. anything the v2 table lacks — ``#``, ``「``, ``―``, ``〜``, ``%``, ``〇``, emoji — becomes ``UNK``
   (``clean_text``); the caller maps the symbols to ids.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from relaytts.errors import RelayError

from ..symbols import UNK, symbol_table

__all__ = [
    "DICT_DIR_ENV",
    "DEFAULT_DICT_DIR",
    "JapaneseSetupError",
    "dictionary_dir",
    "g2p",
    "normalize",
    "prosody_phones",
    "warm_up",
]

log = logging.getLogger(__name__)

UPSTREAM_PYOPENJTALK = "0.4.1"
"""The pyopenjtalk release upstream GPT-SoVITS pins (its models learnt that OpenJTalk's accents)."""

DICT_DIR_ENV = "OPEN_JTALK_DICT_DIR"
"""Environment variable naming the OpenJTalk dictionary directory (pyopenjtalk's own variable)."""

DEFAULT_DICT_DIR = "/var/lib/mecab/dic/open-jtalk/naist-jdic"
"""Where Debian's ``open-jtalk-mecab-naist-jdic`` (1.11, upstream's training dictionary) installs it."""

INSTALL_HINT = "apt-get install open-jtalk-mecab-naist-jdic, or set OPEN_JTALK_DICT_DIR to its directory"


class JapaneseSetupError(RelayError):
    """The server lacks what Japanese needs (pyopenjtalk or its dictionary); the message names the fix."""

    code = "FAILED_PRECONDITION"
    reason = "ja_frontend_setup"


# "Japanese characters" as upstream's ``_japanese_characters`` defines them; every other character cuts.
_NOT_JAPANESE_RE = re.compile(
    r"[^A-Za-z\d\u3005\u3040-\u30ff\u4e00-\u9fff\uff11-\uff19\uff21-\uff3a\uff41-\uff5a\uff66-\uff9d]"
)
# Upstream collapses runs of its six punctuation symbols (half-width only) before reading.
_RUN_RE = re.compile(r"([!?…,.\-])[!?…,.\-]+")
# ``post_replace_ph``: the marks upstream maps onto table symbols; any other cutting mark stays itself.
_MARK_MAP = {"：": ",", "；": ",", "，": ",", "。": ".", "！": "!", "？": "?", "\n": ".", "·": ",", "、": ","}

# Full-context label fields (HTS format) the prosody marks come from.
_P3_RE = re.compile(r"-(.*?)\+")
_A1_RE = re.compile(r"/A:([0-9\-]+)\+")
_A2_RE = re.compile(r"\+(\d+)\+")
_A3_RE = re.compile(r"\+(\d+)/")
_F1_RE = re.compile(r"/F:(\d+)_")
_E3_RE = re.compile(r"!(\d+)_")
_ABSENT = -50  # ESPnet's value for a field that is "xx" (so comparisons with it never hold)
_DEVOICED = frozenset("AEIOU")
# A phrase border is only marked after a mora-final phone.
_MORA_END = frozenset(("a", "e", "i", "o", "u", "N", "cl"))


def _installed_version() -> str:
    """The installed pyopenjtalk's version; the fork that installs the same module is named with it."""
    try:
        return metadata.version("pyopenjtalk")
    except metadata.PackageNotFoundError:
        pass
    try:
        return f"pyopenjtalk-plus {metadata.version('pyopenjtalk-plus')}"
    except metadata.PackageNotFoundError:
        return "unknown"


def dictionary_dir() -> Path:
    """The OpenJTalk dictionary directory: ``$OPEN_JTALK_DICT_DIR``, else Debian's naist-jdic."""
    return Path(os.environ.get(DICT_DIR_ENV) or DEFAULT_DICT_DIR)


@functools.cache
def _labeler() -> Callable[[str], list[str]]:
    """Text → full-context labels, from an OpenJTalk opened on the dictionary directory."""
    path = dictionary_dir()
    if not (path / "sys.dic").is_file():
        raise JapaneseSetupError(f"Japanese: OpenJTalk dictionary not found at {path}; {INSTALL_HINT}")
    # Our own instance on an explicit directory: pyopenjtalk's module-level helpers would download a
    # dictionary when theirs is missing, and must not be reached.
    try:
        from pyopenjtalk.openjtalk import OpenJTalk
    except ImportError as exc:
        raise JapaneseSetupError(
            f"Japanese: pyopenjtalk is not importable ({exc}); pip install pyopenjtalk==0.4.1"
        ) from exc

    if _installed_version() != UPSTREAM_PYOPENJTALK:
        # Another build (pyopenjtalk-plus, newer releases) runs, but its accents differ from upstream's.
        log.warning(
            "Japanese: pyopenjtalk %s is installed; upstream GPT-SoVITS reads with %s, phones will differ",
            _installed_version(),
            UPSTREAM_PYOPENJTALK,
        )
    jtalk = OpenJTalk(dn_mecab=str(path).encode("utf-8"))

    def labels(text: str) -> list[str]:
        return list(jtalk.make_label(jtalk.run_frontend(text)))

    return labels


def warm_up() -> None:
    """Open the OpenJTalk dictionary now instead of on the first sentence."""
    g2p(normalize("こんにちは"))


def normalize(text: str) -> str:
    """Upstream's Japanese ``text_normalize``: runs of ``! ? … , . -`` collapse to their first mark.

    This is upstream's ``norm_text``; ``g2p`` reads ``％`` as パーセント itself, as upstream's G2P does.
    """
    return _RUN_RE.sub(r"\1", text)


def _field(regex: re.Pattern[str], label: str) -> int:
    m = regex.search(label)
    return int(m.group(1)) if m else _ABSENT


def prosody_phones(labels: list[str]) -> list[str]:
    """Phones with ``^ $ ? [ ] # _`` marks from full-context labels (ESPnet's scheme, devoicing dropped).

    ``[`` pitch rises after this mora, ``]`` it falls after the accent nucleus, ``#`` an accent phrase
    ends, ``_`` a pause; ``^`` opens the utterance, ``$`` (``?`` for a question) closes it.
    """
    out: list[str] = []
    last = len(labels) - 1
    for n, label in enumerate(labels):
        p3 = _P3_RE.search(label).group(1)
        if p3 in _DEVOICED:
            p3 = p3.lower()  # upstream trains without devoicing: です → d e s u
        if p3 == "sil":
            if n == 0:
                out.append("^")
            elif n == last:
                e3 = _field(_E3_RE, label)  # 1: the utterance is a question
                out.extend({0: ["$"], 1: ["?"]}.get(e3, []))
            continue
        if p3 == "pau":
            out.append("_")
            continue
        out.append(p3)
        a1, a2, a3 = _field(_A1_RE, label), _field(_A2_RE, label), _field(_A3_RE, label)
        f1 = _field(_F1_RE, label)
        a2_next = _field(_A2_RE, labels[n + 1]) if n < last else _ABSENT
        if a3 == 1 and a2_next == 1 and p3 in _MORA_END:
            out.append("#")
        elif a1 == 0 and a2_next == a2 + 1 and a2 != f1:
            out.append("]")
        elif a2 == 1 and a2_next == 2:
            out.append("[")
    return out


def _read_run(run: str) -> list[str]:
    """One run of Japanese characters → phones, without the utterance marks (upstream's ``[1:-1]``)."""
    return prosody_phones(_labeler()(run))[1:-1]


def g2p(norm_text: str) -> tuple[list[str], list[int]]:
    """Return ``(phones, word2ph)`` for text from ``normalize``; phones missing from the table are ``UNK``.

    ``word2ph`` has one entry per character of ``norm_text``: a run's phones at its first character, one
    per cutting mark, zero for spaces and the run's other characters.
    """
    # The text upstream cuts and reads (％ spelt out, lower-cased), and for each of its characters the
    # index of the norm_text character it comes from, so word2ph stays aligned with norm_text.
    text, origin = [], []
    for i, c in enumerate(norm_text):
        spelt = "パーセント" if c == "％" else c.lower()
        text.extend(spelt)
        origin.extend([i] * len(spelt))
    work = "".join(text)
    table = symbol_table()
    phones: list[str] = []
    word2ph = [0] * len(norm_text)
    start = 0
    for m in [*_NOT_JAPANESE_RE.finditer(work), None]:
        end = m.start() if m else len(work)
        if end > start:
            run = _read_run(work[start:end])
            phones.extend(run)
            word2ph[origin[start]] += len(run)
        if m is None:
            break
        mark = m.group()
        if mark != " ":
            phones.append(_MARK_MAP.get(mark, mark))
            word2ph[origin[m.start()]] += 1
        start = m.end()
    return [p if p in table else UNK for p in phones], word2ph
