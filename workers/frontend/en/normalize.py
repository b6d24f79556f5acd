"""English text normalisation, rule for rule what upstream's ``english.text_normalize`` does.

Upstream (GPT-SoVITS ``text/english.py`` + ``text/en_normalization/expend.py``) runs, in this order:

1. A literal replacement of ``。！？`` by ``.!?`` (its punctuation map is joined with ``re.escape``, so
   its two bracketed keys only ever match themselves; ``;`` ``:`` and full-width commas are *not*
   mapped and are deleted in step 14).
2. ``"12. "`` (digits, dot, space) → ``"12th, "``: a list-item ordinal, even at a sentence's end
   mid-text ("in 2001. Then" → "in 2001st, Then").
3. Arithmetic: ``<operand> <op> <operand>`` with spaces around ``+ - × ÷ =`` → plus / minus / times /
   divided by / Equals. An operand may be one letter, so "well - known" reads "well minus known".
4. ``-5`` at the start or after blanks → ``negative 5``; the blanks before it are dropped
   ("was -5" → "wasnegative 5", which the word segmenter later splits again).
5. Commas inside digit runs are removed.
6. Clock times ``H:MM`` (hour 0–23) → hour words, minute words (or "o'clock") and ``a.m.`` when the
   hour is below 12, else ``p.m.`` (12-hour clock). A written "p.m." after it stays: "3:30 p.m." →
   "three thirty a.m. p.m.".
7. Units glued to a number (``5km``, ``10s``, ``2h``, ``1L``, ``°C``) → singular only for exactly 1.
8. ``£``/``$`` amounts (sign before or after) → "<n> pounds and <m> pence" / dollars and cents; an
   amount followed by a scale word stays in that order ("$3 million" → "3 dollars million").
9. Decimals → "<int> point <d> <d>"; 10. fractions → "three fourths", "one half", "three halves";
11. ``21st`` → "twenty-first"; 12. other digit runs → words: 1001–2999 as years ("nineteen
   ninety-nine", "two thousand five", "nineteen hundred"), the rest as cardinals without "and",
   with inflect's group commas ("twelve thousand, three hundred forty-five").
13. Accents stripped; ``%`` → " percent"; 14. everything but letters, blanks and ``' . , ? ! -``
   deleted; 15. "i.e." / "e.g." → "that is" / "for example".
16. A space before every capital that follows a non-blank: "NASA" → "N A S A", "iPhone" → "i Phone".
17. A run of punctuation after a mark *or a blank* is dropped ("word ." → "word ").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from .numbers import number_to_words, ordinal_digits, ordinal_words, spelled_ordinal, year_pairs

__all__ = ["normalize"]

_LITERAL = {"。": ".", "！": "!", "？": "?", "[;:：，；]": ",", '["’]': "'"}
_LITERAL_RE = re.compile("|".join(re.escape(k) for k in _LITERAL))
_SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹ˣʸⁿ"
_OPERAND = rf"(?:-?\d+(?:\.\d+)?[{_SUPERSCRIPTS}]*|\.\d+[{_SUPERSCRIPTS}]*|[A-Za-z][{_SUPERSCRIPTS}]*)"
_ARITHMETIC_RE = re.compile(rf"({_OPERAND})\s+([+\-×÷=])\s+({_OPERAND})")
_OPERATORS = {"+": " plus ", "-": " minus ", "×": " times ", "÷": " divided by ", "=": " Equals "}
_UNITS = {
    "m": ("meter", "meters"), "km": ("kilometer", "kilometers"),
    "km/h": ("kilometer per hour", "kilometers per hour"), "ft": ("feet", "feet"), "L": ("liter", "liters"),
    "tbsp": ("tablespoon", "tablespoons"), "tsp": ("teaspoon", "teaspoons"), "h": ("hour", "hours"),
    "min": ("minute", "minutes"), "s": ("second", "seconds"), "°C": ("degree celsius", "degrees celsius"),
    "°F": ("degree fahrenheit", "degrees fahrenheit"),
}  # fmt: skip
# The alternation keeps upstream's order: at "5km/h" the shorter "km" wins (its \b holds before "/").
_UNIT_RE = re.compile(r"\b([0-9]+(\.[0-9]+)?(" + "|".join(map(re.escape, _UNITS)) + r"))\b")
_CURRENCIES = (("£", "pound", "pounds", "penny", "pence"), ("$", "dollar", "dollars", "cent", "cents"))
_PUNCT = "!?…,.-"
_PUNCT_RUN_RE = re.compile(rf"([{re.escape(_PUNCT)}\s])[{re.escape(_PUNCT)}]+")


def _amount(m: re.Match[str], one: str, many: str, sub_one: str, sub_many: str) -> str:
    written = m.group(1)
    parts = written.split(".")
    if len(parts) > 2:
        return f"{written} {many}"
    try:
        whole = int(parts[0]) if parts[0] else 0
        cents = int(parts[1].ljust(2, "0")) if len(parts) > 1 and parts[1] else 0
    except ValueError:  # "$(5", "£,5": upstream raises here; we leave the digits to the number rules
        return written
    said = []
    if whole:
        said.append(f"{whole} {one if whole == 1 else many}")
    if cents:
        said.append(f"{cents} {sub_one if cents == 1 else sub_many}")
    return " and ".join(said) if said else f"zero {many}"


def _time(m: re.Match[str]) -> str:
    hours, minutes = int(m.group(1)), int(m.group(2))
    period = "a.m." if hours < 12 else "p.m."
    if hours > 12:
        hours -= 12
    if minutes == 0:
        return f"{number_to_words(hours)} o'clock {period}"
    return f"{number_to_words(hours)} {number_to_words(minutes)} {period}"


def _unit(m: re.Match[str]) -> str:
    written, decimals, unit = m.group(1), m.group(2), m.group(3)
    # Upstream drops the point before testing for 1, so "1.0h" is plural and only a bare "1" singular.
    singular = decimals is None and int(written[: -len(unit)]) == 1
    return written.replace(unit, " " + _UNITS[unit][0 if singular else 1])


def _decimal(m: re.Match[str]) -> str:
    whole, fraction = m.group(1).split(".")
    return whole + " point " + " ".join(fraction)


def _fraction(m: re.Match[str]) -> str:
    numerator, denominator = int(m.group(1)), int(m.group(2))
    said = number_to_words(numerator)
    if denominator == 1:
        return said
    if denominator == 2:
        return f"{said} {'half' if numerator == 1 else 'halves'}"
    return f"{said} {ordinal_words(number_to_words(denominator))}{'s' if numerator > 1 else ''}"


def _number(m: re.Match[str]) -> str:
    n = int(m.group(0))
    if 1000 < n < 3000:
        if n == 2000:
            return "two thousand"
        if 2000 < n < 2010:
            return "two thousand " + number_to_words(n % 100)
        if n % 100 == 0:
            return number_to_words(n // 100) + " hundred"
        return year_pairs(n)
    return number_to_words(n, andword="")


def _sub(pattern: str, repl: Callable[[re.Match[str]], str], flags: int = 0) -> Callable[[str], str]:
    compiled = re.compile(pattern, flags)
    return lambda text: compiled.sub(repl, text)


def _arithmetic(text: str) -> str:
    while _ARITHMETIC_RE.search(text):  # "1 + 2 + 3": each pass rewrites non-overlapping operations
        text = _ARITHMETIC_RE.sub(lambda m: m.group(1) + _OPERATORS[m.group(2)] + m.group(3), text)
    return text


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


_RULES: tuple[Callable[[str], str], ...] = (
    _sub(r"\b([0-9]+)\. ", lambda m: ordinal_digits(m.group(1)) + ", "),
    _arithmetic,
    _sub(r"(?:^|\s+)(-)(\d+)", lambda m: f"negative {m.group(2)}"),
    _sub(r"([0-9][0-9,]+[0-9])", lambda m: m.group(1).replace(",", "")),
    _sub(r"\b([01]?[0-9]|2[0-3]):([0-5][0-9])\b", _time),
    _sub(_UNIT_RE.pattern, _unit),
    *(
        _sub(pattern, lambda m, c=c: _amount(m, *c[1:]))
        for c in _CURRENCIES
        for pattern in (re.escape(c[0]) + r"([0-9.,]*[0-9]+)", r"([0-9.,]*[0-9]+)" + re.escape(c[0]))
    ),
    _sub(r"([0-9]+\.\s*[0-9]+)", _decimal),
    _sub(r"([0-9]+)/([0-9]+)", _fraction),
    _sub(r"[0-9]+(st|nd|rd|th)", lambda m: spelled_ordinal(m.group(0))),
    _sub(r"[0-9]+", _number),
    _strip_accents,
    lambda text: text.replace("%", " percent"),
    _sub(r"[^ A-Za-z'.,?!\-]", lambda m: ""),
    _sub(r"(?i)i\.e\.", lambda m: "that is"),
    _sub(r"(?i)e\.g\.", lambda m: "for example"),
    _sub(r"(?<!^)(?<!\s)([A-Z])", lambda m: " " + m.group(1)),
    _sub(_PUNCT_RUN_RE.pattern, lambda m: m.group(1)),
)


def normalize(text: str) -> str:
    """Return ``text`` as upstream's English normaliser leaves it (see the module docstring)."""
    text = _LITERAL_RE.sub(lambda m: _LITERAL[m.group()], text)
    for rule in _RULES:
        text = rule(text)
    return text
