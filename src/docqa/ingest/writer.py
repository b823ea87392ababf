"""The one write path for documents: embed only what is new, then store document and chunks together.

Every face writes through here: the chunk API (`POST /api/v1/index/`), file
ingest (CLI and upload) and the library's `add_document`. A chunk whose
(heading, text) hash the document already stores keeps its row, id and
embedding; only new content is embedded, and the stored hashes are read once
per document. Document and chunks are written in one transaction; the change
log triggers record it for the sync engine, and the returned `seq` can be
passed as `min_seq` (read-your-writes). Writers of one process are serialized
(SQLite has one writer anyway; on PostgreSQL it keeps one document's
replacement from interleaving with another's).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from docqa.embedders.base import Embedder
from docqa.errors import NotFound
from docqa.storage import changes, repo
from docqa.storage.db import Database
from docqa.types import ChunkInput, DocumentRecord, WriteResult


def embedding_text(chunk: ChunkInput) -> str:
    """What the model sees: the heading path travels with the chunk as context."""
    return f"{chunk.heading}\n{chunk.text}" if chunk.heading else chunk.text


class DocumentWriter:
    def __init__(self, db: Database, embedder: Embedder, collection: str, embed_batch_size: int = 64) -> None:
        self.db = db
        self.embedder = embedder
        self.collection = collection
        self.model = embedder.model_id
        self.dim = embedder.dim
        self.embed_batch_size = max(1, embed_batch_size)
        self._lock = threading.Lock()

    # --- reads the write path needs ------------------------------------------
    def get_document(self, document_id: str) -> DocumentRecord:
        with self.db.connection() as conn:
            doc = repo.get_document(conn, document_id)
        if doc is None or doc.collection != self.collection:
            raise NotFound(
                f"document {document_id} not found in collection {self.collection!r}", document_id=document_id
            )
        return doc

    def find_document(self, document_id: str | None = None, source: str = "") -> DocumentRecord | None:
        """The stored document an incoming one replaces: by id when given, else by source."""
        with self.db.connection() as conn:
            if document_id:
                doc = repo.get_document(conn, document_id)
                return doc if doc is not None and doc.collection == self.collection else None
            if source:
                return repo.find_document_by_source(conn, self.collection, source)
        return None

    # --- embedding ---------------------------------------------------------------
    def embed_new(self, documents: Sequence[tuple[str | None, Sequence[ChunkInput]]]) -> list[int]:
        """Embed, in shared model batches, the chunks whose content their document does not store yet.

        `documents`: (document id or None for a new one, its chunks). Returns how many chunks of
        each document were embedded. Chunks that already carry an embedding are left alone.
        """
        todo: list[tuple[int, ChunkInput]] = []
        with self.db.connection() as conn:
            for i, (document_id, chunks) in enumerate(documents):
                known = repo.existing_chunk_hashes(conn, document_id) if document_id else set()
                todo.extend(
                    (i, c) for c in chunks if c.embedding is None and repo.chunk_hash(c.heading, c.text) not in known
                )
        bs = self.embed_batch_size
        for start in range(0, len(todo), bs):
            part = todo[start : start + bs]
            vectors = self.embedder.embed([embedding_text(c) for _, c in part])
            for (_, chunk), vector in zip(part, vectors):
                chunk.embedding = vector
        counts = [0] * len(documents)
        for i, _ in todo:
            counts[i] += 1
        return counts

    # --- writes --------------------------------------------------------------------
    def write(
        self,
        chunks: Sequence[ChunkInput],
        *,
        document_id: str | None = None,
        filename: str = "",
        source: str = "",
        content_type: str = "text/plain",
        content_hash: str = "",
        metadata: dict[str, Any] | None = None,
    ) -> WriteResult:
        """Store a document and its chunks in one transaction (replacing its previous chunks)."""
        document_id = document_id or repo.new_document_id()
        if any(c.embedding is None for c in chunks):
            self.embed_new([(document_id, chunks)])
        with self._lock, self.db.connection() as conn, conn.transaction():
            repo.ensure_collection(conn, self.collection, self.model, self.dim)
            repo.upsert_document(
                conn,
                document_id=document_id,
                collection=self.collection,
                source=source,
                filename=filename,
                content_type=content_type,
                content_hash=content_hash,
                status="indexed",
                metadata=metadata,
            )
            added, removed, unchanged = repo.write_chunks(
                conn, document_id, self.collection, chunks, self.model, self.dim
            )
            seq = changes.max_seq(conn)
        return WriteResult(document_id=document_id, added=added, removed=removed, unchanged=unchanged, seq=seq)

    def record_failure(
        self,
        *,
        document_id: str | None,
        filename: str,
        source: str,
        content_type: str,
        content_hash: str,
        error: str,
        metadata: dict[str, Any] | None = None,
    ) -> str:
        """Record a document that could not be ingested (status `failed`, with the reason).

        A good version already stored is never replaced by a failure."""
        document_id = document_id or repo.new_document_id()
        with self._lock, self.db.connection() as conn, conn.transaction():
            existing = repo.get_document(conn, document_id)
            if existing is not None and existing.status == "indexed":
                return document_id
            repo.upsert_document(
                conn,
                document_id=document_id,
                collection=self.collection,
                source=source,
                filename=filename,
                content_type=content_type,
                content_hash=content_hash,
                status="failed",
                error=error,
                metadata=metadata,
            )
        return document_id

    def delete(self, document_id: str) -> tuple[DocumentRecord, int, int]:
        """Delete a document and its chunks. Returns (the document as it was, chunks deleted, change seq)."""
        with self._lock, self.db.connection() as conn, conn.transaction():
            doc = repo.get_document(conn, document_id)
            if doc is None or doc.collection != self.collection:
                raise NotFound(
                    f"document {document_id} not found in collection {self.collection!r}", document_id=document_id
                )
            n = repo.delete_document(conn, document_id)
            seq = changes.max_seq(conn)
        return doc, n, seq
