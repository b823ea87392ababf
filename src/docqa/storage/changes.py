"""Reading and compacting the change log (`index_changes`).

The log is written only by database triggers. Readers ask for the chunk ids
touched in a half-open seq range; the op is a hint only, because catch-up
re-reads each touched chunk's current state from `chunks`.
"""

from __future__ import annotations

import numpy as np

from docqa.storage.db import Connection


def log_floor(conn: Connection) -> int:
    """The highest seq removed by compaction (0 if never compacted)."""
    return int(conn.scalar("SELECT value FROM meta WHERE key = 'log_floor'", default=0))


def max_seq(conn: Connection) -> int:
    """The newest committed seq visible to this connection's snapshot."""
    top = int(conn.scalar("SELECT max(seq) FROM index_changes", default=0))
    return max(top, log_floor(conn))


def changed_chunk_ids(conn: Connection, collection: str, after: int, upto: int) -> np.ndarray:
    rows = conn.fetchall(
        "SELECT DISTINCT chunk_id FROM index_changes WHERE collection = ? AND seq > ? AND seq <= ?",
        (collection, after, upto),
    )
    return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))


def pending_changes(conn: Connection, collection: str, after: int) -> int:
    return int(
        conn.scalar(
            "SELECT count(*) FROM index_changes WHERE collection = ? AND seq > ?", (collection, after), default=0
        )
    )


def compact(conn: Connection, keep: int) -> int:
    """Drop all but the newest `keep` change rows. Returns the new floor.

    A snapshot whose applied seq is below the floor can no longer catch up and
    is rebuilt instead; the floor is recorded so that case is detected.
    """
    with conn.transaction():
        top = int(conn.scalar("SELECT max(seq) FROM index_changes", default=0))
        floor = max(log_floor(conn), top - keep)
        if floor > log_floor(conn):
            conn.execute("DELETE FROM index_changes WHERE seq <= ?", (floor,))
            conn.execute(
                "INSERT INTO meta(key, value) VALUES ('log_floor', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (str(floor),),
            )
        return floor
