"""Book files -> title and chapters of plain text (the gateway parses at submission, so a bad file is
refused with INVALID_ARGUMENT before anything is written).

- **Plain text** (UTF-8): a chapter starts at a heading line: a short line of its own, after a blank line
  (or at the start), such as "Chapter 3", "CHAPTER IV. The Pool", "Part Two", "Prologue" or "第三章".
  Without any, the chapters are the blocks between runs of two or more blank lines (one chapter if none).
- **Markdown** (CommonMark, via markdown-it-py): chapters start at the highest heading level that occurs
  more than once (a lone ``# Title`` above ``## Chapter`` headings is the book's title). Code is not read.
- **EPUB** (ebooklib): the spine's linear documents in order, titled by the table of contents; a
  document the table does not name continues the chapter before it (books split chapters over files).

Chapter texts keep one paragraph per line (the segmenter cuts at newlines) with hard-wrapped lines
joined; a chapter's heading is its first line, so audiobooks read their chapter titles. Chapters with
nothing to say (covers, images) are left out.
"""

from __future__ import annotations

import html.parser
import io
import re
from dataclasses import dataclass
from pathlib import PurePath
from typing import Final

from relaytts.books import BookFormat
from relaytts.errors import InvalidArgument

__all__ = ["Chapter", "ParsedBook", "detect_format", "parse_book", "parse_epub", "parse_markdown", "parse_text"]

TITLE_MAX_CHARS: Final = 200
HEADING_MAX_CHARS: Final = 80
"""A plain-text line longer than this is never a chapter heading."""
FRONT_TITLE_LINES: Final = 3
"""Plain text before the first heading that is at most this many short lines is a title page (the book's
title), not a chapter."""
_NUMBER = r"(?:\d+|[ivxlcdm]+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|" \
          r"fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|[a-z]+(?:-[a-z]+)?)"
_HEADING: Final = re.compile(
    rf"(?:(?:chapter|chap\.|part|book|volume|section)\s+{_NUMBER}\b[.:]?(?:\s.*)?"
    r"|(?:prologue|epilogue|preface|foreword|introduction|afterword|interlude|appendix)\b.*"
    r"|第\s*[0-9〇零一二三四五六七八九十百千两]+\s*[章回节卷部篇].*)",
    re.IGNORECASE,
)
_WORD = re.compile(r"\w")
_SPACES = re.compile(r"\s+")
_BLOCK_TAGS: Final = frozenset(
    "address article aside blockquote body br dd div dl dt figcaption figure footer h1 h2 h3 h4 h5 h6 header hr "
    "li main nav ol p pre section table td th tr ul".split())
_SKIP_TAGS: Final = frozenset({"script", "style", "head", "title", "svg", "math"})


@dataclass(frozen=True)
class Chapter:
    title: str
    text: str
    """One paragraph per line; the heading (if any) is the first line."""


@dataclass(frozen=True)
class ParsedBook:
    title: str
    format: BookFormat
    chapters: tuple[Chapter, ...]

    @property
    def chars(self) -> int:
        return sum(len(c.text) for c in self.chapters)


def _has_words(text: str) -> bool:
    return _WORD.search(text) is not None


def _join_lines(lines: list[str]) -> str:
    """Hard-wrapped lines of one paragraph -> one line (no space added between CJK characters)."""
    out = ""
    for line in (ln.strip() for ln in lines):
        if not line:
            continue
        out = f"{out} {line}" if out and (out[-1].isascii() or line[0].isascii()) else out + line
    return _SPACES.sub(" ", out)


def _paragraphs(text: str) -> list[str]:
    """Blank-line separated blocks, each joined into one line."""
    blocks, current = [], []
    for line in text.splitlines():
        if line.strip():
            current.append(line)
        elif current:
            blocks.append(_join_lines(current))
            current = []
    if current:
        blocks.append(_join_lines(current))
    return [b for b in blocks if b]


def _title_of(text: str, fallback: str) -> str:
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return (first if first and len(first) <= HEADING_MAX_CHARS else fallback)[:TITLE_MAX_CHARS]


