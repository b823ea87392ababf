"""The container: builds and wires everything from Settings.

`Store` is the library API the CLI and the HTTP service share:

    store = Store.open(Settings(data_dir=Path("./data"), embedder="hash"))
    store.sync()                                  # prove or repair the index
    result = store.add_document(chunks=[...], filename="a.txt")
    hits = store.search("question", k=5, min_seq=result.seq)
    store.delete_document(result.document_id)
    store.close()
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from docqa.config import Settings
from docqa.embedders import Embedder, get_embedder
from docqa.errors import InvalidInput, NotFound, ServiceDegraded
from docqa.logging import get_logger
from docqa.search.vector import vector_search
from docqa.storage import changes, repo, vectors
from docqa.storage.db import Database
from docqa.storage.migrate import db_identity, migrate
from docqa.sync.engine import EngineConfig, SyncEngine
from docqa.types import ChunkInput, DocumentRecord, SearchFilters, SearchHit, SyncReport, WriteResult

log = get_logger("docqa.store")


class Store:
    def __init__(self, settings: Settings, db: Database, embedder: Embedder, model: str, dim: int) -> None:
        self.settings = settings
        self.db = db
        self.embedder = embedder
        self.collection = settings.collection
        self.model = model
        self.dim = dim
        self.engine = SyncEngine(
            db,
            EngineConfig(
                collection=self.collection,
                model=model,
                dim=dim,
                index_root=settings.index_dir,
                index_type=settings.index_type,
                index_params=self._index_params(settings),
                batch_rows=settings.sync_batch_size,
                repair_max_fraction=settings.repair_max_fraction,
                snapshot_interval_s=settings.snapshot_interval_s,
            ),
        )
        self._write_lock = threading.Lock()

    @staticmethod
    def _index_params(settings: Settings) -> dict:
        if settings.index_type == "hnsw":
            return {
                "m": settings.hnsw_m,
                "ef_construction": settings.hnsw_ef_construction,
                "ef_search": settings.hnsw_ef_search,
            }
        return {}

    @classmethod
    def open(cls, settings: Settings, embedder: Embedder | None = None, db: Database | None = None) -> Store:
        """Connect, migrate, bind the collection to its embedder. Does not sync: call `sync()`.

        Raises EmbedderMismatch when the collection was built with another embedder.
        """
        db = db or Database(settings.resolved_database_url)
        embedder = embedder or get_embedder(settings)
        with db.connection() as conn:
            migrate(conn)
            bound = repo.get_collection(conn, settings.collection)
            if bound is not None:
                with conn.transaction():
                    repo.ensure_collection(conn, settings.collection, embedder.model_id, embedder.dim)
        return cls(settings, db, embedder, embedder.model_id, embedder.dim)

    # --- sync --------------------------------------------------------------
    def sync(self, mode: str = "auto", deep: bool = False) -> SyncReport:
        return self.engine.sync(mode, deep=deep)

    def catch_up(self) -> SyncReport:
        return self.engine.sync("catch_up")

    # --- writes ------------------------------------------------------------
    def embed_missing(self, chunks: Sequence[ChunkInput], known_hashes: set[str]) -> int:
        """Embed the chunks whose content is not already stored. Returns how many were embedded."""
        todo = [c for c in chunks if c.embedding is None and repo.chunk_hash(c.heading, c.text) not in known_hashes]
        bs = max(1, self.settings.embed_batch_size)
        for start in range(0, len(todo), bs):
            part = todo[start : start + bs]
            vecs = self.embedder.embed([embedding_text(c) for c in part])
            for chunk, vec in zip(part, vecs):
                chunk.embedding = vec
        return len(todo)

    def existing_hashes(self, document_id: str) -> set[str]:
        with self.db.connection() as conn:
            return repo.existing_chunk_hashes(conn, document_id)

    def add_document(
        self,
        chunks: Sequence[ChunkInput],
        *,
        document_id: str | None = None,
        filename: str = "",
        source: str = "",
        content_type: str = "text/plain",
        content_hash: str = "",
        metadata: dict[str, Any] | None = None,
        sync: bool = True,
    ) -> WriteResult:
        """Store a document and its chunks in one transaction (replacing its previous chunks).

        Chunks whose content is unchanged keep their rows and embeddings; only
        new content is embedded. The returned `seq` can be passed as `min_seq`.
        """
        document_id = document_id or repo.new_document_id()
        self.embed_missing(chunks, self.existing_hashes(document_id))
        with self._write_lock, self.db.connection() as conn, conn.transaction():
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
        if sync:
            self.catch_up()
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
        """Record a document that could not be ingested (status `failed`, with the reason)."""
        document_id = document_id or repo.new_document_id()
        with self.db.connection() as conn, conn.transaction():
            existing = repo.get_document(conn, document_id)
            if existing is not None and existing.status == "indexed":
                return document_id  # keep the good version already stored
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

    def delete_document(self, document_id: str, sync: bool = True) -> tuple[int, int]:
        """Delete a document and its chunks. Returns (chunks deleted, change seq)."""
        with self._write_lock, self.db.connection() as conn, conn.transaction():
            doc = repo.get_document(conn, document_id)
            if doc is None or doc.collection != self.collection:
                raise NotFound(f"document {document_id} not found in collection {self.collection!r}")
            n = repo.delete_document(conn, document_id)
            seq = changes.max_seq(conn)
        if sync:
            self.catch_up()
        return n, seq

    # --- reads -------------------------------------------------------------
    def get_document(self, document_id: str) -> DocumentRecord:
        with self.db.connection() as conn:
            doc = repo.get_document(conn, document_id)
        if doc is None or doc.collection != self.collection:
            raise NotFound(f"document {document_id} not found in collection {self.collection!r}")
        return doc

    def find_by_source(self, source: str) -> DocumentRecord | None:
        with self.db.connection() as conn:
            return repo.find_document_by_source(conn, self.collection, source)

    def list_documents(self, limit: int = 1000, offset: int = 0) -> list[DocumentRecord]:
        with self.db.connection() as conn:
            return repo.list_documents(conn, self.collection, limit, offset)

    def ensure_fresh(self, min_seq: int | None, timeout_s: float = 5.0) -> None:
        """Read-your-writes: make sure the index has applied change `min_seq`, or say it has not."""
        if min_seq and self.engine.applied_seq < min_seq:
            self.catch_up()
            if not self.engine.wait_for_seq(min_seq, timeout_s):
                raise ServiceDegraded(
                    f"the index has applied change {self.engine.applied_seq}, not yet {min_seq} (min_seq); retry shortly"
                )

    def search(
        self,
        query: str | np.ndarray,
        k: int = 10,
        filters: SearchFilters | None = None,
        min_score: float | None = None,
        min_seq: int | None = None,
    ) -> list[SearchHit]:
        if k < 1:
            raise InvalidInput("k must be at least 1")
        if isinstance(query, str):
            if not query.strip():
                raise InvalidInput("query must not be empty")
            vector = self.embedder.embed_query(query)
        else:
            vector = np.asarray(query, dtype=np.float32).reshape(-1)
            if vector.shape != (self.dim,):
                raise InvalidInput(f"query vector has {vector.shape[0]} dimensions, expected {self.dim}")
        self.ensure_fresh(min_seq)
        return vector_search(self.db, self.engine, self.collection, vector, k, filters, min_score)

    def stats(self) -> dict[str, Any]:
        with self.db.connection() as conn:
            total_chunks = int(
                conn.scalar("SELECT count(*) FROM chunks WHERE collection = ?", (self.collection,), default=0)
            )
            total_documents = int(
                conn.scalar("SELECT count(*) FROM documents WHERE collection = ?", (self.collection,), default=0)
            )
            failed = int(
                conn.scalar(
                    "SELECT count(*) FROM documents WHERE collection = ? AND status = 'failed'",
                    (self.collection,),
                    default=0,
                )
            )
            indexable = vectors.count_vectors(conn, self.collection, self.model, self.dim)
            top = changes.max_seq(conn)
            lag = changes.pending_changes(conn, self.collection, self.engine.applied_seq)
            identity = db_identity(conn)
        last = self.engine.last_report
        return {
            "collection": self.collection,
            "total_vectors": len(self.engine),
            "total_chunks": total_chunks,
            "indexable_chunks": indexable,
            "total_documents": total_documents,
            "failed_documents": failed,
            "model": self.model,
            "embedding_model": self.model,
            "dim": self.dim,
            "index_type": self.engine.index_type,
            "applied_seq": self.engine.applied_seq,
            "db_seq": top,
            "lag": lag,
            "db_identity": identity,
            "database": self.db.describe(),
            "last_sync": last.to_dict() if last else None,
        }

    def close(self) -> None:
        self.engine.close()
        self.db.close()


def embedding_text(chunk: ChunkInput) -> str:
    """What the model sees: the heading path travels with the chunk as context."""
    return f"{chunk.heading}\n{chunk.text}" if chunk.heading else chunk.text
