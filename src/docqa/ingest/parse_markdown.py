"""Markdown parser: the text is the Markdown source; structure comes from a line scan.

Recognized blocks: ATX (`## x`) and setext headings, fenced code, pipe
tables, lists, and paragraphs (block quotes count as paragraphs). Front
matter (`---` ... `---` at the very top) supplies the title when it has one.
HTML embedded in Markdown is kept as source text and never parsed, so it
costs nothing beyond its length (bounded by `max_text_chars`); no depth check
is needed here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from docqa.ingest.document import CT_MARKDOWN, ParsedDocument, Section
from docqa.ingest.limits import DEFAULT_LIMITS, ParseLimits, check_text_length
from docqa.ingest.parse_text import decode_text, default_title

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_LIST_ITEM = re.compile(r"^ {0,3}([-*+]|\d{1,9}[.)])[ \t]+\S")
_TABLE_RULE = re.compile(r"^ {0,3}\|?[ \t]*:?-{2,}:?[ \t]*(\|[ \t]*:?-{2,}:?[ \t]*)*\|?[ \t]*$")
_HRULE = re.compile(r"^ {0,3}([-*_])([ \t]*\1){2,}[ \t]*$")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_INLINE_MARKS = re.compile(r"(\*\*|__|`|(?<!\w)[*_](?=\S)|(?<=\S)[*_](?!\w))")
_FRONT_TITLE = re.compile(r"^title:\s*[\"']?(.*?)[\"']?\s*$", re.M)


_MAX_HEADING_LINE = 400  # longer lines are never taken as headings (and keep the regexes linear)


def _atx(line: str) -> re.Match[str] | None:
    return _ATX.match(line) if len(line) <= _MAX_HEADING_LINE else None


def clean_inline(text: str) -> str:
    """Heading text without Markdown inline markup."""
    text = _LINK.sub(r"\1", text[:_MAX_HEADING_LINE])
    return _INLINE_MARKS.sub("", text).strip()


@dataclass
class _Line:
    start: int
    end: int  # without the newline
    text: str

    @property
    def blank(self) -> bool:
        return not self.text.strip()


def _lines(text: str) -> list[_Line]:
    lines: list[_Line] = []
    position = 0
    for raw in text.split("\n"):
        lines.append(_Line(position, position + len(raw), raw))
        position += len(raw) + 1
    return lines


def _trimmed(text: str, start: int, end: int, kind: str, **extra: object) -> Section | None:
    segment = text[start:end]
    stripped = segment.strip()
    if not stripped:
        return None
    lead = len(segment) - len(segment.lstrip())
    return Section(start + lead, start + lead + len(stripped), kind, **extra)  # type: ignore[arg-type]


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = _lines(text)
        self.i = 0
        self.sections: list[Section] = []
        self.front_title = ""

    def emit(self, first: int, last: int, kind: str, **extra: object) -> None:
        if kind == "heading" and not extra.get("title"):
            kind, extra = "paragraph", {}  # a heading with no words (e.g. a lone "#") is just text
        section = _trimmed(self.text, self.lines[first].start, self.lines[last].end, kind, **extra)
        if section:
            self.sections.append(section)

    def run(self) -> list[Section]:
        self.front_matter()
        while self.i < len(self.lines):
            line = self.lines[self.i]
            if line.blank or _HRULE.match(line.text):
                self.i += 1
            elif _FENCE.match(line.text):
                self.fence()
            elif match := _atx(line.text):
                title = clean_inline(match.group(2) or "")
                self.emit(self.i, self.i, "heading", level=len(match.group(1)), title=title)
                self.i += 1
            elif self.is_table_start(self.i):
                self.block_while(lambda ln: not ln.blank and "|" in ln.text, "table")
            elif _LIST_ITEM.match(line.text):
                self.list_block()
            else:
                self.paragraph()
        return self.sections

    def front_matter(self) -> None:
        if not self.lines or self.lines[0].text.strip() != "---":
            return
        for j in range(1, min(len(self.lines), 200)):
            if self.lines[j].text.strip() in ("---", "..."):
                block = "\n".join(ln.text for ln in self.lines[1:j])
                if match := _FRONT_TITLE.search(block):
                    self.front_title = match.group(1)
                self.emit(0, j, "code")
                self.i = j + 1
                return

    def fence(self) -> None:
        opener = _FENCE.match(self.lines[self.i].text)
        assert opener
        marker = opener.group(1)
        first = self.i
        j = self.i + 1
        while j < len(self.lines):
            stripped = self.lines[j].text.strip()
            if stripped.startswith(marker[0] * len(marker)) and not stripped.strip(marker[0]):
                break
            j += 1
        last = min(j, len(self.lines) - 1)
        self.emit(first, last, "code")
        self.i = last + 1

    def is_table_start(self, i: int) -> bool:
        return (
            i + 1 < len(self.lines)
            and "|" in self.lines[i].text
            and bool(_TABLE_RULE.match(self.lines[i + 1].text))
            and "|" in self.lines[i + 1].text
        )

    def block_while(self, keep: Callable[[_Line], bool], kind: str) -> None:
        first = self.i
        while self.i < len(self.lines) and keep(self.lines[self.i]):
            self.i += 1
        self.emit(first, self.i - 1, kind)

    def list_block(self) -> None:
        first = self.i
        last = self.i
        j = self.i + 1
        while j < len(self.lines):
            line = self.lines[j]
            if line.blank:
                nxt = j + 1
                if (
                    nxt < len(self.lines)
                    and (_LIST_ITEM.match(self.lines[nxt].text) or self.lines[nxt].text.startswith(("  ", "\t")))
                    and not self.lines[nxt].blank
                ):
                    j += 1
                    continue
                break
            if _atx(line.text) or _FENCE.match(line.text) or _HRULE.match(line.text):
                break
            last = j
            j += 1
        self.emit(first, last, "list")
        self.i = last + 1

    def paragraph(self) -> None:
        first = self.i
        j = self.i
        while j < len(self.lines):
            line = self.lines[j]
            if j > first and (
                line.blank
                or _atx(line.text)
                or _FENCE.match(line.text)
                or self.is_table_start(j)
                or (_HRULE.match(line.text) and line.text.strip()[0] != "-")
            ):
                break
            if j > first and _SETEXT.match(line.text):
                title = clean_inline(" ".join(ln.text.strip() for ln in self.lines[first:j]))
                level = 1 if line.text.strip().startswith("=") else 2
                self.emit(first, j, "heading", level=level, title=title)
                self.i = j + 1
                return
            if j > first and (_LIST_ITEM.match(line.text) and not _SETEXT.match(line.text)):
                break
            j += 1
        self.emit(first, j - 1, "paragraph")
        self.i = j


def markdown_sections(text: str) -> tuple[list[Section], str]:
    scanner = _Scanner(text)
    return scanner.run(), scanner.front_title


def parse_markdown(data: bytes, filename: str, limits: ParseLimits = DEFAULT_LIMITS) -> ParsedDocument:
    text = decode_text(data, filename)
    check_text_length(len(text), filename, limits.max_text_chars)
    sections, front_title = markdown_sections(text)
    title = front_title
    if not title:
        top = [s for s in sections if s.kind == "heading"]
        top.sort(key=lambda s: s.level)
        title = top[0].title if top else ""
    return ParsedDocument(
        text=text,
        content_type=CT_MARKDOWN,
        title=title or default_title(filename),
        sections=sections,
    )
