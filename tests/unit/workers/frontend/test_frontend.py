from __future__ import annotations

import numpy as np
import pytest

from relaytts.errors import InvalidArgument
from workers.frontend import Frontend, Language, PhonemizedSegment, Segment
from workers.frontend.segment import MAX_SEGMENT_CHARS


def test_public_api_shape(frontend: Frontend) -> None:
    segs = frontend.segments("今天天气很好，我们去 park 散步吧。", "zh")
    assert all(isinstance(s, Segment) for s in segs)
    out = frontend.phonemize("今天天气很好，我们去 park 散步吧。", Language.ZH)
    assert all(isinstance(s, PhonemizedSegment) for s in out)
    seg = out[1]
    assert [sp.language for sp in seg.spans] == [Language.ZH, Language.EN, Language.ZH]
    assert seg.ids.dtype == np.int64
    assert seg.norm_text == "".join(sp.norm_text for sp in seg.spans)
    assert Language("auto") is Language.AUTO and str(Language.ZH) == "zh"


@pytest.mark.parametrize(
    "text", ["", "   ", "。。。！！！", "...", "😀🎉👍", "안녕하세요", "Привет мир", "مرحبا", "\n\n"]
)
def test_nothing_to_say_gives_no_segments(frontend: Frontend, text: str) -> None:
    for lang in ("auto", "zh", "en", "ja"):
        assert frontend.phonemize(text, lang) == []


def test_emoji_and_foreign_scripts_inside_text_are_dropped(frontend: Frontend) -> None:
    (seg,) = frontend.phonemize("你好😀，很高兴认识你。", "zh")
    assert "😀" not in seg.norm_text and "UNK" not in seg.symbols
    (seg,) = frontend.phonemize("Hello 😀 мир world", "en")
    assert seg.norm_text == "Hello   world."  # upstream deletes them and keeps the blanks around them
    assert seg.symbols == ("HH", "AH0", "L", "OW1", "W", "ER1", "L", "D", ".")


@pytest.mark.parametrize("text", ["嗯", "呣", "唔", "嗯嗯", "嗯？", "呣……", "唔该"])
def test_interjections_do_not_crash(frontend: Frontend, text: str) -> None:
    (seg,) = frontend.phonemize(text, "zh")
    assert seg.symbols[0] == "." and len(seg.symbols) >= 4 and "UNK" not in seg.symbols  # redone once with "."


def test_very_long_text_without_punctuation(frontend: Frontend) -> None:
    segs = frontend.phonemize("我们" * 800, "zh")
    assert len(segs) >= 3 and all(len(s.text) <= MAX_SEGMENT_CHARS for s in segs)
    words = frontend.phonemize("lorem ipsum " * 300, "en")
    assert all(len(s.text) <= MAX_SEGMENT_CHARS for s in words)


def test_short_segments_are_redone_with_a_leading_dot(frontend: Frontend) -> None:
    (seg,) = frontend.phonemize("你好", "zh")
    assert seg.symbols == (".", "n", "i2", "h", "ao3", ".")
    assert seg.text == "你好。"


def test_auto_routes_each_span(frontend: Frontend) -> None:
    (ja,) = frontend.phonemize("明日はGoogleで面接があります。", "auto")
    assert ja.language is Language.JA
    assert [sp.language for sp in ja.spans] == [Language.JA, Language.EN, Language.JA]
    (zh,) = frontend.phonemize("明天Tom要去NASA参观。", "auto")
    assert zh.language is Language.ZH


def test_bad_arguments_are_invalid_argument(frontend: Frontend) -> None:
    with pytest.raises(InvalidArgument, match="`lang` must be one of auto, en, ja, zh|`lang` must be one of"):
        frontend.phonemize("hello", "ko")
    with pytest.raises(InvalidArgument, match="`text` must be a string"):
        frontend.phonemize(b"hello", "en")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        Frontend(max_segment_chars=3)


def test_bert_features_have_one_column_per_phone(frontend: Frontend) -> None:
    for seg in frontend.phonemize("我们用Python写代码。今日はいい天気。", "auto"):
        feats = frontend.bert_features(seg)
        assert feats.shape == (1024, len(seg.ids)) and feats.dtype == np.float32
