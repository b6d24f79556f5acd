"""Numbers → English words, worded exactly as upstream's normaliser gets them from ``inflect``.

Upstream (``en_normalization/expend.py``) calls ``inflect.engine().number_to_words`` and ``.ordinal``.
Importing inflect costs ~1.8 s (typeguard wraps every method), so this module words numbers itself,
following inflect's rules for the inputs upstream passes (non-negative integers, "21st"-style
ordinals, two-digit grouping for years). ``test_en`` checks it against inflect itself where installed.

inflect's rules, as used here:

- Three-digit groups from the right, each "<d> hundred[ and ]<tens>" plus its scale word; the groups
  are joined with ", " ("twelve thousand, three hundred and forty-five").
- When the last group is a single word ("five", "twenty-one") and a comma precedes it, the comma becomes
  the and-word ("one thousand and five"); with an empty and-word that is just a space.
- 0 is the zero-word, 1 is "one".
- Grouping by two (years): each pair is a tens word, or "<zero> <unit>" when its tens digit is 0.
"""

from __future__ import annotations

import re

__all__ = ["number_to_words", "ordinal_digits", "ordinal_words", "spelled_ordinal", "year_pairs"]

_UNIT = ("", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_TEEN = ("ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen").split()
_TEN = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_SCALE = ("", "thousand", "million", "billion", "trillion", "quadrillion", "quintillion", "sextillion",
          "septillion", "octillion", "nonillion", "decillion")  # fmt: skip
_ORDINAL_ENDINGS = {"ty": "tieth", "one": "first", "two": "second", "three": "third", "five": "fifth",
                    "eight": "eighth", "nine": "ninth", "twelve": "twelfth"}  # fmt: skip
_ORDINAL_END_RE = re.compile(f"({'|'.join(_ORDINAL_ENDINGS)})$")
_SUFFIXES = ("st", "nd", "rd", "th")


def _tens(tens: int, units: int) -> str:
    if tens == 1:
        return _TEEN[units]
    if tens and units:
        return f"{_TEN[tens]}-{_UNIT[units]}"
    return _TEN[tens] or _UNIT[units]


def _group(value: int, scale: int, andword: str) -> str:
    hundreds, rest = divmod(value, 100)
    words = _tens(*divmod(rest, 10))
    if hundreds:
        words = f"{_UNIT[hundreds]} hundred" + (f" {andword} {words}" if rest else "")
    if not words:
        return ""
    return f"{words} {_SCALE[scale]}" if scale else words


def number_to_words(n: int, andword: str = "and") -> str:
    """``inflect.number_to_words(n, andword=andword)`` for an integer ``n >= 0``.

    Numbers past inflect's largest scale (decillions) are read digit by digit (inflect raises there).
    """
    if n == 0:
        return "zero"
    if n == 1:
        return "one"
    if n >= 1000 ** len(_SCALE):
        return " ".join(_UNIT[int(d)] or "zero" for d in str(n))
    groups: list[int] = []
    while n:
        n, g = divmod(n, 1000)
        groups.append(g)
    phrases = [p for p in (_group(g, i, andword) for i, g in reversed(list(enumerate(groups)))) if p]
    text = ", ".join(phrases)
    if len(phrases) > 1 and " " not in phrases[-1]:
        text = ", ".join(phrases[:-1]) + f" {andword} {phrases[-1]}"
    return " ".join(text.split())


def year_pairs(n: int, zero: str = "oh") -> str:
    """``inflect.number_to_words(n, andword="", zero=zero, group=2)`` with ", " read as a space (4 digits)."""
    digits = str(n)
    pairs = [digits[max(0, i - 2) : i] for i in range(len(digits), 0, -2)][::-1]
    words: list[str] = []
    for pair in pairs:
        if len(pair) == 1:
            words.append(_UNIT[int(pair)] or zero)
            continue
        tens, units = int(pair[0]), int(pair[1])
        if tens:
            words.append(_tens(tens, units))
        else:
            words.append(f"{zero} {_UNIT[units] or zero}")
    return " ".join(words)


def ordinal_words(words: str) -> str:
    """``inflect.ordinal`` of a worded number: the last word made ordinal ("twenty-one" → "twenty-first")."""
    new = _ORDINAL_END_RE.sub(lambda m: _ORDINAL_ENDINGS[m.group(1)], words)
    return new if new != words else words + "th"


def ordinal_digits(digits: str) -> str:
    """``inflect.ordinal`` of a digit string: the digits plus their suffix ("21" → "21st", "111" → "111th")."""
    n = int(digits)
    last_two = n % 100
    suffix = "th" if 11 <= last_two <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return digits + suffix


def spelled_ordinal(written: str) -> str:
    """``inflect.number_to_words("21st")``: a number with any of st/nd/rd/th read as an ordinal."""
    digits = written[:-2] if written[-2:].lower() in _SUFFIXES else written
    return ordinal_words(number_to_words(int(digits)))
