"""The parsed form of a document, shared by every parser and the chunker."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from docqa.ingest.limits import check_text_length

SectionKind = str  # "heading" | "paragraph" | "list" | "code" | "table"
SECTION_KINDS = ("heading", "paragraph", "list", "code", "table")

# The version of what parsing and chunking make of a document's bytes. Bump it with any change that would cut
# the same file into other chunks (text extracted, headings found, chunk boundaries): a document stored with
# another version is parsed again at its next ingest though its bytes are the same (ingest/writer.same_document;
# only chunks whose text changed are embedded again). 0 is a document given as chunks, or stored before
# versions were recorded.
PARSER_VERSION = 1

CT_TEXT = "text/plain"
CT_MARKDOWN = "text/markdown"
CT_HTML = "text/html"
CT_PDF = "application/pdf"
CT_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass
class Section:
    """A structural block of the document: `text[start:end]` of its ParsedDocument.

    `title` is the clean heading text for headings (without Markdown `#`
    marks or a setext underline); empty for other kinds.
    """

    start: int
    end: int
    kind: SectionKind
    level: int = 0
    page: int | None = None
    title: str = ""
    form: str = ""  # a plain-text heading known by its form: "numbered", "question" (parse_text)


@dataclass
class ParsedDocument:
    """Extracted text plus structure. Every offset points into `text`."""

    text: str
    content_type: str
    title: str
    sections: list[Section] = field(default_factory=list)
    pages: list[tuple[int, int, int]] = field(default_factory=list)  # (page_no from 1, start, end)
    declared_title: str = ""  # the title the file declares apart from its text (HTML <title>, PDF/DOCX metadata)

    def section_text(self, section: Section) -> str:
        return self.text[section.start : section.end]

    def page_at(self, offset: int) -> int | None:
        """The number of the last page starting at or before `offset`; None without pages."""
        index = bisect.bisect_right(self.pages, offset, key=lambda page: page[1]) - 1
        return self.pages[max(index, 0)][0] if self.pages else None


class TextBuilder:
    """Accumulates blocks of text, recording a Section for each.

    Blocks are separated by a blank line (or a single newline when the caller
    asks, e.g. between list items or table rows), so section offsets are exact
    by construction. With `max_chars`, text past that length is refused
    (PayloadTooLarge naming `max_text_chars`) as soon as it is added.
    """

    def __init__(self, filename: str = "", max_chars: int | None = None) -> None:
        self._parts: list[str] = []
        self._length = 0
        self.sections: list[Section] = []
        self._filename = filename
        self._max_chars = max_chars

    @property
    def length(self) -> int:
        return self._length

    def _write(self, piece: str) -> None:
        self._parts.append(piece)
        self._length += len(piece)
        if self._max_chars is not None:
            check_text_length(self._length, self._filename, self._max_chars)

    def separate(self, separator: str = "\n\n") -> None:
        if self._length:
            self._write(separator)

    def add(
        self,
        text: str,
        kind: SectionKind,
        *,
        level: int = 0,
        page: int | None = None,
        title: str = "",
        separator: str = "\n\n",
    ) -> Section | None:
        text = text.strip()
        if not text:
            return None
        self.separate(separator)
        section = Section(self._length, self._length + len(text), kind, level, page, title)
        self._write(text)
        self.sections.append(section)
        return section

    def text(self) -> str:
        return "".join(self._parts)
