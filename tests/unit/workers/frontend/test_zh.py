from __future__ import annotations

import pytest

from workers.frontend import symbols
from workers.frontend.zh.g2p import g2p
from workers.frontend.zh.normalize import normalize
from workers.frontend.zh.numbers import cardinal, decimal, digits
from workers.frontend.zh.pinyin import split_syllable
from workers.frontend.zh.sandhi import apply_word_sandhi, erhua, third_tone_phrases


@pytest.mark.parametrize(
    ("number", "words"),
    [("0", "零"), ("10", "十"), ("15", "十五"), ("20", "二十"), ("110", "一百一十"), ("1005", "一千零五"),
     ("2000", "两千"), ("10050", "一万零五十"), ("100000", "十万"), ("100001000", "一亿零一千"),
     ("20000", "两万"), ("365", "三百六十五")],
)  # fmt: skip
def test_cardinals(number: str, words: str) -> None:
    assert cardinal(number) == words


def test_decimals_and_digit_strings() -> None:
    assert decimal("3.14") == "三点一四"
    assert decimal("0.5") == "零点五"
    assert digits("2024") == "二零二四"
    assert digits("138", yao=True) == "幺三八"


@pytest.mark.parametrize(
    ("text", "norm"),
    [
        ("2024年3月5日", "二零二四年三月五日"),
        ("2024-03-05", "二零二四年三月五日"),
        ("下午14:30", "下午十四点三十分"),
        ("12:00:05", "十二点零分五秒"),
        ("涨了3.5%", "涨了百分之三点五"),
        ("气温-3℃", "气温零下三摄氏度"),
        ("降到-5度", "降到零下五度"),
        ("花了¥1,234", "花了一千二百三十四元"),
        ("票价$50", "票价五十美元"),
        ("三分之一是1/3", "三分之一是三分之一"),
        ("3-5天", "三到五天"),
        ("跑了5km，时速12km/h", "跑了五千米,时速十二千米每小时"),
        ("电话13812345678", "电话幺三八幺二三四五六七八"),
        ("2个人，2楼", "两个人,二楼"),
        ("编号007", "编号零零七"),
        ("1+1=2", "一加一等于二"),
        ("嗯，呣！", "恩,母!"),
        ("《书》「引号」（括号）", "书引号括号"),
        ("好的～～真的……", "好的…真的…"),
        ("😀emoji와", ""),
    ],
)
def test_normalize(text: str, norm: str) -> None:
    assert normalize(text) == norm


@pytest.mark.parametrize(
    ("syllable", "split"),
    [  # the opencpop-strict split upstream trains with
        ("a1", ("AA", "a1")), ("er2", ("EE", "er2")), ("ou3", ("OO", "ou3")), ("e4", ("EE", "e4")),
        ("yan2", ("y", "En2")), ("ye3", ("y", "E3")), ("yu2", ("y", "v2")), ("yuan2", ("y", "van2")),
        ("yue4", ("y", "ve4")), ("yun2", ("y", "vn2")), ("you3", ("y", "ou3")), ("yong3", ("y", "ong3")),
        ("yi1", ("y", "i1")), ("wu3", ("w", "u3")), ("wen2", ("w", "en2")), ("wei4", ("w", "ei4")),
        ("zhi1", ("zh", "ir1")), ("ri4", ("r", "ir4")), ("zi3", ("z", "i03")), ("si4", ("s", "i04")),
        ("ju4", ("j", "v4")), ("que4", ("q", "ve4")), ("xuan3", ("x", "van3")), ("jun1", ("j", "vn1")),
        ("lv4", ("l", "v4")), ("nve4", ("n", "ve4")), ("liu2", ("l", "iu2")), ("gui4", ("g", "ui4")),
        ("lun2", ("l", "un2")), ("jiong3", ("j", "iong3")), ("zhuang4", ("zh", "uang4")),
        # no final in the table: nearest syllable instead of a crash (嗯 n/ng, 呣 m, 哼 hng, 欸 ê)
        ("n2", ("EE", "en2")), ("ng4", ("EE", "en4")), ("m2", ("m", "u2")), ("hng5", ("h", "eng5")),
        ("ê2", ("EE", "E2")),
    ],
)  # fmt: skip
def test_pinyin_split(syllable: str, split: tuple[str, str]) -> None:
    assert split_syllable(syllable) == split
    table = symbols.symbol_table()
    assert split[0] in table and split[1] in table


def test_every_pypinyin_syllable_maps_into_the_table() -> None:
    from pypinyin import Style, pinyin
    from pypinyin.constants import PINYIN_DICT

    table = symbols.symbol_table()
    seen: set[str] = set()
    for code in list(PINYIN_DICT)[::7]:  # a sample across the whole dictionary keeps this fast
        if not 0x4E00 <= code <= 0x9FA5:
            continue
        for syl in pinyin(chr(code), style=Style.TONE3, heteronym=True, neutral_tone_with_five=True)[0]:
            seen.add(syl)
    assert len(seen) > 500
    for syl in seen:
        initial, final = split_syllable(syl)
        assert initial in table and final in table, syl


