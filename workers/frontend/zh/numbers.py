"""Arabic numerals → Chinese number words (cardinals, decimals, digit strings)."""

from __future__ import annotations

__all__ = ["cardinal", "decimal", "digits", "number"]

_DIGITS = "零一二三四五六七八九"
_SMALL_UNITS = ("", "十", "百", "千")
_BIG_UNITS = ("", "万", "亿", "万亿", "亿亿")


def digits(text: str, yao: bool = False) -> str:
    """Read a digit string one digit at a time ("2024" → 二零二四); ``yao`` reads 1 as 幺 (phone numbers)."""
    out = "".join(_DIGITS[int(d)] for d in text if d.isdigit())
    return out.replace("一", "幺") if yao else out


def _group(value: int) -> str:
    """Read 0 < value < 10000 with 零 for inner gaps ("1005" → 一千零五)."""
    out: list[str] = []
    pending_zero = False
    for pos in range(3, -1, -1):
        d = value // 10**pos % 10
        if d == 0:
            pending_zero = bool(out)
            continue
        if pending_zero:
            out.append("零")
            pending_zero = False
        out.append(_DIGITS[d] + _SMALL_UNITS[pos])
    return "".join(out)


def cardinal(text: str | int, liang: bool = True) -> str:
    """Read an integer ("110" → 一百一十, "15" → 十五, "10050" → 一万零五十).

    With ``liang`` a leading 2 before 千/万/亿 is read 两 ("2000" → 两千), as speakers do.
    Numbers of 20 or more digits are read digit by digit.
    """
    s = str(text).lstrip("0") or "0"
    if s == "0":
        return "零"
    if len(s) > 20:
        return digits(s)
    value = int(s)
    groups: list[int] = []
    while value:
        groups.append(value % 10000)
        value //= 10000
    out: list[str] = []
    for idx in range(len(groups) - 1, -1, -1):
        g = groups[idx]
        if g == 0:
            continue
        higher = any(groups[idx + 1 :])
        if higher and (g < 1000 or groups[idx + 1] == 0 and idx + 1 < len(groups)):
            if not out or out[-1] != "零":
                out.append("零")
        out.append(_group(g) + _BIG_UNITS[idx])
    result = "".join(out)
    if result.startswith("一十"):
        result = result[1:]  # 15 → 十五, 100000 → 十万
    if liang and result[:2] in ("二千", "二万", "二亿"):
        result = "两" + result[1:]
    return result


def decimal(text: str) -> str:
    """Read a decimal ("3.14" → 三点一四, "0.5" → 零点五); integers go through ``cardinal``."""
    whole, _, frac = text.partition(".")
    head = cardinal(whole or "0", liang=False)
    return head + "点" + digits(frac) if frac else head


def number(text: str) -> str:
    """Read a signed integer or decimal ("-3.5" → 负三点五)."""
    sign = "负" if text.startswith("-") else ""
    return sign + decimal(text.lstrip("+-"))
