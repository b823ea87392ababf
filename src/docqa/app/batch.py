"""Many documents at once, for the faces that work in batches (LangChain, LlamaIndex): one embedding pass
over all their new chunks, then one transaction per document; reads of documents by id with their chunks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from docqa.ingest.identity import document_identity
from docqa.ingest.writer import DocumentWriter
from docqa.search.filters import filter_clause
from docqa.storage.db import Database
from docqa.storage.document_chunks import document_ids_where, documents_with_chunks
from docqa.sync.engine import SyncEngine
from docqa.types import ChunkInput, ChunkRecord, DocumentRecord, SearchFilters, WriteResult


@dataclass
class DocumentInput:
    """A document made of ready chunks, as `Docqa.add_document` takes it."""

    chunks: Sequence[ChunkInput]
    document_id: str | None = None
    metadata: dict[str, Any] | None = None
    filename: str = ""
    source: str = ""
    content_type: str = "text/plain"
    content_hash: str = ""  # equal hash and metadata: the stored document is left as it is (`unchanged`)


@dataclass(frozen=True)
class StoredChunk:
    chunk_id: int
    ordinal: int
    text: str
    heading: str
    metadata: dict[str, Any]
    page: int | None
    char_start: int
    char_end: int
    embedding: npt.NDArray[np.float32] | None = None  # the stored vector, when asked for


@dataclass(frozen=True)
class StoredDocument:
    document: DocumentRecord
    chunks: list[StoredChunk] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.document.id

    @property
    def metadata(self) -> dict[str, Any]:
        return self.document.metadata

    @property
    def text(self) -> str:
        """The chunks' texts in order, one per line."""
        return "\n".join(c.text for c in self.chunks)


def write_documents(
    writer: DocumentWriter,
    documents: Sequence[DocumentInput],
    guard: Callable[[], AbstractContextManager[None]],
    engine: SyncEngine | None,
) -> list[WriteResult]:
    """Embed the new chunks of all `documents` together, store each (its own transaction) inside `guard`
    (the library's record of failing writes), then let `engine` catch up once (None: the caller syncs)."""
    with guard():
        results = _write(writer, documents)
    if engine is not None:
        engine.sync("catch_up")
    return results


def _write(writer: DocumentWriter, documents: Sequence[DocumentInput]) -> list[WriteResult]:
    identities = [document_identity(document_id=d.document_id, source=d.source) for d in documents]
    known = [writer.find_document(d.document_id, i) for d, i in zip(documents, identities)]
    writer.embed_new([(k.id if k else d.document_id, d.chunks) for d, k in zip(documents, known)])
    return [
        writer.write(
            d.chunks,
            identity=identity,
            document_id=d.document_id,
            filename=d.filename,
            source=d.source,
            content_type=d.content_type,
            content_hash=d.content_hash,
            metadata=d.metadata,
        )
        for d, identity in zip(documents, identities)
    ]


def read_documents(
    db: Database, collection: str, ids: Sequence[str] | SearchFilters, vectors: bool = False
) -> list[StoredDocument]:
    """The documents of `collection` among `ids`, in the order asked (missing ids and repeats left out), or those
    matching filters (on document metadata, ids, content types, dates), oldest first."""
    if isinstance(ids, str):
        ids = [ids]
    with db.connection() as conn:
        if isinstance(ids, SearchFilters):
            ids = document_ids_where(conn, collection, *filter_clause(conn, ids))
        found = documents_with_chunks(conn, collection, ids, vectors)
    out = []
    for document_id in dict.fromkeys(ids):
        if document_id in found:
            doc, chunks, embeddings = found[document_id]
            out.append(StoredDocument(doc, [_stored(c, embeddings.get(c.id)) for c in chunks]))
    return out


def _stored(c: ChunkRecord, embedding: npt.NDArray[np.float32] | None) -> StoredChunk:
    return StoredChunk(c.id, c.ordinal, c.text, c.heading, c.metadata, c.page, c.char_start, c.char_end, embedding)
