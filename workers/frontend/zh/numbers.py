"""Arabic numerals → Chinese number words, read the way upstream's normaliser reads them.

Upstream (GPT-SoVITS ``zh_normalization/num.py``, from PaddleSpeech) reads an integer by splitting it at
the largest unit below its length (十 百 千 万 亿) and reading both halves, with 零 where the lower
half has leading zeros. It never says 两 (2000 → 二千) and keeps one trailing zero of a decimal
(3.20 → 三点二零). Those choices are kept: the acoustic model was trained on them.
"""

from __future__ import annotations

__all__ = ["cardinal", "digits", "num2str"]

_DIGITS = "零一二三四五六七八九"
_UNITS = ((8, "亿"), (4, "万"), (3, "千"), (2, "百"), (1, "十"))  # largest first


def digits(text: str, yao: bool = False) -> str:
    """Read a digit string digit by digit ("2024" → 二零二四); ``yao`` reads 1 as 幺 (codes, phones)."""
    out = "".join(_DIGITS[int(d)] for d in text)
    return out.replace("一", "幺") if yao else out


def _words(text: str) -> list[str]:
    """Number words for the digit string ``text`` (which may have leading zeros)."""
    significant = text.lstrip("0")
    if not significant:
        return []
    if len(significant) == 1:
        # a lone digit after zeros that were cut off a longer number: 1005 → …千 零五
        return ["零", _DIGITS[int(significant)]] if len(significant) < len(text) else [_DIGITS[int(significant)]]
    power, unit = next((p, u) for p, u in _UNITS if p < len(significant))
    return _words(text[:-power]) + [unit] + _words(text[-power:])


def cardinal(text: str) -> str:
    """Read an integer string ("110" → 一百一十, "15" → 十五, "10050" → 一万零五十, "2000" → 二千)."""
    text = text.lstrip("0")
    if not text:
        return "零"
    words = _words(text)
    if words[:2] == ["一", "十"]:
        words = words[1:]  # 一十五 is said 十五
    return "".join(words)


def num2str(text: str) -> str:
    """Read an unsigned integer or decimal ("3.14" → 三点一四, ".5" → 零点五, "3.20" → 三点二零)."""
    whole, dot, frac = text.partition(".")
    if "." in frac:
        raise ValueError(f"more than one decimal point in {text!r}")
    out = cardinal(whole) if whole else ""
    # upstream keeps a single trailing zero ("3.20" → 二零, "3.0" → 零) and drops none otherwise
    frac = frac.rstrip("0") + "0" if frac.endswith("0") else frac
    if frac:
        out = (out or "零") + "点" + digits(frac)
    return out
