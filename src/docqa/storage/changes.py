"""Reading and compacting the change log (`index_changes`).

The log is written only by database triggers. Readers ask for the chunk ids
touched in a half-open seq range; the op is a hint only, because catch-up
re-reads each touched chunk's current state from `chunks`.

`meta.log_floor` marks where the log stops explaining the tables: changes at
or below it are not (or no longer) in the log. Compaction raises it, and so
does a TRUNCATE of `chunks` or of the log itself (PostgreSQL; a statement
trigger, since TRUNCATE has no rows to log): the trigger draws a fresh seq
above every logged change and makes it the floor. A reader whose position is
below the floor cannot catch up and must rebuild from the tables; `max_seq`
moves to the floor, so a follower polling it sees that something happened.
`floor_reason` says which of the two it was.
"""

from __future__ import annotations

import numpy as np

from docqa.storage.db import Connection

# The floor only ever grows: a compaction racing a TRUNCATE trigger must not lower it.
_RAISE_FLOOR = (
    "INSERT INTO meta(key, value) VALUES ('log_floor', ?) ON CONFLICT(key) DO UPDATE SET value = "
    "CASE WHEN CAST(excluded.value AS BIGINT) > CAST(meta.value AS BIGINT) THEN excluded.value ELSE meta.value END"
)


def log_floor(conn: Connection) -> int:
    """The highest seq the log no longer explains: removed by compaction or passed by a TRUNCATE (0 if neither)."""
    return int(conn.scalar("SELECT value FROM meta WHERE key = 'log_floor'", default=0))


def floor_reason(conn: Connection) -> str:
    """Why the floor is where it is, e.g. "TRUNCATE chunks at seq 42" ("" when it never moved)."""
    return str(conn.scalar("SELECT value FROM meta WHERE key = 'log_floor_reason'", default=""))


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
        current = log_floor(conn)
        floor = max(current, top - keep)
        if floor > current:
            conn.execute("DELETE FROM index_changes WHERE seq <= ?", (floor,))
            conn.execute(_RAISE_FLOOR, (str(floor),))
            conn.execute(
                "INSERT INTO meta(key, value) SELECT 'log_floor_reason', ? WHERE "
                "(SELECT value FROM meta WHERE key = 'log_floor') = ? "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (f"compacted to seq {floor}", str(floor)),
            )
        return log_floor(conn)
