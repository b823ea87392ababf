"""A job's bytes in and out of the database piece by piece, so no process holds a whole upload in memory.

In: SQLite writes into a zero-filled BLOB of the file's size through its
incremental blob I/O; PostgreSQL appends the pieces to a large object and
stores it as the bytea (assembled by the server), then drops the large
object, all in the submit's transaction. Out: a worker reads `substring`s.
"""

from __future__ import annotations

import os
from typing import IO

from docqa.storage.db import Connection

PIECE = 1 << 20  # 1 MiB at a time, both ways


def store(conn: Connection, job_id: str, file: IO[bytes], piece: int | None = None) -> int:
    """Store `file` (from its offset to its end) as the job's bytes, inside the caller's transaction."""
    piece = piece or PIECE
    start = file.tell()
    size = file.seek(0, os.SEEK_END) - start
    file.seek(start)
    if conn.is_pg:
        oid = int(conn.scalar("SELECT lo_create(0)"))
        offset = 0
        while block := file.read(piece):
            conn.execute("SELECT lo_put(?, ?, ?)", (oid, offset, block))
            offset += len(block)
        conn.execute("UPDATE jobs SET data = lo_get(?) WHERE id = ?", (oid, job_id))
        conn.execute("SELECT lo_unlink(?)", (oid,))
        return offset
    conn.execute("UPDATE jobs SET data = zeroblob(?) WHERE id = ?", (size, job_id))
    rowid = int(conn.scalar("SELECT rowid FROM jobs WHERE id = ?", (job_id,)))
    written = 0
    with conn.raw.blobopen("jobs", "data", rowid) as blob:
        while written < size and (block := file.read(min(piece, size - written))):
            blob.write(block)
            written += len(block)
    return written


def copy(conn: Connection, job_id: str, out: IO[bytes], piece: int | None = None) -> int:
    """Write the job's bytes to `out` piece by piece and rewind it; returns the size."""
    piece = piece or PIECE
    size = int(conn.scalar("SELECT COALESCE(length(data), 0) FROM jobs WHERE id = ?", (job_id,), default=0))
    sub = "substring(data from ? for ?)" if conn.is_pg else "substr(data, ?, ?)"
    for first in range(1, size + 1, piece):
        value = conn.scalar(f"SELECT {sub} FROM jobs WHERE id = ?", (first, piece, job_id))
        out.write(bytes(value) if value is not None else b"")
    out.seek(0)
    return size
