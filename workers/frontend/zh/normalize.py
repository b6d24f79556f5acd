"""Chinese text normalisation, rule for rule as upstream's ``chinese2.text_normalize``.

Upstream runs PaddleSpeech's ``TextNormalizer`` (GPT-SoVITS ``zh_normalization``) on each clause, then
maps punctuation to its six marks and drops everything else. The order of the rules below is upstream's
and it matters: a phone number with dashes is read as arithmetic (400-820 → 四零零减八二零) because the
arithmetic rule runs first; any number of three or more digits not followed by a measure word is read
digit by digit (6300公里 → 六三零零, 1208室 → 幺二零八); 3:30 is 三点半. These quirks are what the
acoustic model heard in training, so they are reproduced, not corrected.

The output holds only hanzi (U+4E00–U+9FA5) and ``! ? … , . -``: one ``word2ph`` entry per character.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from pathlib import Path

from .numbers import cardinal, digits, num2str

__all__ = ["PUNCTUATION", "normalize", "to_simplified"]

PUNCTUATION = "!?…,.-"
"""The marks a normalised text keeps (upstream's ``symbols2.punctuation``)."""

_Sub = Callable[[re.Match[str]], str]

# --- clause splitting (upstream TextNormalizer._split) -------------------------------------------------
_DROP_BEFORE_SPLIT = re.compile(r"[—《》【】<>{}()（）#&@“”^_|\\]")
_CLAUSE_END = re.compile(r"([：、，；。？！,;?!][”’]?)")


@functools.cache
def _t2s() -> dict[int, int]:
    """Traditional → simplified, one character to one (upstream's ``char_convert`` table, as data)."""
    trad, simp = (Path(__file__).parent / "data" / "t2s.txt").read_text(encoding="utf-8").split("\n")[:2]
    return {ord(t): ord(s) for t, s in zip(trad, simp, strict=True)}


def to_simplified(text: str) -> str:
    """Traditional → simplified characters with upstream's one-to-one table (``char_convert``)."""
    return text.translate(_t2s())


_F2H = {c: c - 0xFEE0 for c in [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B)]}
_F2H[0x3000] = ord(" ")

# --- dates and times (chronology.py) ------------------------------------------------------------------
_DATE = re.compile(r"(\d{4}|\d{2})年((0?[1-9]|1[0-2])月)?(((0?[1-9])|((1|2)[0-9])|30|31)([日号]))?")
_DATE2 = re.compile(r"(\d{4})([- /.])(0[1-9]|1[012])\2(0[1-9]|[12][0-9]|3[01])")
_CLOCK = r"([0-1]?[0-9]|2[0-3]):([0-5][0-9])(:([0-5][0-9]))?"
_TIME_RANGE = re.compile(_CLOCK + r"(~|-)" + _CLOCK)
_TIME = re.compile(_CLOCK)


def _date(m: re.Match[str]) -> str:
    out = digits(m.group(1)) + "年"
    if m.group(3):
        out += cardinal(m.group(3)) + "月"
    if m.group(5):
        out += cardinal(m.group(5)) + m.group(9)
    return out


def _date2(m: re.Match[str]) -> str:
    return f"{digits(m.group(1))}年{cardinal(m.group(3))}月{cardinal(m.group(4))}日"


def _clock_part(text: str) -> str:
    """Minutes and seconds keep a spoken leading zero (05 → 零五)."""
    return ("零" if text.startswith("0") else "") + num2str(text.lstrip("0"))


def _clock(hour: str, minute: str, second: str | None, half: bool) -> str:
    out = num2str(hour) + "点"
    if minute.lstrip("0"):
        out += "半" if half else _clock_part(minute) + "分"
    if second and second.lstrip("0"):
        out += _clock_part(second) + "秒"
    return out


def _time(m: re.Match[str]) -> str:
    out = _clock(m.group(1), m.group(2), m.group(4), int(m.group(2)) == 30)
    if m.re is _TIME_RANGE:
        # upstream decides 半 for the end of the range from the *start* minute; kept
        out += "至" + _clock(m.group(6), m.group(7), m.group(9), int(m.group(2)) == 30)
    return out


