"""Write one big document in batches, visible only when whole.

    staged = StagedWrite(writer, incoming, existing_id)
    staged.begin()                  # a staging row (status `processing`), replacing what a killed attempt left
    staged.add(batch) ...           # embed the batch (outside any transaction), then commit its rows
    result = staged.commit()        # one transaction: the chunks move to the document, which becomes `indexed`
    staged.discard()                # on failure or cancel: the staged rows go, the old version stays

The staging row's identity is derived from the document's (storage/staging.py), so the identity
rule stays the one rule: a retry of the same document replaces its own staged rows, and two
attempts at one document cannot both stage (the later replaces the earlier, whose next batch then
finds its row gone: Conflict). Until `commit` the stored version, if any, is untouched and the
only one searchable. Chunks whose content the stored version has keep its embedding (copied, not
recomputed); their rows are new, so an update re-adds its vectors to the index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from docqa.errors import Conflict
from docqa.ingest.document import PARSER_VERSION
from docqa.ingest.writer import EMBED_CALL_TEXTS, DocumentWriter, embedding_text, same_document
from docqa.storage import changes, repo, staging
from docqa.types import ChunkInput, WriteResult


@dataclass
class Incoming:
    """The document being written: what identifies it and what is stored about it."""

    identity: str
    document_id: str | None
    filename: str
    source: str
    content_type: str
    content_hash: str
    metadata: dict[str, Any]


class StagedWrite:
    def __init__(self, writer: DocumentWriter, doc: Incoming, existing_id: str | None) -> None:
        self.writer, self.doc, self.existing_id = writer, doc, existing_id
        self.staged_id = repo.new_document_id()
        self.identity = staging.identity_of(doc.identity, doc.document_id or self.staged_id)
        self.chunks = 0
        self.embedded = 0

    def begin(self) -> None:
        w = self.writer
        with w._lock, w.db.connection() as conn, conn.transaction():
            left = staging.staged_id(conn, w.collection, self.identity)
            if left is not None:  # an attempt that was killed, or one still running (it will find its row gone)
                staging.drop(conn, left)
            repo.ensure_collection(conn, w.collection, w.model, w.dim)
            repo.upsert_document(
                conn,
                identity=self.identity,
                document_id=self.staged_id,
                collection=w.collection,
                source=self.doc.source,
                filename=self.doc.filename,
                content_type=self.doc.content_type,
                content_hash=self.doc.content_hash,
                status="processing",
                metadata=self.doc.metadata,
                new=True,
                parser_version=PARSER_VERSION,
            )

    def add(self, chunks: Sequence[ChunkInput]) -> int:
        """Embed and store one batch; returns how many of its chunks were embedded (not reused)."""
        w = self.writer
        hashes = [repo.chunk_hash(c.heading, c.text) for c in chunks]
        if self.existing_id:
            with w.db.connection() as conn:
                known = staging.embeddings_by_hash(conn, self.existing_id, hashes)
            for chunk, h in zip(chunks, hashes):
                if chunk.embedding is None and h in known:
                    chunk.embedding = np.frombuffer(known[h], dtype="<f4").astype(np.float32)
        todo = [c for c in chunks if c.embedding is None]
        for start in range(0, len(todo), EMBED_CALL_TEXTS):
            part = todo[start : start + EMBED_CALL_TEXTS]
            for chunk, vector in zip(part, w.embedder.embed([embedding_text(c) for c in part])):
                chunk.embedding = vector
        with w._lock, w.db.connection() as conn, conn.transaction():
            if not staging.touch(conn, self.staged_id):
                raise Conflict(f"{self.doc.filename}: another ingest of the same document replaced this one; retry")
            rows = [
                repo.chunk_row(conn, self.staged_id, w.collection, c, h, w.model, w.dim) for c, h in zip(chunks, hashes)
            ]
            repo.insert_chunk_rows(conn, rows)
        self.chunks += len(chunks)
        self.embedded += len(todo)
        return len(todo)

    def commit(self, metadata: dict[str, Any] | None = None) -> WriteResult:
        """Make the staged chunks the document's, in one transaction. `metadata`: final (e.g. with the title)."""
        w, doc = self.writer, self.doc
        meta = doc.metadata if metadata is None else metadata
        with w._lock, w.db.connection() as conn, conn.transaction():
            existing = w._existing(conn, doc.document_id, doc.identity, lock=True)
            if not staging.touch(conn, self.staged_id):
                raise Conflict(f"{doc.filename}: another ingest of the same document replaced this one; retry")
            if existing is not None and same_document(existing, doc.content_hash, meta, PARSER_VERSION):
                staging.drop(conn, self.staged_id)  # another writer stored this very content meanwhile
                return WriteResult(
                    existing.id, unchanged=existing.chunks_total, seq=changes.max_seq(conn), outcome="unchanged"
                )
            fresh = existing is None and not doc.document_id
            target = existing.id if existing else (doc.document_id or self.staged_id)
            if fresh:  # the staging row becomes the document: no chunk row rewritten
                added, removed = staging.promote(conn, self.staged_id, doc.identity or f"doc:{self.staged_id}"), 0
            repo.upsert_document(
                conn,
                identity=doc.identity,
                document_id=target,
                collection=w.collection,
                source=doc.source,
                filename=doc.filename,
                content_type=doc.content_type,
                content_hash=doc.content_hash,
                status="indexed",
                metadata=meta,
                new=existing is None and not fresh,
                parser_version=PARSER_VERSION,
            )
            if not fresh:
                added, removed = staging.adopt(conn, self.staged_id, target)
            seq = changes.max_seq(conn)
        outcome = "added" if existing is None or existing.status != "indexed" else "updated"
        return WriteResult(target, added=added, removed=removed, seq=seq, outcome=outcome)

    def discard(self) -> None:
        """Remove the staged rows (the stored version, if any, was never touched)."""
        w = self.writer
        with w._lock, w.db.connection() as conn, conn.transaction():
            if conn.scalar("SELECT 1 FROM documents WHERE id = ?", (self.staged_id,)) is not None:
                staging.drop(conn, self.staged_id)