def test_bu_and_yi_sandhi() -> None:
    assert apply_word_sandhi("不要", "d", ["bu4", "yao4"]) == ["bu2", "yao4"]
    assert apply_word_sandhi("不好", "d", ["bu4", "hao3"]) == ["bu4", "hao3"]
    assert apply_word_sandhi("看不看", "v", ["kan4", "bu4", "kan4"]) == ["kan4", "bu5", "kan4"]
    assert apply_word_sandhi("对不起", "l", ["dui4", "bu4", "qi3"]) == ["dui4", "bu5", "qi3"]
    assert apply_word_sandhi("一天", "m", ["yi1", "tian1"]) == ["yi4", "tian1"]
    assert apply_word_sandhi("一个", "m", ["yi1", "ge4"]) == ["yi2", "ge5"]
    assert apply_word_sandhi("看一看", "v", ["kan4", "yi1", "kan4"]) == ["kan4", "yi5", "kan4"]
    assert apply_word_sandhi("第一", "m", ["di4", "yi4"]) == ["di4", "yi1"]
    assert apply_word_sandhi("一九九八", "m", ["yi1", "jiu3", "jiu3", "ba1"])[0] == "yi1"
    assert apply_word_sandhi("统一", "v", ["tong3", "yi4"]) == ["tong3", "yi1"]
    assert apply_word_sandhi("一千", "m", ["yi1", "qian1"]) == ["yi4", "qian1"]


def test_neutral_tone() -> None:
    assert apply_word_sandhi("东西", "n", ["dong1", "xi1"]) == ["dong1", "xi5"]
    assert apply_word_sandhi("孩子", "n", ["hai2", "zi3"]) == ["hai2", "zi5"]
    assert apply_word_sandhi("原子", "n", ["yuan2", "zi3"]) == ["yuan2", "zi3"]
    assert apply_word_sandhi("妈妈", "n", ["ma1", "ma1"]) == ["ma1", "ma5"]
    assert apply_word_sandhi("好吧", "y", ["hao3", "ba1"]) == ["hao3", "ba5"]
    assert apply_word_sandhi("得", "ud", ["de2"]) == ["de5"]
    assert apply_word_sandhi("地", "uv", ["di4"]) == ["de5"]
    assert apply_word_sandhi("出来", "v", ["chu1", "lai2"]) == ["chu1", "lai5"]


def test_third_tone_sandhi_follows_word_structure() -> None:
    def run(words: list[tuple[str, list[str]]], heads: set[str] = frozenset()) -> list[list[str]]:
        return third_tone_phrases(words, lambda w: w in heads)

    assert run([("你好", ["ni3", "hao3"])]) == [["ni2", "hao3"]]
    assert run([("展览馆", ["zhan3", "lan3", "guan3"])], {"展览"}) == [["zhan2", "lan2", "guan3"]]
    assert run([("小老虎", ["xiao3", "lao3", "hu3"])]) == [["xiao3", "lao2", "hu3"]]
    assert run([("我", ["wo3"]), ("很好", ["hen3", "hao3"])]) == [["wo3"], ["hen2", "hao3"]]
    assert run([("展览", ["zhan3", "lan3"]), ("馆", ["guan3"])]) == [["zhan2", "lan2"], ["guan3"]]
    # a domain is at most 3 syllables: a long word before a tone-3 word keeps its tone
    assert run([("百分之三点", ["bai3", "fen1", "zhi1", "san1", "dian3"]), ("五", ["wu3"])])[0][-1] == "dian3"


def test_erhua_takes_the_tone_of_the_syllable_it_colours() -> None:
    assert erhua("玩儿", "v", ["wan2", "er2"]) == ["wan2", "er2"]
    assert erhua("哪儿", "r", ["na3", "er5"]) == ["na3", "er3"]
    assert erhua("一会儿", "m", ["yi2", "hui4", "er5"]) == ["yi2", "hui4", "er4"]
    assert erhua("女儿", "n", ["nv3", "er5"]) == ["nv3", "er5"]  # 儿 = child, not the suffix
    assert erhua("花儿", "n", ["hua1", "er1"]) == ["hua1", "er2"]


def test_g2p_alignment_two_phones_per_hanzi_one_per_mark() -> None:
    phones, word2ph = g2p("你好,世界!")
    assert phones == ["n", "i2", "h", "ao3", ",", "sh", "ir4", "j", "ie4", "!"]
    assert word2ph == [2, 2, 1, 2, 2, 1]


@pytest.mark.parametrize("text", ["嗯", "呣", "唔", "嗯嗯嗯", "哼", "欸", "呒", "噷", "姆"])
def test_interjections_that_crash_other_engines(text: str) -> None:
    norm = normalize(text)
    phones, word2ph = g2p(norm)
    assert len(word2ph) == len(norm) and sum(word2ph) == len(phones) > 0
    assert "UNK" not in phones
    assert all(p in symbols.symbol_table() for p in phones)
