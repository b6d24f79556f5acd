"""Chinese text normalisation: numbers, dates, times, money, units → hanzi; punctuation → the six marks.

The output holds only hanzi (U+4E00–U+9FA5), the six punctuation symbols ``! ? … , . -`` and the two
pause-marker placeholders, so that ``len(norm_text)`` equals the number of ``word2ph`` entries (BERT
reads the normalised text one character per token).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .numbers import cardinal, decimal, digits, number

__all__ = ["SP2_MARK", "SP3_MARK", "normalize"]

SP2_MARK = "\ue000"
"""Placeholder for the ``SP2`` pause symbol (written ``￥`` in zh input, as upstream)."""
SP3_MARK = "\ue001"
"""Placeholder for the ``SP3`` pause symbol (written ``^`` in zh input, as upstream)."""

_NUM = r"\d+(?:\.\d+)?"
_CURRENCY = {"¥": "元", "$": "美元", "€": "欧元", "£": "英镑", "₩": "韩元", "HK$": "港元", "US$": "美元"}
_UNITS = {
    "km/h": "千米每小时", "m/s": "米每秒", "km²": "平方千米", "m²": "平方米", "m³": "立方米",
    "cm²": "平方厘米", "cm³": "立方厘米", "mAh": "毫安时", "kWh": "千瓦时", "kHz": "千赫兹",
    "MHz": "兆赫兹", "GHz": "吉赫兹", "km": "千米", "kg": "千克", "cm": "厘米", "mm": "毫米",
    "mg": "毫克", "ml": "毫升", "mL": "毫升", "ms": "毫秒", "min": "分钟", "Hz": "赫兹", "kW": "千瓦",
    "m": "米", "g": "克", "L": "升", "t": "吨", "h": "小时", "s": "秒", "W": "瓦", "V": "伏",
}  # fmt: skip
# Measure words after which a lone 2 is read 两 ("2个" → 两个, but "2楼" → 二楼).
_LIANG_MEASURES = "个位只条本件张次种天周岁斤块辆台份名间双对年小分秒倍瓶杯口层把根节首场家"
_PUNCT_MAP = {
    "：": ",", "；": ",", "，": ",", "。": ".", "！": "!", "？": "?", "、": ",", "·": ",", "/": ",",
    "—": "-", "–": "-", "~": "…", "～": "…", ";": ",", ":": ",", "\n": ".", "「": "", "」": "",
}  # fmt: skip
_PUNCT_RE = re.compile("|".join(re.escape(k) for k in sorted(_PUNCT_MAP, key=len, reverse=True)))
_KEEP_RE = re.compile(f"[^\u4e00-\u9fa5!?…,.\\-{SP2_MARK}{SP3_MARK}]+")
_REPEAT_RE = re.compile(r"([!?…,.\-])[!?…,.\-]+")


def _sub(pattern: str, repl: Callable[[re.Match[str]], str]) -> Callable[[str], str]:
    compiled = re.compile(pattern)
    return lambda text: compiled.sub(repl, text)


def _date(m: re.Match[str]) -> str:
    year, month, day = m.group("y"), m.group("m"), m.group("d")
    out = digits(year) + "年" if year else ""
    out += cardinal(month, liang=False) + "月" if month else ""
    out += cardinal(day, liang=False) + (m.group("suffix") or "日") if day else ""
    return out


def _time(m: re.Match[str]) -> str:
    hour, minute, second = int(m.group(1)), int(m.group(2)), m.group(3)
    out = ("两" if hour == 2 else cardinal(str(hour))) + "点"
    if minute or second:
        out += "零分" if not minute else ("零" if minute < 10 else "") + cardinal(str(minute), liang=False) + "分"
    if second and int(second):
        out += cardinal(second, liang=False) + "秒"
    return out


def _integer(m: re.Match[str]) -> str:
    text, after = m.group(1), m.group(2)
    if text.startswith("0") and len(text) > 1 or len(text) >= 13:
        return digits(text) + after  # codes, IDs, numbers with leading zeros
    if text == "2" and after and after in _LIANG_MEASURES:
        return "两" + after
    return cardinal(text) + after


_RULES: tuple[Callable[[str], str], ...] = (
    _sub(r"(\d),(?=\d{3}(?!\d))", lambda m: m.group(1)),  # 1,234,567 → 1234567
    _sub(r"(?<!\d)(?:\+?86[- ]?)?(1[3-9]\d{9})(?!\d)", lambda m: digits(m.group(1), yao=True)),
    _sub(r"(\d{4})\s*[-~～至到]\s*(\d{4})年", lambda m: f"{digits(m.group(1))}到{digits(m.group(2))}年"),
    _sub(
        r"(?<!\d)(?P<y>\d{4})(?:年|[-/.](?=\d{1,2}[-/.]\d))(?:(?P<m>\d{1,2})[月\-/.](?:(?P<d>\d{1,2})(?P<suffix>[日号])?)?)?",
        _date,
    ),
    _sub(r"(?<!\d)(?P<y>)(?P<m>\d{1,2})月(?:(?P<d>\d{1,2})(?P<suffix>[日号])?)?", _date),
    _sub(r"(?<!\d)(\d{1,2}):([0-5]\d)(?::([0-5]\d))?(?!\d)", _time),
    _sub(rf"(-?)({_NUM})\s?(?:°C|℃)", lambda m: ("零下" if m.group(1) else "") + decimal(m.group(2)) + "摄氏度"),
    _sub(rf"(-?)({_NUM})\s?°", lambda m: ("零下" if m.group(1) else "") + decimal(m.group(2)) + "度"),
    _sub(rf"(?<![\d.])-({_NUM})度", lambda m: "零下" + decimal(m.group(1)) + "度"),
    _sub(rf"(-?)({_NUM})\s?%", lambda m: ("负" if m.group(1) else "") + "百分之" + decimal(m.group(2))),
    _sub(rf"(-?)({_NUM})\s?‰", lambda m: ("负" if m.group(1) else "") + "千分之" + decimal(m.group(2))),
    _sub(
        r"(HK\$|US\$|[¥$€£₩])\s?(" + _NUM + r")",
        lambda m: decimal(m.group(2)) + _CURRENCY[m.group(1)],
    ),
    _sub(r"(?<![\d/])(\d+)/(\d+)(?![\d/])", lambda m: cardinal(m.group(2)) + "分之" + cardinal(m.group(1))),
    _sub(rf"({_NUM})\s?[-~～]\s?({_NUM})", lambda m: f"{number(m.group(1))}到{number(m.group(2))}"),
    _sub(
        rf"({_NUM}) ?(" + "|".join(re.escape(u) for u in _UNITS) + r")(?![A-Za-z])",
        lambda m: number(m.group(1)) + _UNITS[m.group(2)],
    ),
    _sub(r"(\d)\s*\+\s*(?=\d)", lambda m: m.group(1) + "加"),
    _sub(r"(\d)\s*[×xX*]\s*(?=\d)", lambda m: m.group(1) + "乘"),
    _sub(r"(\d)\s*=\s*(?=\d)", lambda m: m.group(1) + "等于"),
    _sub(r"(?<![\d.])-(?=\d)", lambda m: "负"),
    _sub(r"(\d+\.\d+)", lambda m: decimal(m.group(1))),
    _sub(r"(\d+)(\D?)", _integer),
)


def normalize(text: str) -> str:
    """Return ``text`` in the form the Chinese G2P reads (one character per ``word2ph`` entry)."""
    text = text.replace("￥", SP2_MARK).replace("^", SP3_MARK)
    for rule in _RULES:
        text = rule(text)
    text = text.replace("嗯", "恩").replace("呣", "母")  # as upstream; see g2p._syllable_fallback too
    text = _PUNCT_RE.sub(lambda m: _PUNCT_MAP[m.group()], text)
    text = _KEEP_RE.sub("", text)
    return _REPEAT_RE.sub(r"\1", text)
