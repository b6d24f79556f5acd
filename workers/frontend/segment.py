"""Split input text into synthesis segments, the way upstream's default (``cut5``) does.

Upstream's serving API cuts after every punctuation mark, drops pieces with nothing to say,
gives each piece a closing mark, re-splits pieces longer than the BERT limit (510 characters) and
merges pieces shorter than 5 characters into their neighbours. We do the same, plus three things
upstream leaves undefined: a decimal point or thousands comma between digits and the dot of a
known abbreviation ("Dr.", "e.g.") do not cut; a newline cuts; and a piece that is still too long
(no punctuation at all) is cut at the last space, or at the cap itself, so no segment ever exceeds it.
"""

from __future__ import annotations

import re

__all__ = ["MAX_SEGMENT_CHARS", "MIN_SEGMENT_CHARS", "normalize_punctuation", "split_text"]

MAX_SEGMENT_CHARS = 510
"""Hard cap on a segment's length in characters (upstream: the BERT window of 512 minus CLS/SEP)."""

MIN_SEGMENT_CHARS = 5
"""Pieces shorter than this (characters) are merged into the next one (upstream's threshold)."""

CUT_MARKS = frozenset(",.;?!、，。？！；：…\n")
"""Marks after which ``cut5`` cuts (no ASCII colon: it would cut clock times)."""

CLOSING_MARKS = frozenset(",.?!~:—…，。？！：；;、")
"""A segment ending in one of these needs no added closing mark (upstream's split-mark set)."""

_COLLAPSIBLE = "!?…,.-"
# Full-width ASCII letters and digits read like their ASCII forms; the full-width punctuation is kept
# because the Chinese and Japanese normalisers map it themselves.
_WIDE = {c: c - 0xFEE0 for c in range(0xFF10, 0xFF1A)}
_WIDE.update({c: c - 0xFEE0 for c in range(0xFF21, 0xFF3B)})
_WIDE.update({c: c - 0xFEE0 for c in range(0xFF41, 0xFF5B)})
_WIDE[0xFF05] = ord("%")
_WIDE[0x3000] = ord(" ")
_RUN_RE = re.compile(f"([{re.escape(_COLLAPSIBLE)}])[{re.escape(_COLLAPSIBLE)}]+")
_SPACES_RE = re.compile(r"[ \t\r\f\v\u00a0]+")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr st jr sr prof vs etc no fig gen gov sen rep inc ltd co corp dept est approx "
    "jan feb mar apr jun jul aug sep sept oct nov dec mt ave".split()
)
_WORD_BEFORE_RE = re.compile(r"([A-Za-z](?:[A-Za-z.]*))$")


def normalize_punctuation(text: str, *, fold_width: bool = True) -> str:
    """Fold full-width letters/digits to ASCII, squeeze blanks, collapse runs of ``!?…,.-``.

    ``fold_width=False`` keeps full-width characters and squeezes only runs of spaces (upstream's
    ``TextPreprocessor``): upstream's Japanese reader treats them apart (``％`` reads パーセント, ``%``
    is UNK; ``Ａ`` is read as Japanese, ``A`` as English; a space is skipped, a tab is UNK).
    """
    if fold_width:
        text = _SPACES_RE.sub(" ", text.translate(_WIDE))
    else:
        text = re.sub(" {2,}", " ", text)
    return _RUN_RE.sub(r"\1", text)


def _protected(text: str, i: int) -> bool:
    """Whether the mark at ``text[i]`` belongs to a number or an abbreviation (so it must not cut)."""
    mark = text[i]
    before = text[i - 1] if i > 0 else ""
    after = text[i + 1] if i + 1 < len(text) else ""
    if mark in ".," and before.isdigit() and after.isdigit():
        return True
    if mark != ".":
        return False
    match = _WORD_BEFORE_RE.search(text[max(0, i - 12) : i])
    if not match:
        return False
    word = match.group(1)
    if after.isalpha() and before.isalpha():
        return True  # inner dot of e.g., U.S., example.com
    stem = word.rstrip(".").lower()
    if stem in _ABBREVIATIONS:
        return True
    # dotted initialisms ("U.S.", "e.g.", "a.m.") followed by more text on the same line
    return bool(re.fullmatch(r"(?:[a-z]\.)+[a-z]", word.lower())) and after == " "


def _cut(text: str) -> list[str]:
    """Cut after every (unprotected) run of cut marks; the marks stay on the left piece."""
    pieces: list[str] = []
    start = 0
    i = 0
    n = len(text)
    while i < n:
        if text[i] in CUT_MARKS and not _protected(text, i):
            j = i + 1
            while j < n and (text[j] in CUT_MARKS or text[j] in _COLLAPSIBLE):
                j += 1
            pieces.append(text[start:j])
            start = i = j
        else:
            i += 1
    if start < n:
        pieces.append(text[start:])
    return pieces


def _has_content(piece: str) -> bool:
    # Upstream drops a piece when nothing is left after removing \W (punctuation, emoji, spaces).
    return re.search(r"\w", piece) is not None


def _close(piece: str, closing: str) -> str:
    piece = piece.strip()
    return piece if piece[-1] in CLOSING_MARKS else piece + closing


def _cap(piece: str, limit: int) -> list[str]:
    """Cut ``piece`` into parts of at most ``limit`` characters, preferring punctuation, then spaces."""
    parts: list[str] = []
    while len(piece) > limit:
        window = piece[:limit]
        cut = max((window.rfind(m) for m in CLOSING_MARKS), default=-1) + 1
        if cut <= limit // 2:
            space = window.rfind(" ")
            cut = space + 1 if space > limit // 2 else limit
        parts.append(piece[:cut].strip())
        piece = piece[cut:].strip()
    if piece:
        parts.append(piece)
    return [p for p in parts if p]


def _merge_short(pieces: list[str], threshold: int) -> list[str]:
    """Glue pieces together until each is at least ``threshold`` characters; a short tail joins the last."""
    merged: list[str] = []
    buffer = ""
    for piece in pieces:
        buffer = f"{buffer} {piece}" if buffer and _needs_space(buffer, piece) else buffer + piece
        if len(buffer) >= threshold:
            merged.append(buffer)
            buffer = ""
    if buffer:
        if merged:
            last = merged.pop()
            merged.append(f"{last} {buffer}" if _needs_space(last, buffer) else last + buffer)
        else:
            merged.append(buffer)
    return merged


def _needs_space(left: str, right: str) -> bool:
    # Keep English words apart when two pieces are glued; CJK text has no spaces to keep.
    return left[-1:].isascii() and right[:1].isascii()


def split_text(
    text: str,
    closing: str = "。",
    max_chars: int = MAX_SEGMENT_CHARS,
    min_chars: int = MIN_SEGMENT_CHARS,
    *,
    fold_width: bool = True,
) -> list[str]:
    """Split ``text`` into segment texts.

    ``closing`` is the mark appended to a piece that does not end in punctuation (``"."`` for
    English, ``"。"`` otherwise); ``fold_width`` as in ``normalize_punctuation``. Returns ``[]`` when
    nothing in ``text`` can be spoken.
    """
    text = normalize_punctuation(text, fold_width=fold_width)
    pieces: list[str] = []
    for piece in _cut(text):
        if not _has_content(piece):
            continue
        for part in _cap(piece.strip(), max_chars - 1):
            if _has_content(part):
                pieces.append(_close(part, closing))
    merged = _merge_short(pieces, min_chars)
    # Merging may rebuild an over-long piece out of short ones only if they sum past the cap.
    return [part for piece in merged for part in _cap(piece, max_chars)]
