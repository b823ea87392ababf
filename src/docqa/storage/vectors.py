"""Streaming stored embeddings out of the database, fast and in bounded memory.

A chunk belongs in a collection's index when its document is `indexed` and
its embedding is present with the collection's model and dimension. That one
definition (MEMBERSHIP) is used by rebuild, verify and catch-up alike.

PostgreSQL: binary COPY, parsed with a fixed-width numpy record type (no per
row Python objects). SQLite: a cursor fetched in batches, joined into one
buffer per batch.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from docqa.storage.db import Connection

MEMBERSHIP = (
    "FROM chunks c JOIN documents d ON d.id = c.document_id "
    "WHERE c.collection = ? AND d.status = 'indexed' AND c.model = ? AND c.dim = ? "
    "AND c.embedding IS NOT NULL AND length(c.embedding) = ?"
)

_PG_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"


def _params(collection: str, model: str, dim: int) -> tuple:
    return (collection, model, dim, dim * 4)


def count_vectors(conn: Connection, collection: str, model: str, dim: int) -> int:
    return int(conn.scalar("SELECT count(*) " + MEMBERSHIP, _params(collection, model, dim), default=0))


def stream_vectors(
    conn: Connection, collection: str, model: str, dim: int, batch_rows: int = 20_000
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (ids int64[n], vectors float32[n, dim]) batches of the collection's members."""
    if conn.is_pg:
        yield from _stream_pg(conn, collection, model, dim, batch_rows)
    else:
        yield from _stream_sqlite(conn, collection, model, dim, batch_rows)


def fetch_vectors(
    conn: Connection, collection: str, model: str, dim: int, ids: Sequence[int] | np.ndarray, batch: int = 5_000
) -> tuple[np.ndarray, np.ndarray]:
    """The current members among `ids` (absent ones are simply not returned)."""
    ids = np.asarray(ids, dtype=np.int64)
    out_ids: list[np.ndarray] = []
    out_vecs: list[np.ndarray] = []
    for start in range(0, len(ids), batch):
        part = [int(x) for x in ids[start : start + batch]]
        if conn.is_pg:
            rows = conn.fetchall("SELECT c.id, c.embedding " + MEMBERSHIP + " AND c.id = ANY(?)", (*_params(collection, model, dim), part))
        else:
            marks = ",".join("?" * len(part))
            rows = conn.fetchall(
                "SELECT c.id, c.embedding " + MEMBERSHIP + f" AND c.id IN ({marks})", (*_params(collection, model, dim), *part)
            )
        if rows:
            out_ids.append(np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)))
            out_vecs.append(np.frombuffer(b"".join(bytes(r[1]) for r in rows), dtype="<f4").reshape(len(rows), dim))
    if not out_ids:
        return np.empty(0, dtype=np.int64), np.empty((0, dim), dtype=np.float32)
    return np.concatenate(out_ids), np.ascontiguousarray(np.concatenate(out_vecs), dtype=np.float32)


def _stream_sqlite(conn: Connection, collection: str, model: str, dim: int, batch_rows: int):
    cur = conn.raw.execute("SELECT c.id, c.embedding " + MEMBERSHIP, _params(collection, model, dim))
    while True:
        rows = cur.fetchmany(batch_rows)
        if not rows:
            return
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        vecs = np.frombuffer(b"".join([r[1] for r in rows]), dtype="<f4").reshape(len(rows), dim)
        yield ids, vecs


def _stream_pg(conn: Connection, collection: str, model: str, dim: int, batch_rows: int):
    from psycopg import sql

    query = sql.SQL("COPY (SELECT c.id, c.embedding {}) TO STDOUT (FORMAT BINARY)").format(
        sql.SQL(MEMBERSHIP.replace("?", "{}")).format(*[sql.Literal(p) for p in _params(collection, model, dim)])
    )
    row_dtype = np.dtype([("nf", ">i2"), ("l1", ">i4"), ("id", ">i8"), ("l2", ">i4"), ("v", "<f4", (dim,))])
    row_size = row_dtype.itemsize
    want = row_size * batch_rows
    buf = bytearray()
    header_done = False
    with conn.raw.cursor() as cur, cur.copy(query) as copy:
        for data in copy:
            buf += data
            if not header_done and len(buf) >= 19:
                if bytes(buf[:11]) != _PG_COPY_SIGNATURE:
                    raise ValueError("unexpected COPY stream signature")
                ext = int.from_bytes(buf[15:19], "big")
                del buf[: 19 + ext]
                header_done = True
            if header_done and len(buf) >= want:
                yield _parse_pg_rows(buf, row_dtype, dim, batch_rows)
        if header_done:
            if buf[-2:] == b"\xff\xff":
                del buf[-2:]
            while len(buf) >= row_size:
                yield _parse_pg_rows(buf, row_dtype, dim, len(buf) // row_size)


def _parse_pg_rows(buf: bytearray, row_dtype: np.dtype, dim: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    size = row_dtype.itemsize * n
    rec = np.frombuffer(bytes(buf[:size]), dtype=row_dtype)
    del buf[:size]
    if not ((rec["nf"] == 2).all() and (rec["l1"] == 8).all() and (rec["l2"] == dim * 4).all()):
        raise ValueError("COPY stream rows are not of the expected fixed layout")
    return rec["id"].astype(np.int64), np.ascontiguousarray(rec["v"], dtype=np.float32)
