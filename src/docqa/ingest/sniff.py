"""Decide what a file really is, from its bytes first and its name second.

The bytes win over the extension: a `report.pdf` that is really HTML is
parsed as HTML (and reported as `text/html`); binary content that is none of
the supported formats is refused as UnsupportedType, whatever its name says.
"""

from __future__ import annotations

import re
from pathlib import PurePath

from docqa.errors import ParseError, UnsupportedType
from docqa.ingest.document import CT_DOCX, CT_HTML, CT_MARKDOWN, CT_PDF, CT_TEXT
from docqa.ingest.limits import DEFAULT_LIMITS, ParseLimits
from docqa.ingest.zip_limits import open_archive

SUPPORTED = (CT_TEXT, CT_MARKDOWN, CT_HTML, CT_PDF, CT_DOCX)

_EXTENSIONS = {
    ".txt": CT_TEXT,
    ".text": CT_TEXT,
    ".log": CT_TEXT,
    ".csv": CT_TEXT,
    ".md": CT_MARKDOWN,
    ".markdown": CT_MARKDOWN,
    ".mdown": CT_MARKDOWN,
    ".html": CT_HTML,
    ".htm": CT_HTML,
    ".xhtml": CT_HTML,
    ".pdf": CT_PDF,
    ".docx": CT_DOCX,
}

_HINT_ALIASES = {
    "text/x-markdown": CT_MARKDOWN,
    "application/xhtml+xml": CT_HTML,
    "application/x-pdf": CT_PDF,
}

_HTML_START = re.compile(rb"^\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*<(!doctype\s+html|html[\s>])", re.I | re.S)
_HTML_TAGS = re.compile(rb"<(head|body|title|div|p|h[1-6]|article|main|section)[\s>]", re.I)

_BINARY_SIGNATURES = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\x1f\x8b": "gzip data",
    b"7z\xbc\xaf": "a 7-Zip archive",
    b"Rar!": "a RAR archive",
    b"\xd0\xcf\x11\xe0": "a legacy Office (OLE2) file such as .doc/.xls",
    b"\x7fELF": "an ELF executable",
    b"MZ": "a Windows executable",
    b"{\\rtf": "an RTF document",
    b"%!PS": "a PostScript file",
}

_UTF_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


def normalize_hint(content_type_hint: str | None) -> str | None:
    if not content_type_hint:
        return None
    base = content_type_hint.split(";", 1)[0].strip().lower()
    return _HINT_ALIASES.get(base, base)


def type_from_name(filename: str) -> str | None:
    return _EXTENSIONS.get(PurePath(filename).suffix.lower())


def looks_binary(data: bytes) -> bool:
    """True when a sample of `data` is not plausibly text in any encoding we decode."""
    sample = data[:8192]
    if sample.startswith(_UTF_BOMS) or sample.startswith((b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00")):
        return False
    if b"\x00" in sample:
        return True
    controls = sum(1 for b in sample if (b < 32 and b not in (9, 10, 12, 13)) or b == 127)
    return controls > max(2, len(sample) // 100)


def _zip_kind(data: bytes, filename: str, limits: ParseLimits) -> str:
    with open_archive(data, filename, limits) as archive:  # checks the member count before listing them
        names = set(archive.namelist())
    if "word/document.xml" in names:
        return CT_DOCX
    if "xl/workbook.xml" in names or "ppt/presentation.xml" in names:
        raise UnsupportedType(
            f"{filename}: spreadsheets and presentations are not supported (only .docx among Office files)",
            filename=filename,
        )
    raise UnsupportedType(f"{filename}: a zip archive that is not a Word (.docx) document", filename=filename)


def sniff(
    data: bytes, filename: str, content_type_hint: str | None = None, limits: ParseLimits = DEFAULT_LIMITS
) -> str:
    """Return the content type `data` really has (one of SUPPORTED) or raise."""
    head = data[:1024]
    if head.lstrip().startswith(b"%PDF-") or (b"%PDF-" in head and looks_binary(data)):
        return CT_PDF
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _zip_kind(data, filename, limits)
    for signature, what in _BINARY_SIGNATURES.items():
        if head.startswith(signature):
            raise UnsupportedType(f"{filename}: unsupported file type ({what})", filename=filename)
    if not data.strip(b" \t\r\n\f\x00"):
        raise ParseError(f"{filename}: file is empty (no text to extract)", filename=filename)
    if looks_binary(data):
        suffix = PurePath(filename).suffix
        named = f" (its name ends in {suffix}, but the content is not that)" if type_from_name(filename) else ""
        raise UnsupportedType(f"{filename}: binary content of an unknown type{named}", filename=filename)
    return _text_kind(data, filename, content_type_hint)


def _text_kind(data: bytes, filename: str, content_type_hint: str | None) -> str:
    start = data[:4096]
    for bom in _UTF_BOMS:
        if start.startswith(bom):
            start = start[len(bom) :]
            break
    if start.startswith((b"\x00", b"<\x00")) or b"\x00" in start[:64]:
        start = start.replace(b"\x00", b"")  # UTF-16 text: enough for the checks below
    if _HTML_START.match(start):
        return CT_HTML
    claimed = type_from_name(filename) or normalize_hint(content_type_hint)
    if claimed == CT_HTML:
        return CT_HTML if _HTML_TAGS.search(data[:65536]) else CT_TEXT
    if claimed == CT_MARKDOWN:
        return CT_MARKDOWN
    hint = normalize_hint(content_type_hint)
    if hint in (CT_MARKDOWN, CT_HTML) and claimed in (None, CT_TEXT):
        return hint if hint == CT_MARKDOWN or _HTML_TAGS.search(data[:65536]) else CT_TEXT
    return CT_TEXT
