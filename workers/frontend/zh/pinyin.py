"""Pinyin syllable → (initial, final) symbols of the GPT-SoVITS table (upstream's opencpop-strict split).

The split follows rules rather than a 429-line table:

* zero-initial syllables starting with a/o/e get the pseudo-initials ``AA``/``OO``/``EE`` and keep the
  whole syllable as final (``an`` → ``AA an``, ``er`` → ``EE er``);
* ``y``/``w`` are initials; after ``y`` a ``u`` is ü (``yu`` → ``y v``, ``yuan`` → ``y van``), ``ye`` is
  ``y E`` and ``yan`` is ``y En`` (the open [ɛ] of those two gets its own final);
* ``zhi chi shi ri`` have the retroflex final ``ir``; ``zi ci si`` the apical ``i0``;
* after ``j q x`` a written ``u`` is ü; ``iou uei uen`` are already contracted in written pinyin
  (``liu gui lun``), so the rest of the syllable is the final as written.

The tone digit (1–5, 5 = neutral) is appended to the final.
"""

from __future__ import annotations

import functools

__all__ = ["split_syllable", "symbols_for", "to_initial_final"]

_INITIALS = ("zh", "ch", "sh", "b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h", "j", "q", "x", "r", "z",
             "c", "s", "y", "w")  # fmt: skip
_FALLBACK = {
    # Syllabic nasals and interjections that the symbol table has no finals for (嗯 n/ng, 呣 m, 哼 hng,
    # 噷 hm, 欸 ê): read them as the nearest table syllable instead of failing (a known crash upstream).
    "n": ("EE", "en"), "ng": ("EE", "en"), "hng": ("h", "eng"), "m": ("m", "u"), "hm": ("h", "en"),
    "ê": ("EE", "E"), "io": ("y", "o"), "yai": ("y", "ai"), "o": ("OO", "o"),
}  # fmt: skip


@functools.cache
def _split_toneless(syllable: str) -> tuple[str, str]:
    s = syllable.replace("ü", "v")
    if s in _FALLBACK:
        return _FALLBACK[s]
    if s[0] in "aoe":
        return {"a": "AA", "o": "OO", "e": "EE"}[s[0]], s
    initial = next((i for i in _INITIALS if s.startswith(i)), "")
    rest = s[len(initial) :]
    if not initial or not rest:
        raise ValueError(f"not a pinyin syllable: {syllable!r}")
    if initial == "y":
        if rest.startswith("u"):
            rest = "v" + rest[1:]
        rest = {"e": "E", "an": "En"}.get(rest, rest)
    elif initial in ("zh", "ch", "sh", "r") and rest == "i":
        rest = "ir"
    elif initial in ("z", "c", "s") and rest == "i":
        rest = "i0"
    elif initial in ("j", "q", "x") and rest.startswith("u"):
        rest = "v" + rest[1:]
    return initial, rest


def split_syllable(syllable: str) -> tuple[str, str]:
    """Split a tone-numbered syllable (``"zhang3"``, ``"lv4"``, ``"er5"``) into table symbols.

    Returns ``(initial, final_with_tone)``, e.g. ``("zh", "ang3")``. A syllable without a tone digit
    is read as neutral tone (5). Raises ``ValueError`` for text that is not pinyin.
    """
    tone = syllable[-1] if syllable[-1:] in "12345" and syllable[-1:] else "5"
    base = syllable[:-1] if syllable[-1:].isdigit() else syllable
    if not base:
        raise ValueError(f"not a pinyin syllable: {syllable!r}")
    initial, final = _split_toneless(base.lower())
    return initial, final + tone


_CONTRACTED = {"uei": "ui", "iou": "iu", "uen": "un"}
_ZERO_INITIAL_WHOLE = {"ing": "ying", "i": "yi", "in": "yin", "u": "wu"}
_ZERO_INITIAL_HEAD = {"v": "yu", "e": "e", "i": "y", "u": "w"}


def _written(initial: str, final: str) -> str:
    """Spell pypinyin's strict (initial, final) pair as written pinyin, as upstream's ``_g2p`` does."""
    if initial:
        return initial + _CONTRACTED.get(final, final)  # l + iou → liu
    if final in _ZERO_INITIAL_WHOLE:
        return _ZERO_INITIAL_WHOLE[final]  # i → yi
    head = _ZERO_INITIAL_HEAD.get(final[:1])
    return head + final[1:] if head is not None else final  # ian → yan, uo → wo, van → yuan


def symbols_for(initial: str, final: str) -> tuple[str, str]:
    """Table symbols for a strict initial and a tone-numbered final (``("l", "iou2")`` → ``("l", "iu2")``)."""
    return split_syllable(_written(initial, final[:-1]) + final[-1])


@functools.lru_cache(maxsize=1 << 16)  # bounded: arbitrary text cannot grow it forever
def to_initial_final(syllable: str) -> tuple[str, str]:
    """Split tone-numbered pinyin (a G2PW reading) into pypinyin's strict initial and toned final."""
    from pypinyin.contrib.tone_convert import to_finals_tone3, to_initials

    return to_initials(syllable), to_finals_tone3(syllable, neutral_tone_with_five=True)