def decode_text(data: bytes, what: str = "the book") -> str:
    """UTF-8 (with or without a BOM; UTF-16 with a BOM), newlines normalised."""
    try:
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            text = data.decode("utf-16")
        else:
            text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidArgument(f"{what} must be UTF-8 text; byte {exc.start} is not ({exc.reason})") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse_text(text: str, default_title: str = "") -> tuple[str, list[Chapter]]:
    """Plain text -> (title, chapters); see the module docstring for the rules."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines)
              if line.strip() and len(line.strip()) <= HEADING_MAX_CHARS and _HEADING.fullmatch(line.strip())
              and (i == 0 or not lines[i - 1].strip())]
    chapters: list[Chapter] = []
    title = default_title
    if starts:
        front = _paragraphs("\n".join(lines[: starts[0]]))
        if front and len(front) <= FRONT_TITLE_LINES and all(len(p) <= HEADING_MAX_CHARS for p in front):
            title = title or front[0]  # a title page: the book's title, not a chapter
        elif _has_words("\n".join(front)):
            chapters.append(Chapter(_title_of(front[0], "Opening"), "\n".join(front)))
        for begin, end in zip(starts, [*starts[1:], len(lines)], strict=True):
            body = "\n".join(_paragraphs("\n".join(lines[begin:end])))
            if _has_words(body):
                chapters.append(Chapter(_title_of(body, f"Chapter {len(chapters) + 1}"), body))
    else:
        blocks = re.split(r"\n[ \t]*\n(?:[ \t]*\n)+", text)
        for block in blocks:
            body = "\n".join(_paragraphs(block))
            if _has_words(body):
                chapters.append(Chapter(_title_of(body, f"Chapter {len(chapters) + 1}") if len(blocks) > 1
                                        else (default_title or f"Chapter {len(chapters) + 1}"), body))
    return title, chapters


def _inline_text(token) -> str:  # noqa: ANN001 - markdown_it.token.Token
    """The words of an inline token: text and inline code; images and inline HTML are not read."""
    parts = []
    for child in token.children or ():
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type == "softbreak":
            parts.append(" ")
        elif child.type == "hardbreak":
            parts.append("\n")
    lines = (_SPACES.sub(" ", line).strip() for line in "".join(parts).split("\n"))
    return "\n".join(line for line in lines if line)


def parse_markdown(text: str, default_title: str = "") -> tuple[str, list[Chapter]]:
    """CommonMark -> (title, chapters); see the module docstring for the rules."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parse(text)
    blocks: list[tuple[int, str]] = []  # (heading level or 0, text)
    for i, token in enumerate(tokens):
        if token.type == "inline":
            opener = tokens[i - 1] if i else None
            level = int(opener.tag[1]) if opener is not None and opener.type == "heading_open" else 0
            content = _inline_text(token)
            if content.strip():
                blocks.append((level, content))
        elif token.type == "html_block":
            content = _html_text(token.content)
            if content.strip():
                blocks.append((0, content))
    levels = [level for level, _ in blocks if level]
    if not levels:
        body = "\n".join(text for _, text in blocks)
        return default_title, [Chapter(default_title or "Chapter 1", body)] if _has_words(body) else []
    counts = {level: levels.count(level) for level in set(levels)}
    repeated = [level for level, n in counts.items() if n > 1]
    chapter_level = min(repeated) if repeated else min(levels)
    title = default_title
    groups: list[list[tuple[int, str]]] = [[]]
    for level, content in blocks:
        if level == chapter_level:
            groups.append([])
        groups[-1].append((level, content))
    front = groups.pop(0)
    chapters: list[Chapter] = []
    if front:
        heading = next((c for lvl, c in front if lvl and lvl < chapter_level), "")
        title = title or heading
        rest = [c for lvl, c in front if not (lvl and lvl < chapter_level and c == heading)]
        if _has_words("\n".join(rest)):
            body = "\n".join(c for _, c in front)
            chapters.append(Chapter((heading or _title_of(body, "Opening"))[:TITLE_MAX_CHARS], body))
    for group in groups:
        body = "\n".join(c for _, c in group)
        if _has_words(body):
            chapters.append(Chapter(group[0][1].replace("\n", " ")[:TITLE_MAX_CHARS], body))
    return title, chapters


class _HtmlText(html.parser.HTMLParser):
    """Text of an (X)HTML document: one line per block element; the first heading noted."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.skip = 0
        self.heading: str | None = None
        self._in_heading = False
        self._heading_parts: list[str] = []

    def _break(self) -> None:
        line = _SPACES.sub(" ", "".join(self.current)).strip()
        if line:
            self.lines.append(line)
        self.current = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in _SKIP_TAGS:
            self.skip += 1
        elif tag in _BLOCK_TAGS:
            self._break()
            if tag in ("h1", "h2", "h3") and self.heading is None:
                self._in_heading, self._heading_parts = True, []

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        if tag in _BLOCK_TAGS:
            self._break()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skip = max(0, self.skip - 1)
        elif tag in _BLOCK_TAGS:
            self._break()
            if self._in_heading and tag in ("h1", "h2", "h3"):
                self.heading = _SPACES.sub(" ", "".join(self._heading_parts)).strip() or None
                self._in_heading = False

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        self.current.append(data)
        if self._in_heading:
            self._heading_parts.append(data)

    def text(self) -> str:
        self._break()
        return "\n".join(self.lines)


def _html_text(markup: str) -> str:
    parser = _HtmlText()
    parser.feed(markup)
    parser.close()
    return parser.text()


def _toc_titles(toc: object) -> dict[str, str]:
    """File name (no fragment) -> the first title the table of contents gives it."""
    titles: dict[str, str] = {}

    def walk(entries: object) -> None:
        for entry in entries if isinstance(entries, list | tuple) else [entries]:
            if isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[1], list | tuple):
                section, children = entry
                href = getattr(section, "href", "") or ""
                if href and getattr(section, "title", ""):
                    titles.setdefault(href.split("#")[0], section.title)
                walk(children)
            else:
                href = getattr(entry, "href", "") or getattr(entry, "file_name", "") or ""
                title = getattr(entry, "title", "") or ""
                if href and title:
                    titles.setdefault(href.split("#")[0], title)

    walk(toc)
    return titles


DEFAULT_MAX_EXPANDED_BYTES: Final = 134217728
"""``books.max_expanded_bytes``'s default (also what ``parse_epub`` uses when given none)."""


