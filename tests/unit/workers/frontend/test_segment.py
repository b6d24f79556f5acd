from __future__ import annotations

from workers.frontend.segment import MAX_SEGMENT_CHARS, normalize_punctuation, split_text


def test_cuts_after_every_punctuation_mark_and_keeps_it() -> None:
    assert split_text("今天天气很好，我们去公园散步吧。明天再见朋友！") == [
        "今天天气很好，",
        "我们去公园散步吧。",
        "明天再见朋友！",
    ]


def test_short_pieces_merge_into_the_next_one() -> None:
    assert split_text("好，走吧。我们出发去公园。") == ["好，走吧。", "我们出发去公园。"]  # 好，+走吧。= 5
    assert split_text("你好。") == ["你好。"]


def test_missing_closing_mark_is_added() -> None:
    assert split_text("今天天气很好") == ["今天天气很好。"]
    assert split_text("Hello there", closing=".") == ["Hello there."]


def test_numbers_and_abbreviations_do_not_cut() -> None:
    assert split_text("圆周率是3.14159，真的吗？") == ["圆周率是3.14159，真的吗？"]
    assert split_text("Dr. Smith paid $1,234.56 for it, e.g. cash.", closing=".") == [
        "Dr. Smith paid $1,234.56 for it,",
        "e.g. cash.",
    ]


def test_runs_of_marks_collapse_to_the_first() -> None:
    assert normalize_punctuation("What?!... No!!!") == "What? No!"
    assert normalize_punctuation("ＡＢＣ１２３％") == "ABC123%"


def test_nothing_to_say_gives_no_segment() -> None:
    assert split_text("") == []
    assert split_text("！？。，…") == []
    assert split_text("😀🎉") == []
    assert split_text("   \n\n ") == []


def test_long_text_without_punctuation_is_capped() -> None:
    text = "我" * 1500
    parts = split_text(text)
    assert all(len(p) <= MAX_SEGMENT_CHARS for p in parts)
    assert "".join(p.rstrip("。") for p in parts) == text
    words = split_text("word " * 400, closing=".")
    assert all(len(p) <= MAX_SEGMENT_CHARS for p in words)
    assert all(not p.startswith(" ") and "wor d" not in p for p in words)


def test_newline_cuts() -> None:
    assert split_text("第一行的内容\n第二行的内容") == ["第一行的内容。", "第二行的内容。"]
