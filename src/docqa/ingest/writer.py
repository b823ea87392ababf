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
from dataclasses import dataclass
from typing import Any

from docqa.embedders.base import Embedder
from docqa.errors import Conflict, InvalidInput, NotFound
from docqa.ingest.identity import document_identity
from docqa.storage import changes, repo
from docqa.storage.db import Connection, Database
from docqa.types import ChunkInput, DocumentRecord, WriteResult

EMBED_CALL_TEXTS = 1024  # texts per embedder call at most (bounds the call's token and vector arrays)


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

    def find_document(self, document_id: str | None = None, identity: str = "") -> DocumentRecord | None:
        """The stored document an incoming one replaces: by its identity (ingest/identity.py), or its id."""
        with self.db.connection() as conn:
            return self._existing(conn, document_id, identity)

    def _existing(
        self, conn: Connection, document_id: str | None, identity: str, lock: bool = False
    ) -> DocumentRecord | None:
        if identity:
            found = repo.find_document_by_identity(conn, self.collection, identity, lock)
            if found is not None:
                return found
        if document_id:  # a row written before identities, or by another program
            doc = repo.get_document(conn, document_id)
            if doc is not None and doc.collection != self.collection:
                raise InvalidInput(
                    f"document id {document_id!r} is taken by collection {doc.collection!r}: ids are unique across "
                    "collections; choose another id",
                    field="document_id",
                )
            return doc
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
        # Few large calls, longest texts first: the embedder sorts each call by length and sizes its model
        # runs by tokens, so a call spanning several documents pads little (calls of 64 texts cost ~25%).
        todo.sort(key=lambda item: len(item[1].text) + len(item[1].heading), reverse=True)
        step = max(self.embed_batch_size, EMBED_CALL_TEXTS)
        for start in range(0, len(todo), step):
            part = todo[start : start + step]
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
        identity: str = "",
        parser_version: int = 0,
    ) -> WriteResult:
        """Store a document and its chunks in one transaction (replacing its previous chunks).

        The document is the one stored under `identity` (else `document_id`), decided inside the
        transaction: of concurrent writers of one identity, the first adds it and the others find it
        (`updated`, or `unchanged` when the same content and metadata are already there). `parser_version`:
        docqa's PARSER_VERSION when it cut the chunks from a file, 0 when they were given."""
        doc = _Incoming(
            document_id,
            identity or document_identity(document_id=document_id),
            filename,
            source,
            content_type,
            content_hash,
            metadata,
            parser_version,
        )
        place_unplaced(chunks)
        for attempt in range(WRITE_ATTEMPTS):
            try:
                return self._write(chunks, doc)
            except _NeedsEmbedding as missing:  # new content (or another writer replaced the stored rows meanwhile)
                self.embed_new([(None, missing.chunks)])
            except Conflict:  # another process inserted the same identity between our read and our insert
                if attempt == WRITE_ATTEMPTS - 1:
                    raise
        raise Conflict(f"document {doc.identity or doc.document_id}: other writers kept replacing it; retry")

    def _write(self, chunks: Sequence[ChunkInput], doc: _Incoming) -> WriteResult:
        """One attempt. Which chunks need an embedding is decided here, against the rows as this
        transaction sees them; the model never runs inside it (it raises `_NeedsEmbedding` instead)."""
        with self._lock, self.db.connection() as conn, conn.transaction():
            existing = self._existing(conn, doc.document_id, doc.identity, lock=True)
            if existing is not None and same_document(existing, doc.content_hash, doc.metadata, doc.parser_version):
                return WriteResult(
                    document_id=existing.id,
                    unchanged=existing.chunks_total,
                    seq=changes.max_seq(conn),
                    outcome="unchanged",
                )
            stored = repo.existing_chunk_hashes(conn, existing.id) if existing is not None else set()
            missing = [c for c in chunks if c.embedding is None and repo.chunk_hash(c.heading, c.text) not in stored]
            if missing:
                raise _NeedsEmbedding(missing)
            repo.ensure_collection(conn, self.collection, self.model, self.dim)
            document_id = self._store(conn, existing, doc, "indexed")
            added, removed, unchanged = repo.write_chunks(
                conn, document_id, self.collection, chunks, self.model, self.dim
            )
            seq = changes.max_seq(conn)
        outcome = "added" if existing is None or existing.status != "indexed" else "updated"
        return WriteResult(
            document_id=document_id, added=added, removed=removed, unchanged=unchanged, seq=seq, outcome=outcome
        )

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
        identity: str = "",
    ) -> str:
        """Record a document that could not be ingested (status `failed`, with the reason); returns its id.

        A good version already stored is never replaced by a failure, and a retry replaces its own
        failed row (the same identity) instead of adding another."""
        doc = _Incoming(
            document_id,
            identity or document_identity(document_id=document_id),
            filename,
            source,
            content_type,
            content_hash,
            metadata,
        )
        try:
            return self._record_failure(doc, error)
        except Conflict:  # another writer stored it meanwhile: decide again, seeing its row
            return self._record_failure(doc, error)

    def _record_failure(self, doc: _Incoming, error: str) -> str:
        with self._lock, self.db.connection() as conn, conn.transaction():
            existing = self._existing(conn, doc.document_id, doc.identity, lock=True)
            if existing is not None and existing.status == "indexed":
                return existing.id
            return self._store(conn, existing, doc, "failed", error)

    def _store(
        self, conn: Connection, existing: DocumentRecord | None, doc: _Incoming, status: str, error: str | None = None
    ) -> str:
        """Insert the document (a concurrent insert of it is a Conflict) or update the row it already has."""
        document_id = existing.id if existing else (doc.document_id or repo.new_document_id())
        repo.upsert_document(
            conn,
            identity=doc.identity,
            document_id=document_id,
            collection=self.collection,
            source=doc.source,
            filename=doc.filename,
            content_type=doc.content_type,
            content_hash=doc.content_hash,
            status=status,
            error=error,
            metadata=doc.metadata,
            new=existing is None,
            parser_version=doc.parser_version,
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


WRITE_ATTEMPTS = 4  # embedding needed, or a concurrent writer of the same identity: decide again


class _NeedsEmbedding(Exception):
    def __init__(self, chunks: list[ChunkInput]) -> None:
        super().__init__(f"{len(chunks)} chunk(s) need an embedding")
        self.chunks = chunks


@dataclass(frozen=True)
class _Incoming:
    """A document on its way in: what identifies it and what is stored about it."""

    document_id: str | None
    identity: str
    filename: str
    source: str
    content_type: str
    content_hash: str
    metadata: dict[str, Any] | None
    parser_version: int = 0


def place_unplaced(chunks: Sequence[ChunkInput]) -> None:
    """Chunks given without character offsets (all 0) get positions as if joined by newlines, in
    ordinal order, so answers can cite spans in them (what the chunk API has always done)."""
    if not chunks or any(c.char_start or c.char_end for c in chunks):
        return
    position = 0
    for chunk in sorted(chunks, key=lambda c: c.ordinal):
        chunk.char_start, chunk.char_end = position, position + len(chunk.text)
        position = chunk.char_end + 1


def same_document(
    existing: DocumentRecord, content_hash: str, metadata: dict[str, Any] | None, parser_version: int = 0
) -> bool:
    """The stored document already is this one: indexed, the same bytes, no new metadata, and its chunks cut by
    the same parser version (`PARSER_VERSION` for a document docqa parsed, 0 for one given as chunks)."""
    return (
        existing.status == "indexed"
        and bool(content_hash)
        and existing.content_hash == content_hash
        and (not metadata or metadata == existing.metadata)
        and existing.parser_version == parser_version
    )
