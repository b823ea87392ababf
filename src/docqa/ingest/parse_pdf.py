"""PDF parser (pypdf): text per page, page numbers kept, headings found by font size.

Each page's text is pypdf's own extraction. When pypdf's text visitor saw
the same text (the usual case), its font sizes and baselines are used to
split the page into paragraphs (by vertical gaps) and to mark lines set in
a larger font as headings. Otherwise each page falls back to plain blocks.
A word hyphenated at a line end is joined again ("refrig-" + "erator" on the
next line is "refrigerator") when the next line starts with a lower-case letter
in the same font size.
Decompression and text are bounded per document (pdf_limits.StreamBudget).
"""

from __future__ import annotations

import io
import logging
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from pypdf import PageObject, PdfReader
from pypdf.errors import DependencyError, LimitReachedError

from docqa.errors import DocqaError, ParseError
from docqa.ingest.document import CT_PDF, ParsedDocument, Section
from docqa.ingest.limits import DEFAULT_LIMITS, ParseLimits
from docqa.ingest.parse_text import LIST_ITEM as _LIST_ITEM
from docqa.ingest.parse_text import default_title, plain_sections
from docqa.ingest.pdf_limits import StreamBudget
from docqa.ingest.segment import trim

_SPACES = re.compile(r"[ \t]+")
_HYPHENATED_END = re.compile(r"[^\W\d_][-\u00ad\u2010][ \t]*$")  # a letter, then a hyphen, at the end of a line
_LOWER_START = re.compile(r"[ \t]*[a-z\u00df-\u00ff]")
_HYPHEN_BREAK = re.compile(r"(?<=[^\W\d_])[-\u00ad\u2010][ \t]*\n[ \t]*(?=[a-z\u00df-\u00ff])")


@dataclass
class _Line:
    start: int  # offsets within the page text
    end: int
    size: float
    y: float | None


def _open(data: bytes, filename: str, budget: StreamBudget) -> PdfReader:
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except (DependencyError, NotImplementedError) as exc:
                raise ParseError(
                    f"{filename}: PDF is encrypted and cannot be decrypted here ({exc})", filename=filename
                ) from exc
            if not opened:
                raise ParseError(f"{filename}: PDF is encrypted with a password", filename=filename)
        return reader
    except DocqaError:
        raise
    except LimitReachedError as exc:
        raise budget.error(exc, "the PDF's cross-reference data") from exc
    except Exception as exc:  # pypdf raises nearly any type on damaged input
        raise ParseError(f"{filename}: not a readable PDF ({type(exc).__name__}: {exc})", filename=filename) from exc


@dataclass
class _Page:
    number: int
    text: str
    base: int  # offset of this page's text in the document text
    lines: list[_Line] | None  # None when the text visitor disagreed with the text


def _extract(page: PageObject, spend: Callable[[int], None]) -> tuple[str, list[_Line] | None]:
    """The page text, and per-line font size and baseline when they can be trusted."""
    pieces: list[tuple[str, float, float | None]] = []

    def visit(piece: str, cm: list[float], tm: list[float], _font: object, size: float) -> None:
        spend(len(piece))
        scale = abs(tm[3] * cm[3]) or abs(tm[0] * cm[0]) or 1.0
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5] if piece.strip() else None
        pieces.append((piece, float(size) * scale, y))

    text = page.extract_text(visitor_text=visit) or ""
    if "\r" in text or "\x00" in text or "".join(p for p, _, _ in pieces) != text:
        return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", ""), None
    lines: list[_Line] = []
    position = 0
    current = _Line(0, 0, 0.0, None)
    for piece, size, y in pieces:
        for k, part in enumerate(piece.split("\n")):
            if k:
                current.end = position
                lines.append(current)
                position += 1
                current = _Line(position, position, 0.0, None)
            if part.strip():
                current.size = max(current.size, size)
                current.y = y if current.y is None else current.y
            position += len(part)
    current.end = position
    lines.append(current)
    return text, [ln for ln in lines if text[ln.start : ln.end].strip()]


def _dehyphenate(text: str, lines: list[_Line] | None) -> tuple[str, list[_Line] | None]:
    """The page text with words hyphenated across a line break joined, and its lines moved to match
    (the two lines of such a word become one)."""
    if lines is None:
        return _HYPHEN_BREAK.sub("", text), None
    cuts: list[tuple[int, int]] = []  # (hyphen, first letter of the next line): text removed
    for a, b in zip(lines, lines[1:]):
        between = text[a.end : b.start]
        if between.count("\n") != 1 or between.strip() or round(a.size, 1) != round(b.size, 1):
            continue
        end = _HYPHENATED_END.search(text, a.start, a.end)
        start = _LOWER_START.match(text, b.start, b.end)
        if end and start:
            cuts.append((end.start() + 1, start.end() - 1))
    if not cuts:
        return text, lines
    pieces: list[str] = []
    removed: list[tuple[int, int]] = []  # (end of a cut, characters removed up to there)
    position = 0
    for cut_start, cut_end in cuts:
        pieces.append(text[position:cut_start])
        removed.append((cut_end, cut_end - cut_start + (removed[-1][1] if removed else 0)))
        position = cut_end
    pieces.append(text[position:])

    def moved(offset: int) -> int:
        return offset - next((total for end, total in reversed(removed) if end <= offset), 0)

    merged: list[_Line] = []
    joins = {b_start for _, b_start in cuts}
    for line in lines:
        if merged and any(line.start <= j <= line.end for j in joins):
            merged[-1].end = moved(line.end)
            merged[-1].size = max(merged[-1].size, line.size)
            continue
        merged.append(_Line(moved(line.start), moved(line.end), line.size, line.y))
    return "".join(pieces), merged


