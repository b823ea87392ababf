"""Rows of a document still being written: a staging document (status `processing`) and its chunks.

A big document is written in batches under a document row of its own, identity
`staging:<the document's identity>`, which no membership, search or listing counts (only
`indexed` documents are members; `list_documents` and the stats leave staging rows out). Making
it visible is one transaction (`adopt`): the chunks move to the real document, which becomes
`indexed` with them, and the staging row goes; a new document with no id asked for is simpler still
(`promote`): the staging row itself takes the identity and the status, and no chunk row is rewritten
(on PostgreSQL, an UPDATE of every row would also leave as many dead tuples). The triggers log
the batch inserts and the move or the status change, so the sync engine sees the chunks once they
are members, whoever reads the log.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from docqa.storage.db import Connection
from docqa.storage.repo import now_iso

PREFIX = "staging:"
NOT_STAGING = "substr(identity, 1, 8) <> 'staging:'"  # (no LIKE: a literal % would need escaping for psycopg)
IS_STAGING = "substr(identity, 1, 8) = 'staging:'"
_BATCH = 500


def identity_of(identity: str, document_id: str) -> str:
    """The staging identity of a document on its way in: its own identity's, so that a retry finds
    (and replaces) what an interrupted attempt left; a document without identity stages under its id."""
    return PREFIX + (identity or f"doc:{document_id}")


def staged_id(conn: Connection, collection: str, staging_identity: str) -> str | None:
    return conn.scalar(  # type: ignore[no-any-return]
        "SELECT id FROM documents WHERE collection = ? AND identity = ?", (collection, staging_identity)
    )


def drop(conn: Connection, document_id: str) -> int:
    """Delete a staging document and its chunks; how many chunks went."""
    n = int(conn.scalar("SELECT count(*) FROM chunks WHERE document_id = ?", (document_id,), default=0))
    conn.execute("DELETE FROM chunks WHERE document_id = ?", (document_id,))
    conn.execute(f"DELETE FROM documents WHERE id = ? AND {IS_STAGING}", (document_id,))
    return n


def touch(conn: Connection, document_id: str) -> bool:
    """Mark a staging row alive (a batch was written); False when it is gone (another attempt replaced it)."""
    cur = conn.execute("UPDATE documents SET updated_at = ? WHERE id = ?", (now_iso(), document_id))
    return bool(cur.rowcount)


def embeddings_by_hash(conn: Connection, document_id: str, hashes: Sequence[str]) -> dict[str, bytes]:
    """Stored embeddings of `document_id`'s chunks with these content hashes (to reuse, not recompute)."""
    found: dict[str, bytes] = {}
    wanted = list(dict.fromkeys(hashes))
    for start in range(0, len(wanted), _BATCH):
        part = wanted[start : start + _BATCH]
        rows = conn.fetchall(
            f"SELECT content_hash, embedding FROM chunks WHERE document_id = ? AND content_hash IN "
            f"({','.join('?' * len(part))}) AND embedding IS NOT NULL",
            [document_id, *part],
        )
        found.update((r[0], bytes(r[1])) for r in rows)
    return found


def adopt(conn: Connection, staged: str, target: str) -> tuple[int, int]:
    """Replace `target`'s chunks with the staged document's, and drop the staging row. (added, removed)."""
    removed = int(conn.scalar("SELECT count(*) FROM chunks WHERE document_id = ?", (target,), default=0))
    conn.execute("DELETE FROM chunks WHERE document_id = ?", (target,))
    cur = conn.execute("UPDATE chunks SET document_id = ? WHERE document_id = ?", (target, staged))
    conn.execute("DELETE FROM documents WHERE id = ?", (staged,))
    return int(cur.rowcount), removed


def promote(conn: Connection, staged: str, identity: str) -> int:
    """Make the staging document the document itself (a new one, with no id asked for): it takes the
    document's identity, and no chunk row is rewritten. How many chunks it holds."""
    conn.execute("UPDATE documents SET identity = ? WHERE id = ?", (identity, staged))
    return int(conn.scalar("SELECT count(*) FROM chunks WHERE document_id = ?", (staged,), default=0))


def drop_stale(conn: Connection, collection: str, older_than_s: float) -> int:
    """Remove staging rows nobody has written for `older_than_s` (a process killed midway); how many."""
    t = time.time() - older_than_s
    cutoff = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".000Z"  # repo.now_iso's format
    ids = [
        r[0]
        for r in conn.fetchall(
            f"SELECT id FROM documents WHERE collection = ? AND {IS_STAGING} AND updated_at < ?",
            (collection, cutoff),
        )
    ]
    for document_id in ids:
        drop(conn, document_id)
    return len(ids)
