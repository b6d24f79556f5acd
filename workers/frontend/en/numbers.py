"""Numbers → English words: cardinals, ordinals, years, decimals, digit strings."""

from __future__ import annotations

__all__ = ["cardinal", "decimal", "digits", "ordinal", "year"]

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen").split()  # fmt: skip
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ("", "thousand", "million", "billion", "trillion", "quadrillion")
_ORDINAL_IRREGULAR = {
    "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth", "nine": "ninth",
    "twelve": "twelfth",
}  # fmt: skip


def _below_thousand(n: int) -> str:
    words: list[str] = []
    if n >= 100:
        words += [_ONES[n // 100], "hundred"]
        n %= 100
    if n >= 20:
        words.append(_TENS[n // 10] + (f"-{_ONES[n % 10]}" if n % 10 else ""))
    elif n or not words:
        words.append(_ONES[n])
    return " ".join(words)


def cardinal(n: int) -> str:
    """Read an integer ("1234" → one thousand two hundred thirty-four); ≥ 10**18 is read digit by digit."""
    if n < 0:
        return "minus " + cardinal(-n)
    if n >= 1000 ** len(_SCALES):
        return digits(str(n))
    if n < 1000:
        return _below_thousand(n)
    parts: list[str] = []
    scale = 0
    while n:
        n, chunk = divmod(n, 1000)
        if chunk:
            parts.append(_below_thousand(chunk) + (f" {_SCALES[scale]}" if scale else ""))
        scale += 1
    return " ".join(reversed(parts))


def ordinal(n: int) -> str:
    """Read an ordinal ("21" → twenty-first)."""
    words = cardinal(n)
    head, sep, last = words.rpartition("-") if "-" in words.split(" ")[-1] else words.rpartition(" ")
    if last in _ORDINAL_IRREGULAR:
        last = _ORDINAL_IRREGULAR[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return head + sep + last


def year(n: int) -> str:
    """Read a year the way years are said ("1999" → nineteen ninety-nine, "2005" → two thousand five)."""
    if n < 1000 or n > 9999 or 2000 <= n <= 2009 or n % 1000 == 0:
        return cardinal(n)
    high, low = divmod(n, 100)
    if low == 0:
        return cardinal(high) + " hundred"
    return cardinal(high) + " " + (f"oh {_ONES[low]}" if low < 10 else cardinal(low))


def digits(text: str) -> str:
    """Read a digit string one digit at a time ("007" → zero zero seven)."""
    return " ".join(_ONES[int(d)] for d in text if d.isdigit())


def decimal(text: str) -> str:
    """Read a decimal ("3.14" → three point one four)."""
    whole, _, frac = text.partition(".")
    head = cardinal(int(whole or "0"))
    return f"{head} point {digits(frac)}" if frac else head
