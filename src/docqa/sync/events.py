"""The sync engine's log lines, in one place.

Real drift keeps the original service's wording so existing dashboards still
match (`Index sync check: DB has X embeddings, FAISS has Y vectors`, `FAISS
index out of sync! DB: X, FAISS: Y. Starting rebuild...`, `FAISS index
synchronized successfully`). A rebuild nobody should worry about — a first
build with no snapshot yet, a forced one, a change of index settings, HNSW
compaction — says so at info instead of raising the out-of-sync alarm.
Only counts, ids, seqs and reasons are logged: never document or query text.
"""

from __future__ import annotations

import logging
from typing import Any

from docqa.logging import get_logger, log_event

log = get_logger("docqa.sync")

# why a rebuild runs (SyncReport.cause): only "invalid" and "drift" are the index disagreeing with the database
FORCED, MISSING, SETTINGS, COMPACTION, INVALID, DRIFT = (
    "forced",
    "missing",
    "settings",
    "compaction",
    "invalid",
    "drift",
)


def checking(collection: str, mode: str) -> None:
    log_event(log, "Checking FAISS index synchronization with database...", collection=collection, mode=mode)


def sync_check(collection: str, db_count: int, index_count: int) -> None:
    log_event(
        log,
        f"Index sync check: DB has {db_count} embeddings, FAISS has {index_count} vectors",
        collection=collection,
        db_count=db_count,
        index_count=index_count,
    )


def in_sync(collection: str, deep: bool) -> None:
    log_event(log, "FAISS index is in sync with database, no rebuild needed", collection=collection, deep=deep)


def out_of_sync(collection: str, db_count: int, index_count: int, then: str, **fields: Any) -> None:
    log_event(
        log,
        f"FAISS index out of sync! DB: {db_count}, FAISS: {index_count}. {then}",
        logging.WARNING,
        collection=collection,
        **fields,
    )


def rebuild_starting(collection: str, cause: str, reason: str, db_count: int, index_count: int) -> None:
    """The lines before a rebuild. `index_count`: the vectors of the index being replaced (0 when none was loaded)."""
    if cause != DRIFT:  # drift found by verification has logged these already
        sync_check(collection, db_count, index_count)
    if cause == MISSING:
        log_event(log, "No index snapshot yet: building from the database", collection=collection, db_count=db_count)
    elif cause == FORCED:
        log_event(
            log,
            f"Forced FAISS index rebuild requested. DB: {db_count}, FAISS: {index_count}. Starting rebuild...",
            collection=collection,
        )
    elif cause == SETTINGS:
        log_event(log, "Index settings changed: rebuilding FAISS index", collection=collection, reason=reason)
    elif cause == COMPACTION:
        log_event(log, "Compacting HNSW tombstones: rebuilding FAISS index", collection=collection, reason=reason)
    elif cause != DRIFT:
        out_of_sync(collection, db_count, index_count, "Starting rebuild...", reason=reason)
    log_event(log, f"Found {db_count} embeddings in database, rebuilding FAISS index...", collection=collection)
    log_event(log, f"Adding {db_count} vectors to new FAISS index", collection=collection)


def synchronized(collection: str, vectors: int, processing_time_ms: float, added: int, removed: int) -> None:
    log_event(
        log,
        "FAISS index synchronized successfully",
        collection=collection,
        vectors=vectors,
        processing_time_ms=processing_time_ms,
        added=added,
        removed=removed,
    )


def swept(collection: str, names: tuple[str, ...], source: str) -> None:
    if names or source != collection:
        log_event(
            log,
            "Stale index snapshots removed",
            collection=collection,
            removed=list(names),
            restored_from=source if source != collection else None,
        )
