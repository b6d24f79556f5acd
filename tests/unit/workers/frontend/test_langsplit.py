from __future__ import annotations

from workers.frontend.langsplit import main_language, split_languages
from workers.frontend.schema import Language

ZH, EN, JA, AUTO = Language.ZH, Language.EN, Language.JA, Language.AUTO


def spans(text: str, lang: Language) -> list[tuple[str, str]]:
    return [(s.language.value, s.text) for s in split_languages(text, lang)]


def test_english_words_inside_chinese_are_english() -> None:
    assert spans("我们用Python写代码。", ZH) == [("zh", "我们用"), ("en", "Python"), ("zh", "写代码。")]
    assert spans("我用iPhone 15拍照。", ZH) == [("zh", "我用"), ("en", "iPhone "), ("zh", "15拍照。")]


def test_digits_follow_their_neighbours() -> None:
    assert spans("价格是100 dollars。", ZH) == [("zh", "价格是100 "), ("en", "dollars。")]
    assert spans("iPhone 15 Pro很好", AUTO) == [("en", "iPhone 15 Pro"), ("zh", "很好")]


def test_zh_mode_splits_as_upstream_langsegmenter() -> None:
    # upstream LangSegmenter.getTexts(text, "zh") (split-lang 2.1.1): digits are always Chinese, a unit
    # after a number is an English piece
    assert spans("iPhone 15 Pro很好", ZH) == [("en", "iPhone "), ("zh", "15 "), ("en", "Pro"), ("zh", "很好")]
    assert spans("他跑了10km，速度12km/h。", ZH) == [
        ("zh", "他跑了10"),
        ("en", "km，"),
        ("zh", "速度12"),
        ("en", "km/h。"),
    ]
    assert spans("5G网络覆盖了全市。", ZH) == [("zh", "5"), ("en", "G"), ("zh", "网络覆盖了全市。")]
    assert spans("他买了iPhone15。", ZH) == [("zh", "他买了"), ("en", "iPhone"), ("zh", "15。")]
    assert spans("COVID-19疫情", ZH) == [("en", "COVID-"), ("zh", "19疫情")]
    # a Latin word glued to a character upstream's full_en rejects stays Chinese; ² counts as a digit
    assert spans("温度是25°C左右。", ZH) == [("zh", "温度是25°C左右。")]
    assert spans("长度是5μm。", ZH) == [("zh", "长度是5μm。")]
    assert spans("面积是89m²。", ZH) == [("zh", "面积是89"), ("en", "m"), ("zh", "²。")]


def test_units_after_numbers_stay_chinese_in_auto_mode() -> None:
    assert spans("他跑了10km，速度12km/h。", AUTO) == [("zh", "他跑了10km，速度12km/h。")]
    assert spans("I ran 10km today.", AUTO) == [("en", "I ran 10km today.")]


def test_japanese_with_english() -> None:
    assert spans("明日はGoogleで面接。", JA) == [("ja", "明日は"), ("en", "Google"), ("ja", "で面接。")]


def test_auto_uses_kana_to_tell_japanese_from_chinese() -> None:
    assert spans("東京都に住んでいます", AUTO) == [("ja", "東京都に住んでいます")]
    assert spans("東京是日本的首都", AUTO) == [("zh", "東京是日本的首都")]


def test_english_mode_is_one_span() -> None:
    assert spans("Hello 世界", EN) == [("en", "Hello 世界")]


def test_main_language_counts_words() -> None:
    assert main_language(split_languages("明天Tom要去NASA参观。", AUTO), AUTO) is ZH
    assert main_language(split_languages("I love 北京 food very much", AUTO), AUTO) is EN
    assert main_language(split_languages("我们用Python", ZH), ZH) is ZH