@dataclass
class _Fonts:
    body: float
    headings: list[float]  # larger sizes first; index + 1 is the heading level
    line_gap: float  # the usual distance between two body lines


def _fonts(pages: list[_Page]) -> _Fonts:
    weights: Counter[float] = Counter()
    for page in pages:
        for ln in page.lines or ():
            weights[round(ln.size, 1)] += ln.end - ln.start
    body = weights.most_common(1)[0][0] if weights else 0.0
    headings = sorted((size for size in weights if size > body * 1.12), reverse=True)[:6]
    gaps = sorted(
        a.y - b.y
        for page in pages
        for a, b in zip(page.lines or (), (page.lines or ())[1:])
        if a.y is not None and b.y is not None and a.y > b.y and round(a.size, 1) == round(b.size, 1) == body
    )
    return _Fonts(body, headings, gaps[len(gaps) // 2] if gaps else 0.0)


def _line_kind(text: str, line: _Line, fonts: _Fonts) -> str:
    if round(line.size, 1) in fonts.headings and len(text.strip()) <= 150:
        return "heading"
    return "list" if _LIST_ITEM.match(text) else "paragraph"


def _joins(previous: _Line, line: _Line, kind: str, group_kind: str, fonts: _Fonts) -> bool:
    """Whether `line` continues the section that `previous` belongs to."""
    if previous.y is None or line.y is None:
        gap = 0.0
    elif line.y > previous.y:
        return False  # a new column or a jump back up the page
    else:
        gap = previous.y - line.y
    if kind == "heading" or group_kind == "heading":
        return kind == group_kind and round(previous.size, 1) == round(line.size, 1) and gap <= 2.0 * line.size
    if fonts.line_gap and gap > fonts.line_gap * 1.3:
        return False
    return kind == group_kind or (group_kind == "list" and kind == "paragraph")


def _structure(page: _Page, fonts: _Fonts) -> list[Section]:
    text, lines = page.text, page.lines or []
    sections: list[Section] = []
    group: list[_Line] = []
    group_kind = ""

    def close() -> None:
        span = trim(text, group[0].start, group[-1].end)
        if span is None:
            return
        is_heading = group_kind == "heading"
        level = fonts.headings.index(round(group[0].size, 1)) + 1 if is_heading else 0
        title = _SPACES.sub(" ", text[span[0] : span[1]].replace("\n", " ")).strip() if is_heading else ""
        sections.append(Section(page.base + span[0], page.base + span[1], group_kind, level, page.number, title))

    for line in lines:
        kind = _line_kind(text[line.start : line.end], line, fonts)
        if group and _joins(group[-1], line, kind, group_kind, fonts):
            group.append(line)
            continue
        if group:
            close()
        group, group_kind = [line], kind
    if group:
        close()
    return sections


def _page_sections(page: _Page, fonts: _Fonts) -> list[Section]:
    if page.lines:
        return _structure(page, fonts)
    sections = plain_sections(page.text)
    for section in sections:
        section.start += page.base
        section.end += page.base
        section.page = page.number
    return sections


def _read_pages(reader: PdfReader, filename: str, budget: StreamBudget) -> list[_Page]:
    try:
        page_objects = list(reader.pages)
    except LimitReachedError as exc:
        raise budget.error(exc, "the page tree") from exc
    except Exception as exc:  # pypdf raises many types on a broken page tree
        raise ParseError(f"{filename}: not a readable PDF (broken page tree: {exc})", filename=filename) from exc
    pages: list[_Page] = []
    position = 0
    for number, page_object in enumerate(page_objects, start=1):
        try:
            budget.account(page_object, number)
            with budget.applied():
                text, lines = _dehyphenate(*_extract(page_object, budget.spend_text))
        except DocqaError:
            raise
        except LimitReachedError as exc:
            raise budget.error(exc, f"page {number}") from exc
        except Exception as exc:  # a damaged content stream can raise nearly anything inside pypdf
            raise ParseError(
                f"{filename}: could not extract text from page {number} ({type(exc).__name__}: {exc})",
                filename=filename,
                page=number,
            ) from exc
        if pages:
            position += 2  # the blank line that separates pages
            budget.spend_text(2)
        pages.append(_Page(number, text, position, lines))
        position += len(text)
    return pages


def parse_pdf(data: bytes, filename: str, limits: ParseLimits = DEFAULT_LIMITS) -> ParsedDocument:
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # damaged files are reported as ParseError instead
    budget = StreamBudget(filename, limits)
    with budget.applied():
        reader = _open(data, filename, budget)
        pages = _read_pages(reader, filename, budget)
        title = declared = _metadata_title(reader)
    text = "\n\n".join(page.text for page in pages)
    if not text.strip():
        raise ParseError(f"{filename}: PDF has no extractable text (scanned images or empty pages?)", filename=filename)
    fonts = _fonts(pages)
    sections = [section for page in pages if page.text.strip() for section in _page_sections(page, fonts)]
    title = title or next((s.title for s in sections if s.kind == "heading"), "")
    return ParsedDocument(
        text=text,
        content_type=CT_PDF,
        title=title or default_title(filename),
        sections=sections,
        pages=[(page.number, page.base, page.base + len(page.text)) for page in pages],
        declared_title=declared,
    )


def _metadata_title(reader: PdfReader) -> str:
    try:
        info = reader.metadata
        return str(info.title).strip() if info and info.title else ""
    except Exception:  # broken info dictionaries are common and never fatal
        return ""
