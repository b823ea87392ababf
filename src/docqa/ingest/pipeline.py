"""The ingestion pipeline: parse -> chunk -> embed in batches -> write.

Each document and its chunks are written in one transaction (ingest/writer.py);
the sync engine picks the change up from the log. A content hash makes
re-ingest idempotent: an unchanged file computes no embedding, a changed file
re-embeds only the chunks whose text changed (the writer reuses the others'
rows). Catching the index up is the caller's (the app layer). A
file that cannot be read is recorded as `failed` with its reason and the
batch goes on; a good version already stored is never replaced by a failure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import xxhash

from docqa.embedders.base import Embedder
from docqa.errors import DocqaError, ParseError
from docqa.ingest.chunking import chunk_document, under_title
from docqa.ingest.document import PARSER_VERSION, ParsedDocument
from docqa.ingest.identity import document_identity
from docqa.ingest.limits import ParseLimits
from docqa.ingest.parsers import parse_bytes
from docqa.ingest.sniff import sniff
from docqa.ingest.writer import DocumentWriter, same_document
from docqa.types import ChunkInput

SPECIAL_TOKENS = 2  # [CLS] and [SEP]
HEADING_RESERVE = 32  # tokens kept free so the heading can travel with the chunk


@dataclass
class IngestOutcome:
    document_id: str
    filename: str
    status: str  # added | updated | unchanged | failed
    source: str = ""
    chunks: int = 0
    embedded: int = 0
    removed: int = 0
    error: str | None = None
    seq: int = 0
    error_code: str | None = None  # the error's stable code (e.g. payload_too_large for a limit), when failed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PreparedDocument:
    """A parsed and chunked document waiting for its embeddings."""

    filename: str
    source: str
    content_hash: str
    content_type: str
    chunks: list[ChunkInput]
    document_id: str | None
    metadata: dict[str, Any] = field(default_factory=dict)
    existed: bool = False
    identity: str = ""


@dataclass(frozen=True)
class ChunkingConfig:
    max_tokens: int = 200
    overlap_tokens: int = 30


@dataclass(frozen=True)
class IngestContext:
    """What ingest needs: the write path (database + embedder of one collection) and how to chunk."""

    writer: DocumentWriter
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    limits: ParseLimits = field(default_factory=ParseLimits)  # what one document may cost to parse


def content_hash_of(data: bytes) -> str:
    return xxhash.xxh3_128_hexdigest(data)


def check_supported(data: bytes, filename: str, content_type_hint: str | None = None) -> None:
    """Raise UnsupportedType when the bytes are of no type docqa reads (an empty file is left to `prepare`)."""
    try:
        sniff(data, filename, content_type_hint)
    except ParseError:
        pass  # e.g. an empty file: recorded as failed with its reason


def chunk_budget(embedder: Embedder, chunking: ChunkingConfig) -> int:
    model_limit = embedder.max_tokens - SPECIAL_TOKENS - HEADING_RESERVE
    return max(16, min(chunking.max_tokens, model_limit))


def fit_headings(chunks: list[ChunkInput], count: Callable[[str], int], limit: int) -> None:
    """Shorten a heading path (never the text) until heading + text fit the model."""
    for chunk in chunks:
        while chunk.heading and count(f"{chunk.heading}\n{chunk.text}") > limit:
            parts = chunk.heading.split(" > ")
            chunk.heading = " > ".join(parts[1:]) if len(parts) > 1 else ""


def chunk_parsed(
    ctx: IngestContext, doc: ParsedDocument, heading_stack: list[tuple[int, str]] | None = None
) -> list[ChunkInput]:
    """`heading_stack`: see chunking.chunk_document (a document chunked window by window)."""
    embedder = ctx.writer.embedder
    budget = chunk_budget(embedder, ctx.chunking)
    count = embedder.count_tokens
    overlap = min(ctx.chunking.overlap_tokens, budget // 4)
    chunks = chunk_document(doc, count, max_tokens=budget, overlap_tokens=overlap, heading_stack=heading_stack)
    under_title(chunks, doc)
    fit_headings(chunks, count, embedder.max_tokens - SPECIAL_TOKENS)
    return chunks


def prepare(
    ctx: IngestContext,
    data: bytes,
    filename: str,
    *,
    source: str = "",
    document_id: str | None = None,
    content_type_hint: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> PreparedDocument | IngestOutcome:
    """Parse and chunk, or return an outcome right away (unchanged or failed)."""
    writer = ctx.writer
    digest = content_hash_of(data)
    identity = document_identity(document_id=document_id, source=source, filename=filename, content_hash=digest)
    existing = writer.find_document(document_id, identity)
    doc_id = existing.id if existing else document_id
    meta = dict(metadata or {})
    if existing is not None and same_document(existing, digest, meta, PARSER_VERSION):
        return IngestOutcome(
            document_id=existing.id, filename=filename, source=source, status="unchanged", chunks=existing.chunks_total
        )
    try:
        content_type = sniff(data, filename, content_type_hint, ctx.limits)
        parsed = parse_bytes(data, filename, content_type, ctx.limits)
        chunks = chunk_parsed(ctx, parsed)
        if not chunks:
            raise ParseError(f"{filename}: no text to index")
    except DocqaError as exc:
        failed_id = writer.record_failure(
            document_id=doc_id,
            filename=filename,
            source=source,
            content_type=content_type_hint or "",
            content_hash=digest,
            error=exc.message,
            metadata=meta,
            identity=identity,
        )
        return IngestOutcome(
            document_id=failed_id,
            filename=filename,
            source=source,
            status="failed",
            error=exc.message,
            error_code=exc.code,
        )
    if parsed.title and "title" not in meta:
        meta["title"] = parsed.title
    return PreparedDocument(
        filename=filename,
        source=source,
        content_hash=digest,
        content_type=parsed.content_type,
        chunks=chunks,
        document_id=doc_id,
        metadata=meta,
        existed=existing is not None,
        identity=identity,
    )


def embed_prepared(ctx: IngestContext, batch: list[PreparedDocument]) -> list[int]:
    """Embed the new chunks of several documents in shared model batches. Returns embedded count per doc."""
    return ctx.writer.embed_new([(p.document_id, p.chunks) for p in batch])


def write_prepared(ctx: IngestContext, prepared: PreparedDocument, embedded: int) -> IngestOutcome:
    result = ctx.writer.write(
        prepared.chunks,
        document_id=prepared.document_id,
        filename=prepared.filename,
        source=prepared.source,
        content_type=prepared.content_type,
        content_hash=prepared.content_hash,
        metadata=prepared.metadata,
        identity=prepared.identity,
        parser_version=PARSER_VERSION,
    )
    return IngestOutcome(
        document_id=result.document_id,
        filename=prepared.filename,
        source=prepared.source,
        status=result.outcome,
        chunks=len(prepared.chunks),
        embedded=embedded,
        removed=result.removed,
        seq=result.seq,
    )


def ingest_bytes(
    ctx: IngestContext,
    data: bytes,
    filename: str,
    *,
    source: str = "",
    document_id: str | None = None,
    content_type_hint: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> IngestOutcome:
    """Ingest one document held in memory. Bad files come back as status `failed` with the reason."""
    prepared = prepare(
        ctx,
        data,
        filename,
        source=source,
        document_id=document_id,
        content_type_hint=content_type_hint,
        metadata=metadata,
    )
    if isinstance(prepared, IngestOutcome):
        return prepared
    embedded = embed_prepared(ctx, [prepared])[0]
    return write_prepared(ctx, prepared, embedded)
