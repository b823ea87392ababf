"""Entry points: pick the parser by what the bytes are, then parse.

Every failure is a DocqaError: ParseError (unreadable, encrypted, empty,
corrupt, nested too deeply), UnsupportedType (binary content of a type we do
not read) or PayloadTooLarge (parse_file over its size limit, or a document
that would inflate past a ParseLimits limit). Messages name the file, and a
limit's message names the limit.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from docqa.errors import DocqaError, ParseError, PayloadTooLarge
from docqa.ingest.document import CT_DOCX, CT_HTML, CT_MARKDOWN, CT_PDF, CT_TEXT, ParsedDocument
from docqa.ingest.limits import DEFAULT_LIMITS, ParseLimits
from docqa.ingest.parse_docx import parse_docx
from docqa.ingest.parse_html import parse_html
from docqa.ingest.parse_markdown import parse_markdown
from docqa.ingest.parse_pdf import parse_pdf
from docqa.ingest.parse_text import parse_plain
from docqa.ingest.sniff import sniff

DEFAULT_MAX_BYTES = 50 * 1024 * 1024

_PARSERS: dict[str, Callable[[bytes, str, ParseLimits], ParsedDocument]] = {
    CT_TEXT: parse_plain,
    CT_MARKDOWN: parse_markdown,
    CT_HTML: parse_html,
    CT_PDF: parse_pdf,
    CT_DOCX: parse_docx,
}


def parse_bytes(
    data: bytes, filename: str, content_type_hint: str | None = None, limits: ParseLimits | None = None
) -> ParsedDocument:
    """Parse one document held in memory. `filename` is used for messages and as a type hint."""
    limits = limits or DEFAULT_LIMITS
    if not data:
        raise ParseError(f"{filename}: file is empty (no text to extract)", filename=filename)
    content_type = sniff(data, filename, content_type_hint, limits)
    try:
        return _PARSERS[content_type](data, filename, limits)
    except DocqaError:
        raise
    except RecursionError as exc:
        raise ParseError(f"{filename}: document nests too deeply to parse", filename=filename) from exc
    except (ValueError, UnicodeError, LookupError, MemoryError) as exc:
        raise ParseError(
            f"{filename}: could not parse as {content_type} ({type(exc).__name__}: {exc})", filename=filename
        ) from exc


def parse_file(
    path: Path,
    max_bytes: int = DEFAULT_MAX_BYTES,
    content_type_hint: str | None = None,
    limits: ParseLimits | None = None,
) -> ParsedDocument:
    """Read and parse one file, refusing files larger than `max_bytes`."""
    path = Path(path)
    name = path.name
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise PayloadTooLarge(
                f"{name}: file is {size} bytes, over the {max_bytes}-byte limit",
                filename=name,
                size=size,
                limit=max_bytes,
            )
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except FileNotFoundError as exc:
        raise ParseError(f"{name}: file not found ({path})", filename=name) from exc
    except IsADirectoryError as exc:
        raise ParseError(f"{name}: is a directory, not a file", filename=name) from exc
    except OSError as exc:
        raise ParseError(f"{name}: cannot read file ({exc.strerror or exc})", filename=name) from exc
    if len(data) > max_bytes:  # grew while we looked
        raise PayloadTooLarge(f"{name}: file is over the {max_bytes}-byte limit", filename=name, limit=max_bytes)
    return parse_bytes(data, name, content_type_hint, limits)
