"""SQLite's stored row hashes: the cache that lets a verification skip reading every embedding.

`chunk_hashes(chunk_id, hash)` (schema MEMBERS) holds xxh3_64(embedding, seed=id) as a signed
64-bit integer. Triggers on `chunks` remove a chunk's row on every insert, delete and update of its
id or embedding, whoever writes, so a stored value is the hash of the chunk's current embedding or
absent; nothing else writes the table but `store` below.

Whenever docqa reads an embedding (a rebuild, a catch-up or repair fetch, the few unstored rows of
a verification) it hashes the bytes it read anyway; rows whose stored value is missing or
disagrees are noted on the read transaction (`note_disagreeing`), and the engine stores their
hashes after the transaction (`store`), re-reading the embeddings under the write lock so a
write that happened in between cannot leave a stale value behind. PostgreSQL needs none of
this: its `embedding_hash` is a generated column the server computes on every write.
"""

from __future__ import annotations

import sqlite3

import numpy as np

from docqa.storage import rowhash
from docqa.storage.db import BUSY_TIMEOUT_MS, Connection

_KEY = "unhashed"
_BATCH = 2_000


def note_disagreeing(conn: Connection, ids: np.ndarray, hashes: np.ndarray, stored: list[int | None]) -> None:
    """Note (on the current read transaction) the ids whose stored hash is missing or is not `hashes`."""
    if conn.is_pg or not conn.in_snapshot or not len(ids):
        return
    known = np.fromiter((0 if s is None else s for s in stored), dtype=np.int64, count=len(stored))
    missing = np.fromiter((s is None for s in stored), dtype=bool, count=len(stored))
    bad = missing | (known != np.asarray(hashes, dtype=np.uint64).view(np.int64))
    if bad.any():
        conn.tx_cache.setdefault(_KEY, []).append(np.asarray(ids, dtype=np.int64)[bad])


def take(conn: Connection) -> np.ndarray:
    """The ids noted on this transaction (each once), forgetting them."""
    parts = conn.tx_cache.pop(_KEY, [])
    return np.unique(np.concatenate(parts)) if parts else np.empty(0, dtype=np.int64)


def store(conn: Connection, ids: np.ndarray, wait_ms: int | None = None) -> tuple[int, np.ndarray]:
    """Store the hashes of these chunks' current embeddings (SQLite), a short write transaction per
    batch. `wait_ms`: how long to wait for the write lock (default: the connection's busy timeout);
    when another writer holds it longer, the rest is left. Returns (rows written, ids left)."""
    todo = [int(x) for x in np.asarray(ids, dtype=np.int64)]
    if conn.is_pg:
        return 0, np.empty(0, dtype=np.int64)
    written = 0
    if wait_ms is not None:
        conn.execute(f"PRAGMA busy_timeout = {int(wait_ms)}")
    try:
        for start in range(0, len(todo), _BATCH):
            part = todo[start : start + _BATCH]
            try:
                with conn.transaction():
                    rows = conn.fetchall(
                        f"SELECT id, embedding FROM chunks WHERE id IN ({','.join('?' * len(part))}) "
                        "AND embedding IS NOT NULL",
                        part,
                    )
                    updates = [(rowhash.signed(rowhash.xxh3_one(row_id, blob)), row_id) for row_id, blob in rows]
                    conn.executemany("INSERT OR REPLACE INTO chunk_hashes (hash, chunk_id) VALUES (?, ?)", updates)
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc):
                    raise
                return written, np.asarray(todo[start:], dtype=np.int64)  # a writer is busy: later
            written += len(updates)
    finally:
        if wait_ms is not None:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return written, np.empty(0, dtype=np.int64)
