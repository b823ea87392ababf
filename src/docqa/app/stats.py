"""Collection statistics: counts, model, index and sync position (`GET /api/v1/search/stats`, `docqa stats`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from docqa.storage import changes, staging, vectors
from docqa.storage.db import Database
from docqa.storage.migrate import db_identity
from docqa.sync.engine import SyncEngine
from docqa.types import SyncReport


@dataclass(frozen=True)
class Stats:
    collection: str
    total_vectors: int  # in the in-memory index
    total_chunks: int  # chunk rows of the collection
    indexable_chunks: int  # rows that belong in the index (document indexed, model and dim of the collection)
    total_documents: int
    failed_documents: int
    model: str
    dim: int
    index_type: str
    applied_seq: int
    db_seq: int
    lag: int  # change-log rows not applied yet
    db_identity: str
    database: str
    last_sync: SyncReport | None

    @property
    def embedding_model(self) -> str:  # the original service's name for it
        return self.model

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["embedding_model"] = self.model
        d["last_sync"] = self.last_sync.to_dict() if self.last_sync else None
        return d


@dataclass(frozen=True)
class IndexState:
    """The in-memory index as it stands (no database needed)."""

    ready: bool
    vectors: int
    applied_seq: int
    index_type: str
    last_sync: SyncReport | None
    snapshot_save_error: str = ""  # why the snapshot on disk could not be updated ("" when it could)


def index_state(engine: SyncEngine) -> IndexState:
    return IndexState(
        engine.ready, len(engine), engine.applied_seq, engine.index_type, engine.last_report, engine.snapshot_save_error
    )


def collect_stats(db: Database, engine: SyncEngine, collection: str, model: str, dim: int) -> Stats:
    with db.connection() as conn:
        params = (collection,)
        # a document still being written (ingest/staged.py) is not counted until it is whole
        staged = f"SELECT id FROM documents WHERE collection = ? AND {staging.IS_STAGING}"
        total_chunks = int(
            conn.scalar(
                f"SELECT count(*) FROM chunks WHERE collection = ? AND document_id NOT IN ({staged})",
                (collection, collection),
                default=0,
            )
        )
        total_documents = int(
            conn.scalar(
                f"SELECT count(*) FROM documents WHERE collection = ? AND {staging.NOT_STAGING}", params, default=0
            )
        )
        failed = int(
            conn.scalar("SELECT count(*) FROM documents WHERE collection = ? AND status = 'failed'", params, default=0)
        )
        indexable = vectors.count_vectors(conn, collection, model, dim)
        top = changes.max_seq(conn)
        lag = changes.pending_changes(conn, collection, engine.applied_seq)
        identity = db_identity(conn)
    return Stats(
        collection=collection,
        total_vectors=len(engine),
        total_chunks=total_chunks,
        indexable_chunks=indexable,
        total_documents=total_documents,
        failed_documents=failed,
        model=model,
        dim=dim,
        index_type=engine.index_type,
        applied_seq=engine.applied_seq,
        db_seq=top,
        lag=lag,
        db_identity=identity,
        database=db.describe(),
        last_sync=engine.last_report,
    )
