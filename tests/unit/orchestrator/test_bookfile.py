"""Book files -> chapters: plain text, Markdown and EPUB, and the refusals."""

from __future__ import annotations

import io

import pytest

from orchestrator.bookfile import detect_format, parse_book
from relaytts.books import BookFormat
from relaytts.errors import InvalidArgument


def chapters(book) -> list[tuple[str, str]]:
    return [(c.title, c.text) for c in book.chapters]


def test_plain_text_chapters_start_at_heading_lines_and_hard_wraps_are_joined():
    text = ("THE VOYAGE\n\nby A. Sailor\n\n"
            "Chapter 1\n\nIt was a dark\nand stormy night.\n\nThe second paragraph.\n\n"
            "CHAPTER II. The Storm\n\nRain.\n\n"
            "Epilogue\n\nCalm again.\n")
    book = parse_book(text.encode(), "voyage.txt")
    assert book.format is BookFormat.TEXT
    assert book.title == "THE VOYAGE"  # a short title page is the title, not a chapter
    assert chapters(book) == [
        ("Chapter 1", "Chapter 1\nIt was a dark and stormy night.\nThe second paragraph."),
        ("CHAPTER II. The Storm", "CHAPTER II. The Storm\nRain."),
        ("Epilogue", "Epilogue\nCalm again."),
    ]


def test_a_heading_word_inside_a_paragraph_does_not_start_a_chapter():
    text = "Chapter 1\n\nShe read part of it.\nPart two was missing, chapter three too.\n"
    assert [t for t, _ in chapters(parse_book(text.encode(), "a.txt"))] == ["Chapter 1"]


def test_plain_text_without_headings_splits_at_runs_of_blank_lines():
    text = "First block,\nstill first.\n\nSame chapter.\n\n\n\nSecond block.\n\n\nThird block.\n"
    book = parse_book(text.encode(), "blocks.txt")
    assert [c.text for c in book.chapters] == ["First block, still first.\nSame chapter.", "Second block.",
                                               "Third block."]
    one = parse_book(b"Just one paragraph.\n\nAnd another.", "one.txt", title="Tiny")
    assert chapters(one) == [("Tiny", "Just one paragraph.\nAnd another.")] and one.title == "Tiny"


def test_chinese_chapters_and_lines_join_without_spaces():
    text = "第一章\n\n你好，世界。\n今天天气\n很好。\n\n第二章 回家\n\n再见。\n"
    book = parse_book(text.encode(), "zh.txt")
    assert chapters(book) == [("第一章", "第一章\n你好，世界。今天天气很好。"), ("第二章 回家", "第二章 回家\n再见。")]


def test_markdown_chapters_are_the_repeated_heading_level_and_code_is_not_read():
    text = ("# Field Notes\n\nA preface, *briefly*.\n\n## Monday\n\nRain all day, and [cold](http://x).\n\n"
            "```\nprint('not read')\n```\n\n- one item\n- another item\n\n### Evening\n\nStill raining.\n\n"
            "## Tuesday\n\nSun at last.\n")
    book = parse_book(text.encode(), "notes.md")
    assert book.format is BookFormat.MARKDOWN and book.title == "Field Notes"
    assert chapters(book) == [
        ("Field Notes", "Field Notes\nA preface, briefly."),
        ("Monday", "Monday\nRain all day, and cold.\none item\nanother item\nEvening\nStill raining."),
        ("Tuesday", "Tuesday\nSun at last."),
    ]


def test_markdown_with_a_lone_title_heading_has_no_preface_chapter():
    book = parse_book(b"# Notes\n\n## A\n\nOne.\n\n## B\n\nTwo.\n", "n.markdown")
    assert book.title == "Notes" and [t for t, _ in chapters(book)] == ["A", "B"]
    flat = parse_book(b"# A\ntext\n# B\nmore", "flat.md")
    assert chapters(flat) == [("A", "A\ntext"), ("B", "B\nmore")]


def make_epub(split_second: bool = False) -> bytes:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("test-book")
    book.set_title("An EPUB")
    book.set_language("en")
    cover = epub.EpubHtml(title="Cover", file_name="cover.xhtml")
    cover.content = "<html><body><img src='cover.png'/></body></html>"
    docs = [cover]
    for i, name in enumerate(["Opening", "Middle", "End"], 1):
        doc = epub.EpubHtml(title=name, file_name=f"c{i}.xhtml")
        doc.content = (f"<html><head><title>ignored</title></head><body><h2>{name}</h2>"
                       f"<p>Paragraph one of {name.lower()}.</p><div><p>Nested <b>bold</b> text.</p></div>"
                       "<script>var x = 1;</script></body></html>")
        docs.append(doc)
    if split_second:
        rest = epub.EpubHtml(title="Middle, continued", file_name="c2b.xhtml")
        rest.content = "<html><body><p>More of the middle.</p></body></html>"
        docs.insert(3, rest)
    for doc in docs:
        book.add_item(doc)
    book.toc = tuple(d for d in docs[1:] if d.file_name != "c2b.xhtml")
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *docs]
    out = io.BytesIO()
    epub.write_epub(out, book)
    return out.getvalue()


def test_epub_chapters_follow_the_spine_titled_by_the_table_of_contents():
    book = parse_book(make_epub(), "book.epub")
    assert book.format is BookFormat.EPUB and book.title == "An EPUB"
    assert chapters(book) == [
        ("Opening", "Opening\nParagraph one of opening.\nNested bold text."),
        ("Middle", "Middle\nParagraph one of middle.\nNested bold text."),
        ("End", "End\nParagraph one of end.\nNested bold text."),
    ]


def test_an_epub_document_missing_from_the_contents_continues_the_chapter_before():
    book = parse_book(make_epub(split_second=True), "book.epub")
    assert [t for t, _ in chapters(book)] == ["Opening", "Middle", "End"]
    assert book.chapters[1].text.endswith("Nested bold text.\nMore of the middle.")


def test_format_detection():
    assert detect_format("a.EPUB", b"") is BookFormat.EPUB
    assert detect_format("a.md", b"") is BookFormat.MARKDOWN
    assert detect_format("a.txt", b"PK\x03\x04") is BookFormat.TEXT
    assert detect_format("", b"PK\x03\x04rest") is BookFormat.EPUB
    assert detect_format("upload", b"plain") is BookFormat.TEXT


@pytest.mark.parametrize(("data", "name", "words"), [
    (b"", "a.txt", "empty"),
    (b"caf\xe9", "a.txt", "must be UTF-8"),
    (b"--- *** ---", "a.txt", "nothing to speak"),
    (b"PK\x03\x04 broken", "a.epub", "not a readable EPUB"),
    (b"words " * 100, "a.txt", "at most 100 characters; given 599"),
])
def test_bad_books_are_refused_with_the_reason(data, name, words):
    with pytest.raises(InvalidArgument, match=words):
        parse_book(data, name, max_chars=100)
