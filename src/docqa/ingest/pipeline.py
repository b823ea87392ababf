"""The ingestion pipeline: parse -> chunk -> embed in batches -> write.

Each document and its chunks are written in one transaction; the sync engine
picks the change up from the log. A content hash makes re-ingest idempotent:
an unchanged file computes no embedding, a changed file re-embeds only the
chunks whose text changed (Store.add_document reuses the others' rows). A
file that cannot be read is recorded as `failed` with its reason and the
batch goes on; a good version already stored is never replaced by a failure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import xxhash

from docqa.app import Store
from docqa.errors import DocqaError
from docqa.ingest.chunking import chunk_document
from docqa.ingest.document import ParsedDocument
from docqa.ingest.parsers import parse_bytes
from docqa.ingest.sniff import sniff
from docqa.storage.repo import chunk_hash
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


def content_hash_of(data: bytes) -> str:
    return xxhash.xxh3_128_hexdigest(data)


def chunk_budget(store: Store) -> int:
    model_limit = store.embedder.max_tokens - SPECIAL_TOKENS - HEADING_RESERVE
    return max(16, min(store.settings.chunk_max_tokens, model_limit))


def fit_headings(chunks: list[ChunkInput], count: Callable[[str], int], limit: int) -> None:
    """Shorten a heading path (never the text) until heading + text fit the model."""
    for chunk in chunks:
        while chunk.heading and count(f"{chunk.heading}\n{chunk.text}") > limit:
            parts = chunk.heading.split(" > ")
            chunk.heading = " > ".join(parts[1:]) if len(parts) > 1 else ""


def chunk_parsed(store: Store, doc: ParsedDocument) -> list[ChunkInput]:
    count = store.embedder.count_tokens
    chunks = chunk_document(
        doc,
        count,
        max_tokens=chunk_budget(store),
        overlap_tokens=min(store.settings.chunk_overlap_tokens, chunk_budget(store) // 4),
    )
    fit_headings(chunks, count, store.embedder.max_tokens - SPECIAL_TOKENS)
    return chunks


def prepare(
    store: Store,
    data: bytes,
    filename: str,
    *,
    source: str = "",
    document_id: str | None = None,
    content_type_hint: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> PreparedDocument | IngestOutcome:
    """Parse and chunk, or return an outcome right away (unchanged or failed)."""
    digest = content_hash_of(data)
    existing = None
    if document_id:
        try:
            existing = store.get_document(document_id)
        except DocqaError:
            existing = None
    elif source:
        existing = store.find_by_source(source)
    doc_id = existing.id if existing else document_id
    meta = dict(metadata or {})
    if (
        existing
        and existing.status == "indexed"
        and existing.content_hash == digest
        and (not meta or meta == existing.metadata)
    ):
        return IngestOutcome(
            document_id=existing.id, filename=filename, source=source, status="unchanged", chunks=existing.chunks_total
        )
    try:
        content_type = sniff(data, filename, content_type_hint)
        parsed = parse_bytes(data, filename, content_type)
        chunks = chunk_parsed(store, parsed)
        if not chunks:
            raise DocqaError(f"{filename}: no text to index")
    except DocqaError as exc:
        failed_id = store.record_failure(
            document_id=doc_id,
            filename=filename,
            source=source,
            content_type=content_type_hint or "",
            content_hash=digest,
            error=exc.message,
            metadata=meta,
        )
        return IngestOutcome(
            document_id=failed_id, filename=filename, source=source, status="failed", error=exc.message
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
    )


def embed_prepared(store: Store, batch: list[PreparedDocument]) -> dict[int, int]:
    """Embed the new chunks of several documents in shared model batches. Returns embedded count per doc."""
    todo: list[tuple[int, ChunkInput]] = []
    for i, prepared in enumerate(batch):
        known = store.existing_hashes(prepared.document_id) if prepared.document_id else set()
        todo.extend((i, c) for c in prepared.chunks if chunk_hash(c.heading, c.text) not in known)
    counts: dict[int, int] = {}
    store.embed_missing([c for _, c in todo], set())
    for i, _ in todo:
        counts[i] = counts.get(i, 0) + 1
    return counts


def write_prepared(store: Store, prepared: PreparedDocument, embedded: int, sync: bool) -> IngestOutcome:
    result = store.add_document(
        prepared.chunks,
        document_id=prepared.document_id,
        filename=prepared.filename,
        source=prepared.source,
        content_type=prepared.content_type,
        content_hash=prepared.content_hash,
        metadata=prepared.metadata,
        sync=sync,
    )
    return IngestOutcome(
        document_id=result.document_id,
        filename=prepared.filename,
        source=prepared.source,
        status="updated" if prepared.existed else "added",
        chunks=len(prepared.chunks),
        embedded=embedded,
        removed=result.removed,
        seq=result.seq,
    )


def ingest_bytes(
    store: Store,
    data: bytes,
    filename: str,
    *,
    source: str = "",
    document_id: str | None = None,
    content_type_hint: str | None = None,
    metadata: dict[str, Any] | None = None,
    sync: bool = True,
) -> IngestOutcome:
    """Ingest one document held in memory. Bad files come back as status `failed` with the reason."""
    prepared = prepare(
        store,
        data,
        filename,
        source=source,
        document_id=document_id,
        content_type_hint=content_type_hint,
        metadata=metadata,
    )
    if isinstance(prepared, IngestOutcome):
        return prepared
    embedded = embed_prepared(store, [prepared]).get(0, 0)
    return write_prepared(store, prepared, embedded, sync)