def parse_epub(data: bytes, default_title: str = "",
               max_expanded_bytes: int = DEFAULT_MAX_EXPANDED_BYTES) -> tuple[str, list[Chapter]]:
    """EPUB -> (title, chapters); see the module docstring for the rules. The ZIP's directory is checked
    first (``orchestrator.zipcheck``): nothing is expanded past ``max_expanded_bytes`` in all."""
    import warnings
    import zipfile

    from ebooklib import ITEM_DOCUMENT, epub

    from orchestrator.zipcheck import check_zip

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            check_zip(archive, max_expanded_bytes, "the book (EPUB)", "RELAYTTS_BOOKS_MAX_EXPANDED_BYTES")
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InvalidArgument(f"the book is not a readable EPUB ({type(exc).__name__}: {exc})") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ebooklib warns about its own future defaults
            book = epub.read_epub(io.BytesIO(data), {"ignore_ncx": False})
    except (zipfile.BadZipFile, KeyError, ValueError, AttributeError, OSError) as exc:
        raise InvalidArgument(f"the book is not a readable EPUB ({type(exc).__name__}: {exc})") from None
    except Exception as exc:  # lxml and ebooklib raise many kinds for a damaged file
        raise InvalidArgument(f"the book is not a readable EPUB ({type(exc).__name__}: {exc})") from None
    meta = book.get_metadata("DC", "title")
    title = default_title or (meta[0][0].strip() if meta and meta[0][0] else "")
    toc = _toc_titles(book.toc)
    chapters: list[tuple[str, list[str]]] = []
    for entry in book.spine:
        idref, linear = (entry, "yes") if isinstance(entry, str) else (entry[0], entry[1])
        if linear in ("no", False):
            continue
        item = book.get_item_with_id(idref)
        if item is None or item.get_type() != ITEM_DOCUMENT or isinstance(item, epub.EpubNav):
            continue
        try:
            markup = item.get_content().decode("utf-8", errors="replace")
        except Exception:  # an item listed in the spine but missing from the archive
            continue
        parser = _HtmlText()
        parser.feed(markup)
        parser.close()
        body = parser.text()
        name = item.get_name()
        named = toc.get(name) or next((t for href, t in toc.items() if PurePath(href).name == PurePath(name).name),
                                      None)
        if named is None and toc and chapters:
            chapters[-1][1].append(body)  # the continuation of the chapter before
            continue
        if not _has_words(body):
            continue
        chapters.append(((named or parser.heading or _title_of(body, f"Chapter {len(chapters) + 1}")).strip(),
                         [body]))
    out = [Chapter(t[:TITLE_MAX_CHARS], "\n".join(b for b in bodies if b)) for t, bodies in chapters]
    return title, [c for c in out if _has_words(c.text)]


def detect_format(filename: str, data: bytes) -> BookFormat:
    """By extension (.epub, .md/.markdown, .txt), else by content (a ZIP is an EPUB), else plain text."""
    suffix = PurePath(filename).suffix.lower()
    if suffix == ".epub":
        return BookFormat.EPUB
    if suffix in (".md", ".markdown", ".mdown", ".mkd"):
        return BookFormat.MARKDOWN
    if suffix in (".txt", ".text"):
        return BookFormat.TEXT
    if data.startswith(b"PK\x03\x04"):
        return BookFormat.EPUB
    return BookFormat.TEXT


def parse_book(data: bytes, filename: str = "", fmt: BookFormat | None = None, title: str = "",
               max_chars: int | None = None, max_expanded_bytes: int = DEFAULT_MAX_EXPANDED_BYTES) -> ParsedBook:
    """Parse a book file; ``InvalidArgument`` (naming the problem) when nothing usable comes out."""
    if not data:
        raise InvalidArgument("the book is empty: send the file in `data` messages after the `header`")
    fmt = fmt or detect_format(filename, data)
    stem = PurePath(filename).stem if filename else ""
    title = title.strip()[:TITLE_MAX_CHARS]
    if fmt is BookFormat.EPUB:
        found, chapters = parse_epub(data, title, max_expanded_bytes)
    elif fmt is BookFormat.MARKDOWN:
        found, chapters = parse_markdown(decode_text(data), title)
    else:
        found, chapters = parse_text(decode_text(data), title)
    if not chapters:
        raise InvalidArgument(f"the book ({fmt.value}) has nothing to speak: no chapter holds any words")
    book = ParsedBook((found or stem or chapters[0].title or "Untitled")[:TITLE_MAX_CHARS], fmt, tuple(chapters))
    if max_chars is not None and book.chars > max_chars:
        raise InvalidArgument(f"the book's text must be at most {max_chars} characters; given {book.chars}")
    return book
