"""Ingestion: parse documents into text + structure, and chunk them (pure, no database)."""

from docqa.ingest.chunking import chunk_document
from docqa.ingest.document import (
    CT_DOCX,
    CT_HTML,
    CT_MARKDOWN,
    CT_PDF,
    CT_TEXT,
    ParsedDocument,
    Section,
)
from docqa.ingest.parsers import DEFAULT_MAX_BYTES, parse_bytes, parse_file
from docqa.ingest.sniff import SUPPORTED, sniff

__all__ = [
    "CT_DOCX",
    "CT_HTML",
    "CT_MARKDOWN",
    "CT_PDF",
    "CT_TEXT",
    "DEFAULT_MAX_BYTES",
    "SUPPORTED",
    "ParsedDocument",
    "Section",
    "chunk_document",
    "parse_bytes",
    "parse_file",
    "sniff",
]
