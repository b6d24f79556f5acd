"""English text normalisation: money, numbers, ordinals, times, units, abbreviations → words.

The output has only ASCII letters, apostrophes, spaces and the six punctuation symbols
``! ? … , . -``; every word in it is something the G2P can look up, spell or predict.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from .numbers import cardinal, decimal, digits, ordinal, year

__all__ = ["normalize"]

_ABBREVIATIONS = {
    "mr": "mister", "mrs": "missus", "ms": "miss", "dr": "doctor", "prof": "professor", "st": "saint",
    "jr": "junior", "sr": "senior", "vs": "versus", "etc": "et cetera", "inc": "incorporated",
    "ltd": "limited", "co": "company", "corp": "corporation", "dept": "department", "mt": "mount",
    "ave": "avenue", "approx": "approximately", "est": "established", "gov": "governor", "sen": "senator",
    "rep": "representative", "gen": "general", "capt": "captain", "lt": "lieutenant", "sgt": "sergeant",
    "jan": "january", "feb": "february", "mar": "march", "apr": "april", "aug": "august",
    "sep": "september", "sept": "september", "oct": "october", "nov": "november", "dec": "december",
}  # fmt: skip
_LATIN = {"e.g.": "for example", "i.e.": "that is", "a.k.a.": "also known as", "cf.": "compare"}
_MONTHS = ("january february march april may june july august september october november "
           "december").split()  # fmt: skip
_CURRENCIES = {  # symbol: (singular, plural, cent singular, cent plural)
    "$": ("dollar", "dollars", "cent", "cents"), "US$": ("dollar", "dollars", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"), "€": ("euro", "euros", "cent", "cents"),
    "¥": ("yen", "yen", "", ""), "₹": ("rupee", "rupees", "paisa", "paise"),
}  # fmt: skip
_UNITS = {
    "km": "kilometers", "kg": "kilograms", "cm": "centimeters", "mm": "millimeters", "mg": "milligrams",
    "ml": "milliliters", "mph": "miles per hour", "km/h": "kilometers per hour", "kph": "kilometers per hour",
    "lb": "pounds", "lbs": "pounds", "oz": "ounces", "ft": "feet", "sq": "square", "GB": "gigabytes",
    "MB": "megabytes", "KB": "kilobytes", "TB": "terabytes", "GHz": "gigahertz", "MHz": "megahertz",
    "kHz": "kilohertz", "Hz": "hertz", "kW": "kilowatts", "kWh": "kilowatt hours", "ms": "milliseconds",
}  # fmt: skip
_FRACTIONS = {2: ("half", "halves"), 4: ("quarter", "quarters")}
_SYMBOLS = {"&": " and ", "@": " at ", "+": " plus ", "=": " equals ", "#": " number ", "°": " degrees "}
_PUNCT_MAP = {
    "，": ",", "、": ",", "；": ",", ";": ",", "：": ",", ":": ",", "。": ".", "！": "!", "？": "?", "—": "-",
    "–": "-", "~": "-", "～": "-", "\n": ".", "’": "'", "‘": "'", "`": "'",
}  # fmt: skip
_SCALE_WORDS = r"(?:\s?(thousand|million|billion|trillion))?"
_NUMBER = r"\d+(?:,\d{3})*(?:\.\d+)?"


def _sub(pattern: str, repl: Callable[[re.Match[str]], str], flags: int = 0) -> Callable[[str], str]:
    compiled = re.compile(pattern, flags)
    return lambda text: compiled.sub(repl, text)


def _money(m: re.Match[str]) -> str:
    one, many, cent, cents = _CURRENCIES[m.group(1)]
    amount, scale = m.group(2).replace(",", ""), m.group(3)
    whole, _, frac = amount.partition(".")
    if scale:  # $5.5 million → five point five million dollars
        return f" {decimal(amount)} {scale} {many} "
    words: list[str] = []
    if int(whole or "0") or not frac or not cent:
        words.append(f"{cardinal(int(whole or '0'))} {one if int(whole or '0') == 1 else many}")
    if frac and cent and int(frac[:2].ljust(2, "0")):
        c = int(frac[:2].ljust(2, "0"))
        words.append(f"{cardinal(c)} {cent if c == 1 else cents}")
    return " " + " and ".join(words) + " "


def _fraction(m: re.Match[str]) -> str:
    num, den = int(m.group(1)), int(m.group(2))
    if den in _FRACTIONS:
        return f"{cardinal(num)} {_FRACTIONS[den][num != 1]}"
    if 3 <= den <= 20:
        word = ordinal(den)
        return f"{cardinal(num)} {word}{'s' if num != 1 else ''}"
    return f"{cardinal(num)} over {cardinal(den)}"


def _time(m: re.Match[str]) -> str:
    hour, minute = int(m.group(1)), int(m.group(2))
    suffix = (m.group(3) or "").lower()
    said = cardinal(hour) + (" o'clock" if minute == 0 and not suffix else "")
    if minute:
        said += " oh " + cardinal(minute) if minute < 10 else " " + cardinal(minute)
    if suffix:
        said += f" {suffix.upper()}.M"  # initialism form: the G2P spells it
        rest = m.string[m.end() :]
        if m.group(0).endswith(".") and not re.match(r"\s+[a-z]", rest):
            said += "."  # the abbreviation's dot also ended the sentence
    return said


def _expand_abbreviation(m: re.Match[str]) -> str:
    # At the very end the abbreviation's dot also ends the sentence ("drinks, etc.").
    return _ABBREVIATIONS[m.group(1).lower()] + ("." if m.end() == len(m.string) else "")


def _plural(words: str) -> str:
    """Decades and round numbers in the plural: "1990s" → nineteen nineties, "100s" → hundreds."""
    return words[:-1] + "ies" if words.endswith("y") else words + "s"


def _iso_date(m: re.Match[str]) -> str:
    y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if not (1 <= mo <= 12 and 1 <= d <= 31):
        return m.group(0).replace("-", " ")
    return f"{_MONTHS[mo - 1]} {ordinal(d)}, {year(y)}"


def _number_words(written: str) -> str:
    """Read a written number: decimals digit by digit after the point, 1100–2099 as years."""
    text = written.replace(",", "")
    if "." in text:
        return decimal(text)
    if len(text) > 1 and text.startswith("0"):
        return digits(text)
    n = int(text)
    if 1100 <= n <= 2099 and "," not in written:
        return year(n)
    return cardinal(n)


_RULES: tuple[Callable[[str], str], ...] = (
    _sub(r"\b(e\.g\.|i\.e\.|a\.k\.a\.|cf\.)", lambda m: _LATIN[m.group(1).lower()], re.I),
    _sub(r"\b(" + "|".join(_ABBREVIATIONS) + r")\.(?=\s|$)", lambda m: _expand_abbreviation(m), re.I),
    _sub(r"\b(No)\.\s?(?=\d)", lambda m: "number ", re.I),
    _sub(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b", _iso_date),
    _sub(r"\b(\d{3})-(\d{3})-(\d{4})\b", lambda m: ", ".join(digits(g) for g in m.groups())),
    _sub(r"(US\$|[$£€¥₹])\s?(" + _NUMBER + ")" + _SCALE_WORDS, _money),
    _sub(r"(" + _NUMBER + r")\s?%", lambda m: f"{_number_words(m.group(1))} percent"),
    _sub(r"\b(\d{1,2}):([0-5]\d)(?:\s?([ap])\.?m\b\.?)?(?![\d:])", _time, re.I),
    _sub(r"(?<![\w'])'?(\d*0)s\b", lambda m: _plural(_number_words(m.group(1) if len(m.group(1)) > 2 else m.group(1)))),
    _sub(r"\b(\d+)(st|nd|rd|th)\b", lambda m: ordinal(int(m.group(1))), re.I),
    _sub(r"\b(\d+)/(\d+)\b", _fraction),
    _sub(r"\b(\d+(?:\.\d+)?)\s?-\s?(\d+(?:\.\d+)?)\b", lambda m: f"{m.group(1)} to {m.group(2)}"),
    _sub(
        r"(\d)\s?(" + "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True)) + r")\b",
        lambda m: f"{m.group(1)} {_UNITS[m.group(2)]}",
    ),
    _sub(r"(?<![\w.])-(?=\d)", lambda m: "minus "),
    _sub(_NUMBER, lambda m: _number_words(m.group(0))),
)


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


def normalize(text: str) -> str:
    """Return ``text`` in the form the English G2P reads."""
    text = _strip_accents(text)
    for rule in _RULES:
        text = rule(text)
    for mark, repl in _PUNCT_MAP.items():  # after the rules: "3:30" needs its colon
        text = text.replace(mark, repl)
    for mark, repl in _SYMBOLS.items():
        text = text.replace(mark, repl)
    text = re.sub(r"\b([A-Za-z]{2,})\.([A-Za-z]{2,})\b", r"\1 dot \2", text)  # example.com
    text = re.sub(r"\b((?:[A-Za-z]\.)+[A-Za-z])\.(?=\s+[a-z])", r"\1", text)  # "U.S. today": no stop
    text = re.sub(r"[^A-Za-z'.,!?…\- ]+", " ", text)
    text = re.sub(r"(?<![A-Za-z])'|'(?![A-Za-z])", " ", text)  # quotes, not apostrophes
    # Marks get one space after them; a dot between two letters belongs to an initialism (U.S), a
    # hyphen between two letters to a compound (Wi-Fi, twenty-one), which the G2P looks up whole first.
    text = re.sub(r"\s*([!?…,]|(?<![A-Za-z])[.\-]|[.\-](?![A-Za-z]))\s*", r"\1 ", text)
    text = re.sub(r"([!?…,.\-])(?:\s*[!?…,.\-])+", r"\1", text)  # a run of marks → its first
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r"^[,.\-]\s*", "", text) if re.search(r"[A-Za-z]", text) else text