# --- numbers (num.py, quantifier.py, phonecode.py) --------------------------------------------------
_NUM = r"((-?)((\d+)(\.\d+)?))"
_UNIT_WORDS = "%|°C|℃|度|摄氏度|cm2|cm²|cm3|cm³|cm|db|ds|kg|km|m2|m²|m³|m3|ml|m|mm|s"
_TO_RANGE_SIDE = rf"((-?)((\d+)(\.\d+)?)|(\.(\d+)))({_UNIT_WORDS})"
_TO_RANGE = re.compile(_TO_RANGE_SIDE + "[~]" + _TO_RANGE_SIDE)
_TEMPERATURE = re.compile(r"(-?)(\d+(\.\d+)?)(°C|℃|度|摄氏度)")
# Plain substring replacement, in this order (so "mm" becomes 米米: "m" is replaced before "mm").
_MEASURES = (
    ("cm2", "平方厘米"), ("cm²", "平方厘米"), ("cm3", "立方厘米"), ("cm³", "立方厘米"), ("cm", "厘米"),
    ("db", "分贝"), ("ds", "毫秒"), ("kg", "千克"), ("km", "千米"), ("m2", "平方米"), ("m²", "平方米"),
    ("m³", "立方米"), ("m3", "立方米"), ("ml", "毫升"), ("m", "米"), ("mm", "毫米"), ("s", "秒"),
)  # fmt: skip
_POW = "⁰¹²³⁴⁵⁶⁷⁸⁹ˣʸⁿ"
_OPERAND = rf"((-?)((\d+)(\.\d+)?[{_POW}]*)|(\.\d+[{_POW}]*)|([A-Za-z][{_POW}]*))"
_ASMD = re.compile(_OPERAND + r"([+\-×÷=])" + _OPERAND)
_ASMD_WORDS = {"+": "加", "-": "减", "×": "乘", "÷": "除", "=": "等于"}
_POWER = re.compile(f"[{_POW}]+")
_FRAC = re.compile(r"(-?)(\d+)/(\d+)")
_PERCENT = re.compile(r"(-?)(\d+(\.\d+)?)%")
_MOBILE = re.compile(r"(?<!\d)((\+?86 ?)?1([38]\d|5[0-35-9]|7[678]|9[89])\d{8})(?!\d)")
_TELEPHONE = re.compile(r"(?<!\d)((0(10|2[1-3]|[3-9]\d{2})-?)?[1-9]\d{6,7})(?!\d)")
_HOTLINE = re.compile(r"(400)(-)?\d{3}(-)?\d{4}")
_RANGE = re.compile(r"(?<![\d+\-×÷=])" + _NUM + r"[-~]" + _NUM + r"(?![\d+\-×÷=])")
_NEGATIVE = re.compile(r"(-)(\d+)")
_VERSION = re.compile(r"((\d+)(\.\d+)(\.\d+)?(\.\d+)+)")
_DECIMAL = re.compile(r"(-?)((\d+)(\.\d+))|(\.(\d+))")
_NUMBER = re.compile(r"(-?)((\d+)(\.\d+)?)|(\.(\d+))")
_CODE = re.compile(r"\d{3}\d*")
# Measure words after which a number is read as a count (not digit by digit). Upstream's alternation,
# in its order: the first that matches wins, so e.g. 千克 is found before 千.
_MEASURE_WORDS = """
处 台 架 枚 趟 幅 平 方 堵 间 床 株 批 项 例 列 篇 栋 注 亩 封 艘 把 目 套 段 人 所 朵 匹 张 座 回 场 尾 条 个 首
阙 阵 网 炮 顶 丘 棵 只 支 袭 辆 挑 担 颗 壳 窠 曲 墙 群 腔 砣 座 客 贯 扎 捆 刀 令 打 手 罗 坡 山 岭 江 溪 钟 队 单
双 对 出 口 头 脚 板 跳 枝 件 贴 针 线 管 名 位 身 堂 课 本 页 家 户 层 丝 毫 厘 分 钱 两 斤 担 铢 石 钧 锱 忽 千克
毫克 微克 毫 厘 公分 分 寸 尺 丈 里 寻 常 铺 程 千米 分米 厘米 毫米 微米 米 撮 勺 合 升 斗 石 盘 碗 碟 叠 桶 笼 盆
盒 杯 钟 斛 锅 簋 篮 盘 桶 罐 瓶 壶 卮 盏 箩 箱 煲 啖 袋 钵 年 月 日 季 刻 时 周 天 秒 分 小时 旬 纪 岁 世 更 夜 春
夏 秋 冬 代 伏 辈 丸 泡 粒 颗 幢 堆 条 根 支 道 面 片 张 颗 块 元 亿 千万 百万 万 千 百 亿元 千万元 百万元 万元
千元 百元 美元 元 亿吨 千万吨 百万吨 万吨 千吨 百吨 十吨 吨 亿块 千万块 百万块 万块 千块 百块 块 角 毛 分
""".split()
_COUNT = re.compile(r"(\d+)([多余几+])?(" + "|".join(_MEASURE_WORDS) + ")")


