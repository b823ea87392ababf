"""PDF parser (pypdf): text per page, page numbers kept, headings found by font size.

Each page's text is pypdf's own extraction. When pypdf's text visitor saw
the same text (the usual case), its font sizes and baselines are used to
split the page into paragraphs (by vertical gaps) and to mark lines set in
a larger font as headings. Otherwise each page falls back to plain blocks.
"""

from __future__ import annotations

import io
import logging
import re
from collections import Counter
from dataclasses import dataclass

from pypdf import PageObject, PdfReader
from pypdf.errors import DependencyError

from docqa.errors import ParseError
from docqa.ingest.document import CT_PDF, ParsedDocument, Section
from docqa.ingest.parse_text import _LIST_ITEM, default_title, plain_sections

_SPACES = re.compile(r"[ \t]+")


@dataclass
class _Line:
    start: int  # offsets within the page text
    end: int
    size: float
    y: float | None


def _open(data: bytes, filename: str) -> PdfReader:
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except (DependencyError, NotImplementedError) as exc:
                raise ParseError(f"{filename}: PDF is encrypted and cannot be decrypted here ({exc})",
                                 filename=filename) from exc
            if not opened:
                raise ParseError(f"{filename}: PDF is encrypted with a password", filename=filename)
        return reader
    except ParseError:
        raise
    except Exception as exc:  # pypdf raises nearly any type on damaged input
        raise ParseError(f"{filename}: not a readable PDF ({type(exc).__name__}: {exc})", filename=filename) from exc


def _page_lines(page: PageObject, text: str) -> list[_Line] | None:
    """Per-line font size and baseline, or None when the visitor disagrees with `text`."""
    pieces: list[tuple[str, float, float | None]] = []

    def visit(piece: str, cm: list[float], tm: list[float], _font: object, size: float) -> None:
        scale = abs(tm[3] * cm[3]) or abs(tm[0] * cm[0]) or 1.0
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5] if piece.strip() else None
        pieces.append((piece, float(size) * scale, y))

    page.extract_text(visitor_text=visit)
    if "".join(p for p, _, _ in pieces) != text:
        return None
    lines: list[_Line] = []
    position = 0
    current = _Line(0, 0, 0.0, None)
    weights: Counter[float] = Counter()
    for piece, size, y in pieces:
        for k, part in enumerate(piece.split("\n")):
            if k:
                current.end = position
                lines.append(current)
                position += 1
                current = _Line(position, position, 0.0, None)
            if part.strip():
                weights[round(size, 1)] += len(part)
                current.size = max(current.size, size)
                if current.y is None:
                    current.y = y
            position += len(part)
    current.end = position
    lines.append(current)
    return [ln for ln in lines if text[ln.start:ln.end].strip()]


def _structure(text: str, lines: list[_Line], base: int, page_no: int) -> list[Section]:
    """Sections of one page; `text` is the page text, `base` its offset in the document."""
    sizes: Counter[float] = Counter()
    for ln in lines:
        sizes[round(ln.size, 1)] += ln.end - ln.start
    body = sizes.most_common(1)[0][0] if sizes else 0.0
    heading_sizes = sorted({round(ln.size, 1) for ln in lines if ln.size > body * 1.12}, reverse=True)
    gaps = [a.y - b.y for a, b in zip(lines, lines[1:]) if a.y is not None and b.y is not None and a.y > b.y]
    usual_gap = sorted(gaps)[len(gaps) // 2] if gaps else 0.0

    sections: list[Section] = []
    group: list[_Line] = []
    group_kind = ""

    def close() -> None:
        if not group:
            return
        start, end = group[0].start, group[-1].end
        segment = text[start:end]
        lead = len(segment) - len(segment.lstrip())
        start, end = start + lead, start + len(segment.rstrip())
        level = heading_sizes.index(round(group[0].size, 1)) + 1 if group_kind == "heading" else 0
        title = _SPACES.sub(" ", text[start:end].replace("\n", " ")).strip() if group_kind == "heading" else ""
        sections.append(Section(base + start, base + end, group_kind, level, page_no, title))
        group.clear()

    previous: _Line | None = None
    for ln in lines:
        line_text = text[ln.start : ln.end]
        is_heading = round(ln.size, 1) in heading_sizes and len(line_text.strip()) <= 150
        kind = "heading" if is_heading else ("list" if _LIST_ITEM.match(line_text) else "paragraph")
        gap_break = (
            previous is not None and previous.y is not None and ln.y is not None and usual_gap > 0
            and (previous.y - ln.y > usual_gap * 1.3 or ln.y > previous.y)
        )
        same_heading = is_heading and group_kind == "heading" and round(group[0].size, 1) == round(ln.size, 1)
        continues = (
            group
            and not gap_break
            and (same_heading or (not is_heading and group_kind != "heading"
                                  and (kind == group_kind or group_kind == "list" and kind == "paragraph")))
        )
        if not continues:
            close()
            group_kind = kind
        group.append(ln)
        previous = ln
    close()
    return sections


def _page_sections(page: PageObject, page_text: str, base: int, page_no: int) -> list[Section]:
    lines = _page_lines(page, page_text)
    if lines:
        return _structure(page_text, lines, base, page_no)
    sections = plain_sections(page_text)
    for section in sections:
        section.start += base
        section.end += base
        section.page = page_no
    return sections


def parse_pdf(data: bytes, filename: str) -> ParsedDocument:
    reader = _open(data, filename)
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    parts: list[str] = []
    pages: list[tuple[int, int, int]] = []
    sections: list[Section] = []
    position = 0
    try:
        page_objects = list(reader.pages)
    except Exception as exc:  # pypdf raises many types on a broken page tree
        raise ParseError(f"{filename}: not a readable PDF (broken page tree: {exc})", filename=filename) from exc
    for number, page in enumerate(page_objects, start=1):
        try:
            page_text = (page.extract_text() or "").replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
            if parts:
                parts.append("\n\n")
                position += 2
            if page_text.strip():
                sections.extend(_page_sections(page, page_text, position, number))
        except ParseError:
            raise
        except Exception as exc:  # a damaged content stream can raise nearly anything inside pypdf
            raise ParseError(f"{filename}: could not extract text from page {number} ({type(exc).__name__}: {exc})",
                             filename=filename, page=number) from exc
        pages.append((number, position, position + len(page_text)))
        parts.append(page_text)
        position += len(page_text)
    text = "".join(parts)
    if not text.strip():
        raise ParseError(f"{filename}: PDF has no extractable text (scanned images or empty pages?)",
                         filename=filename)
    title = _metadata_title(reader) or next((s.title for s in sections if s.kind == "heading"), "")
    return ParsedDocument(text=text, content_type=CT_PDF, title=title or default_title(filename),
                          sections=sections, pages=pages)


def _metadata_title(reader: PdfReader) -> str:
    try:
        info = reader.metadata
        return str(info.title).strip() if info and info.title else ""
    except Exception:  # broken info dictionaries are common and never fatal
        return ""
