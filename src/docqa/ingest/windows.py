"""Chunk a document window by window, so the chunks of a big document are made as they are needed.

A window is a slice of the document's text with the sections inside it, as a ParsedDocument of
its own plus its offset (`base`) in the whole text. Windows come from a streamed plain-text or
Markdown file (`text_windows`, over ingest/source.py's decoded windows) or from a document a
parser had to read whole, PDF, DOCX and HTML (`parsed_windows`, cut at section boundaries).
`chunk_windows` chunks each with the ordinary chunker, carrying the heading path across windows,
and yields chunks with whole-document offsets and ordinals. What differs from chunking the whole
text at once, and only at a window boundary (one in ~WINDOW_CHARS characters): the first chunk of
a window does not overlap the last of the previous one, and packing starts afresh there.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from docqa.ingest.chunking import normalized_sections
from docqa.ingest.document import CT_MARKDOWN, ParsedDocument, Section
from docqa.ingest.parse_markdown import markdown_sections
from docqa.ingest.parse_text import default_title, first_line_title, plain_sections
from docqa.ingest.source import WINDOW_CHARS
from docqa.types import ChunkInput

Window = tuple[int, ParsedDocument]
ChunkWindow = Callable[[ParsedDocument, list[tuple[int, str]]], list[ChunkInput]]


@dataclass
class Title:
    """The document's title as the windows reveal it (the parsers' rules, applied as text streams in)."""

    filename: str
    value: str = ""
    level: int = 99  # Markdown: the title is the highest-level heading (else the front matter's title)
    fixed: bool = False


def text_windows(pieces: Iterable[tuple[int, str]], content_type: str, title: Title) -> Iterator[Window]:
    """Plain text or Markdown windows (from `decoded_windows`) parsed into sections."""
    first = True
    for base, text in pieces:
        if content_type == CT_MARKDOWN:
            sections, front = markdown_sections(text) if first else (markdown_sections(text)[0], "")
            _markdown_title(title, sections, front)
        else:
            sections = plain_sections(text)
            if first:
                title.value = sections[0].title if sections and sections[0].kind == "heading" else ""
                title.value = title.value or first_line_title(text, title.filename)
        first = False
        yield base, ParsedDocument(text=text, content_type=content_type, title="", sections=sections)
    if not title.value:
        title.value = default_title(title.filename)


def _markdown_title(title: Title, sections: list[Section], front: str) -> None:
    if front:
        title.value, title.fixed = front, True
    if title.fixed:
        return
    for section in sections:
        if section.kind == "heading" and section.level < title.level and section.title:
            title.value, title.level = section.title, section.level


def parsed_windows(doc: ParsedDocument, window_chars: int = WINDOW_CHARS) -> Iterator[Window]:
    """A whole-parsed document in windows of about `window_chars`, cut between sections."""
    sections = normalized_sections(doc)
    start, group = 0, list[Section]()
    for section in sections:
        if group and section.start - start >= window_chars:
            yield start, _window(doc, start, section.start, group)
            start, group = section.start, []
        group.append(section)
    if group:
        yield start, _window(doc, start, len(doc.text), group)


def _window(doc: ParsedDocument, start: int, end: int, sections: list[Section]) -> ParsedDocument:
    shifted = [Section(s.start - start, s.end - start, s.kind, s.level, s.page, s.title) for s in sections]
    pages: list[tuple[int, int, int]] = []
    if doc.pages:
        first = max(bisect.bisect_right(doc.pages, start, key=lambda p: p[1]) - 1, 0)
        for number, p_start, p_end in doc.pages[first:]:
            if p_start >= end:
                break
            pages.append((number, max(p_start - start, 0), min(p_end, end) - start))
    return ParsedDocument(doc.text[start:end], doc.content_type, doc.title, shifted, pages)


def chunk_windows(windows: Iterable[Window], chunk: ChunkWindow) -> Iterator[ChunkInput]:
    """Every chunk of the windows, with offsets and ordinals of the whole document, in order."""
    headings: list[tuple[int, str]] = []
    ordinal = 0
    for base, window in windows:
        for piece in chunk(window, headings):
            piece.char_start += base
            piece.char_end += base
            piece.ordinal = ordinal
            ordinal += 1
            yield piece