def _to_range(m: re.Match[str]) -> str:
    return m.group(0).replace("~", "至")


def _temperature(m: re.Match[str]) -> str:
    # Always 度, even for 摄氏度: upstream compares its decimal-part group with "摄氏度" (never equal).
    return ("零下" if m.group(1) else "") + num2str(m.group(2)) + "度"


def _measures(text: str) -> str:
    for notation, words in _MEASURES:
        text = text.replace(notation, words)
    return text


def _asmd(m: re.Match[str]) -> str:
    return m.group(1) + _ASMD_WORDS[m.group(8)] + m.group(9)


def _power(m: re.Match[str]) -> str:
    mapped = "".join(str(_POW.index(c)) if _POW.index(c) < 10 else "xyn"[_POW.index(c) - 10] for c in m.group(0))
    return "的" + mapped + "次方"


def _frac(m: re.Match[str]) -> str:
    return ("负" if m.group(1) else "") + num2str(m.group(3)) + "分之" + num2str(m.group(2))


def _percent(m: re.Match[str]) -> str:
    return ("负" if m.group(1) else "") + "百分之" + num2str(m.group(2))


def _mobile(m: re.Match[str]) -> str:
    return "，".join(digits(part, yao=True) for part in m.group(0).strip("+").split())


def _phone(m: re.Match[str]) -> str:
    return "，".join(digits(part, yao=True) for part in m.group(0).split("-"))


def _number(m: re.Match[str]) -> str:
    if m.group(5):
        return num2str(m.group(5))
    return ("负" if m.group(1) else "") + num2str(m.group(2))


def _range(m: re.Match[str]) -> str:
    return _NUMBER.sub(_number, m.group(1)) + "到" + _NUMBER.sub(_number, m.group(6))


def _negative(m: re.Match[str]) -> str:
    return "负" + num2str(m.group(2))


def _version(m: re.Match[str]) -> str:
    return "".join("点" if c == "." else num2str(c) for c in m.group(1))


def _count(m: re.Match[str]) -> str:
    number = num2str(m.group(1))
    more = "多" if m.group(2) == "+" else m.group(2) or ""
    return ("两" if number == "二" else number) + more + m.group(3)


def _code(m: re.Match[str]) -> str:
    return digits(m.group(0), yao=True)


