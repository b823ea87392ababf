"""DOCX parser (python-docx): body paragraphs and tables in document order.

Paragraph styles decide the kind: `Title` and `Heading N` are headings
(Title is level 1 and Heading N is level N + 1 when the document uses a
Title; otherwise Heading N is level N), list styles and numbered paragraphs
are list items, everything else is a paragraph.

The package is checked before python-docx opens it (zip_limits: member
count, inflated size and compression ratio), python-docx parses its XML with
entity resolution off (`resolve_entities=False`; tests/test_parse_limits.py
checks that it stays off), and the extracted text is bounded by
`max_text_chars`. Table cells are read from the XML directly, not through
python-docx's `row.cells`, which repeats a cell once per grid column it spans
(a 36 KB file declaring `gridSpan` 20,000,000 ran for minutes).
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator

import docx
from docx.document import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.opc.exceptions import PackageNotFoundError
from docx.oxml.table import CT_Tc
from docx.styles.style import StyleFactory
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph

from docqa.errors import DocqaError, ParseError
from docqa.ingest.document import CT_DOCX, ParsedDocument, TextBuilder
from docqa.ingest.limits import DEFAULT_LIMITS, ParseLimits
from docqa.ingest.parse_text import default_title
from docqa.ingest.zip_limits import check_inflation, open_archive

_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.I)
_SPACES = re.compile(r"[ \t\u00a0]+")


def _open(data: bytes, filename: str) -> Document:
    try:
        return docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile) as exc:
        raise ParseError(
            f"{filename}: not a readable DOCX file ({exc or 'missing Word parts'})", filename=filename
        ) from exc
    except KeyError as exc:
        raise ParseError(f"{filename}: DOCX package is missing a required part ({exc})", filename=filename) from exc
    except Exception as exc:  # lxml, zipfile and python-docx raise many types on damaged packages
        raise ParseError(
            f"{filename}: not a readable DOCX file ({type(exc).__name__}: {exc})", filename=filename
        ) from exc


def _heading_level(style_name: str, has_title: bool) -> int | None:
    if style_name.lower() == "title":
        return 1
    match = _HEADING_STYLE.match(style_name)
    if match:
        return int(match.group(1)) + (1 if has_title else 0)
    return None


def _is_list(paragraph: Paragraph, style_name: str) -> bool:
    if style_name.lower().startswith("list"):
        return True
    properties = paragraph._p.pPr
    return properties is not None and properties.numPr is not None


class _StyleNames:
    """Paragraph style names by style id, looked up once.

    python-docx's `paragraph.style` scans every style for the default on each
    call: with a template's ~200 styles that was ~3 ms per paragraph, 5 minutes
    for the issue's 50 MB document. The rules are python-docx's: the first style
    with the id, if it is a paragraph style, else the default paragraph style.
    """

    def __init__(self, document: Document) -> None:
        styles = document.styles
        try:
            default = styles.default(WD_STYLE_TYPE.PARAGRAPH)
            self.default = (default.name if default is not None else "") or ""
        except (KeyError, ValueError):
            self.default = ""
        self.names: dict[str, str] = {}
        for element in styles.element.style_lst:
            if element.styleId is None or element.styleId in self.names:
                continue
            try:
                named = StyleFactory(element).name if element.type == WD_STYLE_TYPE.PARAGRAPH else self.default
            except (KeyError, ValueError):
                named = ""
            self.names[element.styleId] = named or ""

    def of(self, paragraph: Paragraph) -> str:
        style_id = paragraph._p.style
        return self.default if style_id is None else self.names.get(style_id, self.default)


def _blocks(document: Document) -> Iterator[Paragraph | Table]:
    """Paragraphs and tables of the body, in order."""
    for child in document.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            yield Paragraph(child, document)
        elif tag == "tbl":
            yield Table(child, document)


def _cell_text(tc: CT_Tc, table: Table) -> str:
    return _SPACES.sub(" ", _Cell(tc, table).text.replace("\n", " ")).strip()


def _table_text(table: Table) -> str:
    """One line per row, cells joined by " | "; a merged cell's text once per row it spans."""
    rows: list[str] = []
    above: dict[int, str] = {}  # grid column -> text of the cell there in the previous row
    for tr in table._tbl.tr_lst:
        column = tr.grid_before
        current: dict[int, str] = {}
        cells: list[str] = []
        for tc in tr.tc_lst:
            text = above.get(column, "") if tc.vMerge == "continue" else _cell_text(tc, table)
            current[column] = text
            if not cells or text != cells[-1]:  # merged cells repeat their text
                cells.append(text)
            column += max(tc.grid_span, 1)
        above = current
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n".join(rows)


def parse_docx(data: bytes, filename: str, limits: ParseLimits = DEFAULT_LIMITS) -> ParsedDocument:
    with open_archive(data, filename, limits) as archive:
        check_inflation(archive, data, filename, limits)
    document = _open(data, filename)
    out = TextBuilder(filename, limits.max_text_chars)
    try:
        blocks = list(_blocks(document))
        style_names = _StyleNames(document)
        styles = {id(b): style_names.of(b) for b in blocks if isinstance(b, Paragraph)}
        has_title = any(s.lower() == "title" for s in styles.values())
        previous_kind = ""
        for block in blocks:
            if isinstance(block, Table):
                out.add(_table_text(block), "table")
                previous_kind = "table"
                continue
            text = _SPACES.sub(" ", block.text).strip()
            if not text:
                continue
            style = styles[id(block)]
            level = _heading_level(style, has_title)
            if level is not None:
                out.add(text, "heading", level=level, title=text)
                previous_kind = "heading"
            elif _is_list(block, style):
                _add_list_item(out, text, previous_kind == "list")
                previous_kind = "list"
            else:
                out.add(text, "paragraph")
                previous_kind = "paragraph"
    except DocqaError:
        raise
    except Exception as exc:  # damaged XML inside an otherwise valid package
        raise ParseError(
            f"{filename}: could not read the DOCX body ({type(exc).__name__}: {exc})", filename=filename
        ) from exc
    text = out.text()
    if not text.strip():
        raise ParseError(f"{filename}: DOCX document has no text", filename=filename)
    core_title = (document.core_properties.title or "").strip()
    first_heading = next((s.title for s in out.sections if s.kind == "heading"), "")
    return ParsedDocument(
        text=text,
        content_type=CT_DOCX,
        title=core_title or first_heading or default_title(filename),
        sections=out.sections,
        declared_title=core_title,
    )


def _add_list_item(out: TextBuilder, text: str, continues: bool) -> None:
    """Consecutive list paragraphs form one list section, one item per line."""
    if continues and out.sections and out.sections[-1].kind == "list":
        section = out.sections.pop()
        out.add("- " + text, "list", separator="\n")
        out.sections[-1].start = section.start
    else:
        out.add("- " + text, "list")