# --- symbols read as words, then stripped (TextNormalizer._post_replace) ------------------------------
_POST_WORDS = {
    "/": "每", "①": "一", "②": "二", "③": "三", "④": "四", "⑤": "五", "⑥": "六", "⑦": "七", "⑧": "八",
    "⑨": "九", "⑩": "十", "α": "阿尔法", "β": "贝塔", "γ": "伽玛", "Γ": "伽玛", "δ": "德尔塔", "Δ": "德尔塔",
    "ε": "艾普西龙", "ζ": "捷塔", "η": "依塔", "θ": "西塔", "Θ": "西塔", "ι": "艾欧塔", "κ": "喀帕",
    "λ": "拉姆达", "Λ": "拉姆达", "μ": "缪", "ν": "拗", "ξ": "克西", "Ξ": "克西", "ο": "欧米克伦", "π": "派",
    "Π": "派", "ρ": "肉", "ς": "西格玛", "Σ": "西格玛", "σ": "西格玛", "τ": "套", "υ": "宇普西龙", "φ": "服艾",
    "Φ": "服艾", "χ": "器", "ψ": "普赛", "Ψ": "普赛", "ω": "欧米伽", "Ω": "欧米伽",
    "+": "加", "-": "减", "×": "乘", "÷": "除", "=": "等",
}  # fmt: skip
_POST_TABLE = str.maketrans(_POST_WORDS)
_DROP_AFTER = re.compile(r"[-—《》【】<=>{}()（）#&@“”^_|\\]")

_RULES: tuple[tuple[re.Pattern[str], _Sub], ...] = (
    (_DATE, _date),
    (_DATE2, _date2),
    (_TIME_RANGE, _time),
    (_TIME, _time),
    (_TO_RANGE, _to_range),
    (_TEMPERATURE, _temperature),
)
_NUMBER_RULES: tuple[tuple[re.Pattern[str], _Sub], ...] = (
    (_FRAC, _frac),
    (_PERCENT, _percent),
    (_MOBILE, _mobile),
    (_TELEPHONE, _phone),
    (_HOTLINE, _phone),
    (_RANGE, _range),
    (_NEGATIVE, _negative),
    (_VERSION, _version),
    (_DECIMAL, _number),
    (_COUNT, _count),
    (_CODE, _code),
    (_NUMBER, _number),
)

# --- punctuation (chinese2.replace_punctuation) --------------------------------------------------------
_PUNCT_MAP = {
    "：": ",", "；": ",", "，": ",", "。": ".", "！": "!", "？": "?", "\n": ".", "·": ",", "、": ",",
    "...": "…", "$": ".", "/": ",", "—": "-", "~": "…", "～": "…",
}  # fmt: skip
_PUNCT_RE = re.compile("|".join(re.escape(p) for p in _PUNCT_MAP))
_NOT_KEPT = re.compile(f"[^\u4e00-\u9fa5{re.escape(PUNCTUATION)}]+")
_PUNCT_RUN = re.compile(f"([{re.escape(PUNCTUATION)}])[{re.escape(PUNCTUATION)}]+")


def _clauses(text: str) -> list[str]:
    text = _DROP_BEFORE_SPLIT.sub("", text.replace(" ", ""))
    text = _CLAUSE_END.sub("\\1\n", text).strip()
    return [c.strip() for c in re.split(r"\n+", text)]


def _normalize_clause(text: str) -> str:
    text = text.translate(_t2s()).translate(_F2H)
    for pattern, repl in _RULES:
        text = pattern.sub(repl, text)
    text = _measures(text)
    while _ASMD.search(text):
        text = _ASMD.sub(_asmd, text)
    text = _POWER.sub(_power, text)
    for pattern, repl in _NUMBER_RULES:
        text = pattern.sub(repl, text)
    return _DROP_AFTER.sub("", text.translate(_POST_TABLE))


def _punctuate(text: str) -> str:
    text = text.replace("嗯", "恩").replace("呣", "母")
    text = _PUNCT_RE.sub(lambda m: _PUNCT_MAP[m.group()], text)
    return _NOT_KEPT.sub("", text)


def normalize(text: str) -> str:
    """Return ``text`` as upstream's ``text_normalize`` does: numbers read out, six punctuation marks."""
    out = "".join(_punctuate(_normalize_clause(c)) for c in _clauses(text))
    return _PUNCT_RUN.sub(r"\1", out)
