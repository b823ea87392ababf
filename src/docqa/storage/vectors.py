"""Streaming stored embeddings out of the database, fast and in bounded memory.

Which chunks are members of a collection's index is docqa.storage.membership's one definition,
asked in shapes that do not depend on planner statistics; this module reads the members.

Every vector comes with its row hash (docqa.storage.rowhash): PostgreSQL's generated
`embedding_hash` column; on SQLite computed here from the bytes read (xxh3), with the stored
`chunk_hashes` table a cache of it that docqa.storage.stored_hashes keeps filled. The content
digest of all members (`content_digest`) is one aggregate on PostgreSQL, and on SQLite a sum of
the stored values from a covering index plus a hash of the few rows whose value is not stored.

PostgreSQL: binary COPY read straight from libpq (docqa.storage.pgcopy), parsed with a
fixed-width numpy record type (no per row Python objects). SQLite: a cursor fetched in batches,
joined into one buffer per batch. Vectors come as float32[n, dim] arrays whose rows are
contiguous; the array itself may be strided (a view into the batch buffer), so a consumer that
needs one block calls np.ascontiguousarray.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from docqa.storage import rowhash, stored_hashes
from docqa.storage.db import Connection, Row, raise_if_unavailable
from docqa.storage.membership import MEMBERSHIP, count_members, members_by_id, params, pg_scan, sqlite_scan
from docqa.storage.pgcopy import copy_records

__all__ = [
    "MEMBERSHIP",
    "Batch",
    "MemberDigest",
    "all_hashes",
    "content_digest",
    "count_vectors",
    "fetch_vectors",
    "stream_hashes",
    "stream_vectors",
]

Batch = tuple[np.ndarray, np.ndarray, np.ndarray]  # ids int64[n], vectors float32[n, dim], row hashes uint64[n]


def count_vectors(conn: Connection, collection: str, model: str, dim: int) -> int:
    return count_members(conn, collection, model, dim)


def stream_vectors(
    conn: Connection, collection: str, model: str, dim: int, batch_rows: int = 20_000
) -> Iterator[Batch]:
    """Yield (ids, vectors, row hashes) batches of the collection's members."""
    if conn.is_pg:
        yield from _unavailable_as_such(_stream_pg(conn, collection, model, dim, batch_rows))
    else:
        yield from _stream_sqlite(conn, collection, model, dim, batch_rows)


def _unavailable_as_such(stream: Iterator[Batch]) -> Iterator[Batch]:
    """The COPY reader talks to libpq directly, past Connection.execute: map a server that went
    away mid-stream to DatabaseUnavailable here too (a degraded report, not an unexpected error)."""
    try:
        yield from stream
    except Exception as exc:
        raise_if_unavailable(exc)
        raise


@dataclass(frozen=True)
class MemberDigest:
    """The database's side of the proof: how many members, and the sum of their row hashes."""

    count: int
    digest: int

    def __iter__(self) -> Iterator[int]:  # (count, digest), as a pair
        return iter((self.count, self.digest))


def content_digest(
    conn: Connection, collection: str, model: str, dim: int, batch_rows: int = 20_000, rehash: bool = False
) -> MemberDigest:
    """Count and digest of the collection's members: what the index must equal.

    PostgreSQL sums the generated row hashes server side (sum(bigint) is an exact numeric; mod
    2**64 it equals the sum of the unsigned hashes). SQLite sums the stored hashes from the
    covering index, in 32-bit halves (its sum() raises on 64-bit overflow), and hashes the rows
    whose value is not stored; `rehash` (the deep verification) hashes every stored embedding
    instead and notes any stored value that disagrees.
    """
    p = params(collection, model, dim)
    if conn.is_pg:
        row = conn.execute_inlined(
            pg_scan(conn, "count(*), coalesce(sum(c.embedding_hash), 0)", collection, model, dim)
        ).fetchone()
        return MemberDigest(int(row[0]), int(row[1]) & rowhash.MASK)
    if rehash:
        total, count = 0, 0
        for _, hashes in _sqlite_hashed(conn, collection, model, dim, batch_rows):
            total, count = total + int(hashes.sum(dtype=np.uint64)), count + len(hashes)
        return MemberDigest(count, total & rowhash.MASK)
    row = conn.fetchone(
        sqlite_scan(
            "count(*), count(h.hash), coalesce(sum(h.hash & 4294967295), 0), coalesce(sum(h.hash >> 32), 0)",
            covering=True,
        ),
        p,
    )
    assert row is not None
    count, stored, low, high = (int(x) for x in row)
    total = low + (high << 32)
    if stored < count:
        for _, hashes in _sqlite_hashed(conn, collection, model, dim, batch_rows, only_unstored=True):
            total += int(hashes.sum(dtype=np.uint64))
    return MemberDigest(count, total & rowhash.MASK)


def stream_hashes(
    conn: Connection, collection: str, model: str, dim: int, batch_rows: int = 20_000, rehash: bool = False
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (ids, row hashes) batches of the collection's members (finding the ids that differ); `rehash`:
    SQLite hashes every embedding instead of reading the stored values (as content_digest)."""
    if conn.is_pg:
        yield from _stream_pg_hashes(conn, collection, model, dim)
        return
    if rehash:
        yield from _sqlite_hashed(conn, collection, model, dim, batch_rows)
        return
    rows = conn.fetchall(
        sqlite_scan("c.id, h.hash", "AND h.hash IS NOT NULL", covering=True),
        params(collection, model, dim),
    )
    if rows:
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        yield ids, rowhash.as_unsigned(np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows)))
    yield from _sqlite_hashed(conn, collection, model, dim, batch_rows, only_unstored=True)


def all_hashes(
    conn: Connection, collection: str, model: str, dim: int, rehash: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Every member's (id, row hash)."""
    parts = list(stream_hashes(conn, collection, model, dim, rehash=rehash))
    if not parts:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.uint64)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def fetch_vectors(conn: Connection, collection: str, model: str, dim: int, ids: Sequence[int] | np.ndarray) -> Batch:
    """The current members among `ids` with their row hashes (absent ones are simply not returned).

    Filled batch by batch into arrays of the final size: a catch-up of a 68k-chunk upload held the rows,
    their joined bytes and the array at once (~3x its vectors); now the vectors once, plus one batch."""
    columns = "c.id, c.embedding, " + ("c.embedding_hash" if conn.is_pg else "h.hash")
    most = len(ids)  # an upper bound (members_by_id drops repeats and non-members): np.empty touches no page
    got = np.empty(most, dtype=np.int64)
    vecs = np.empty((most, dim), dtype=np.float32)
    hashes = np.empty(most, dtype=np.uint64)
    n = 0
    for rows in members_by_id(conn, collection, model, dim, ids, columns):
        part = slice(n, n + len(rows))
        got[part] = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        vecs[part] = np.frombuffer(b"".join(bytes(r[1]) for r in rows), dtype="<f4").reshape(len(rows), dim)
        if conn.is_pg:
            hashes[part] = rowhash.as_unsigned(np.fromiter((r[2] for r in rows), dtype=np.int64, count=len(rows)))
        else:
            hashes[part] = rowhash.xxh3_rows(got[part], vecs[part])
            stored_hashes.note_disagreeing(conn, got[part], hashes[part], [r[2] for r in rows])
        n += len(rows)
    return got[:n], vecs[:n], hashes[:n]


def _sqlite_hashed(
    conn: Connection, collection: str, model: str, dim: int, batch_rows: int, only_unstored: bool = False
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(ids, xxh3 row hashes) hashed from the embeddings read (all members, or those with no stored hash),
    noting every row whose stored value is missing or disagrees."""
    for ids, vecs, stored in _sqlite_rows(conn, collection, model, dim, batch_rows, only_unstored):
        hashes = rowhash.xxh3_rows(ids, vecs)
        stored_hashes.note_disagreeing(conn, ids, hashes, stored)
        yield ids, hashes


def _stream_sqlite(conn: Connection, collection: str, model: str, dim: int, batch_rows: int) -> Iterator[Batch]:
    for ids, vecs, stored in _sqlite_rows(conn, collection, model, dim, batch_rows):
        hashes = rowhash.xxh3_rows(ids, vecs)
        stored_hashes.note_disagreeing(conn, ids, hashes, stored)
        yield ids, vecs, hashes


def _sqlite_rows(
    conn: Connection, collection: str, model: str, dim: int, batch_rows: int, only_unstored: bool = False
) -> Iterator[tuple[np.ndarray, np.ndarray, list[int | None]]]:
    if only_unstored:  # by the covering index (few rows), their embeddings then by rowid
        sql = sqlite_scan("c.id", "AND h.chunk_id IS NULL", covering=True)
        todo = [r[0] for r in conn.fetchall(sql, params(collection, model, dim))]
        for start in range(0, len(todo), batch_rows):
            part = todo[start : start + batch_rows]
            rows = conn.fetchall(
                "SELECT c.id, c.embedding, NULL FROM chunks c WHERE c.id IN (" + ",".join("?" * len(part)) + ")", part
            )
            yield _sqlite_batch(rows, dim)
        return
    conn.map_for_transaction()  # the one scan that reads every wide row: through a map, until the transaction ends
    cur = conn.raw.execute(sqlite_scan("c.id, c.embedding, h.hash"), params(collection, model, dim))
    while True:
        rows = cur.fetchmany(batch_rows)
        if not rows:
            return
        batch = _sqlite_batch(rows, dim)
        del rows  # one batch of row objects less while the consumer works and the next batch is fetched
        yield batch
        del batch


def _sqlite_batch(rows: list[Row], dim: int) -> tuple[np.ndarray, np.ndarray, list[int | None]]:
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    vecs = np.frombuffer(b"".join([r[1] for r in rows]), dtype="<f4").reshape(len(rows), dim)
    return ids, vecs, [r[2] for r in rows]


def _stream_pg_hashes(
    conn: Connection, collection: str, model: str, dim: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(id, row hash) pairs packed by the server, 16 bytes each, one bytea per group of 65,536 ids.

    A COPY of 1M two-column rows is 1M protocol messages (1.7 s of client
    Python at 1M); aggregating server side makes it ~16 messages (0.55 s).
    """
    query = pg_scan(
        conn,
        "string_agg(int8send(c.id) || int8send(c.embedding_hash), ''::bytea)",
        collection,
        model,
        dim,
        "GROUP BY c.id >> 16",
    )
    try:
        with conn.raw.cursor(binary=True) as cur:
            cur.execute(query, prepare=False)
            groups = [packed for (packed,) in cur]
    except Exception as exc:
        raise_if_unavailable(exc)
        raise
    for packed in groups:
        pairs = np.frombuffer(packed, dtype=">i8").reshape(-1, 2)
        yield pairs[:, 0].astype(np.int64), rowhash.as_unsigned(pairs[:, 1].astype(np.int64))


# Heap pages whose member rows the server packs into one value: ~200 realistic rows (~300 KB); at most a few
# thousand rows even with every embedding moved out of line.
_PAGES_PER_VALUE = 64


def _stream_pg(conn: Connection, collection: str, model: str, dim: int, batch_rows: int) -> Iterator[Batch]:
    """The members' vectors: packed by the server block range by block range (PostgreSQL 14+), else one
    binary COPY message per row."""
    if conn.raw.info.server_version >= 140000:
        yield from _stream_pg_blocks(conn, collection, model, dim)
        return
    select = pg_scan(conn, "c.id, c.embedding, c.embedding_hash", collection, model, dim)
    query = b"COPY (" + select + b") TO STDOUT (FORMAT BINARY)"
    row_dtype = np.dtype(
        [("nf", ">i2"), ("l1", ">i4"), ("id", ">i8"), ("l2", ">i4"), ("v", "<f4", (dim,)), ("l3", ">i4"), ("h", ">i8")]
    )
    for data, start, n in copy_records(conn, query, row_dtype, batch_rows):
        yield _parse_pg_rows(data, start, n, row_dtype, dim)


def _stream_pg_blocks(conn: Connection, collection: str, model: str, dim: int) -> Iterator[Batch]:
    """Each range of 64 heap pages as one bytea of (id, embedding, row hash) records: a TID range scan per
    range reads exactly those pages, so the server does a sequential scan's work, and the client reads ~500
    values per 100k rows instead of 100k COPY messages, whose per-message Python (~3 us) was most of a rebuild
    (docs/benchmarks.md). The table's size is read inside the rebuild's snapshot: a row visible to it lives
    in a page that existed when the snapshot was taken, so the ranges cover every one."""
    conn.execute("LOCK TABLE chunks IN ACCESS SHARE MODE")  # no rewrite (VACUUM FULL, CLUSTER) from here on
    row = conn.fetchone("SELECT pg_relation_size('chunks') / current_setting('block_size')::bigint")
    pages = int(row[0]) if row else 0
    n = _PAGES_PER_VALUE
    member = pg_scan(
        conn,
        "string_agg(int8send(c.id) || c.embedding || int8send(c.embedding_hash), ''::bytea)",
        collection,
        model,
        dim,
        f"AND c.ctid >= ('(' || b.b || ',0)')::tid AND c.ctid < ('(' || (b.b + {n}) || ',0)')::tid",
    )
    query = (
        b"SELECT x.p FROM generate_series(0::bigint, %d, %d) AS b(b) CROSS JOIN LATERAL (%s) AS x(p) "
        b"WHERE x.p IS NOT NULL" % (pages, n, member)
    )
    record = np.dtype([("id", ">i8"), ("v", "<f4", (dim,)), ("h", ">i8")])
    with conn.raw.cursor(binary=True) as cur:
        for (packed,) in cur.stream(query):
            if len(packed) % record.itemsize:
                raise ValueError("packed member rows are not of the expected fixed layout")
            rec = np.frombuffer(packed, dtype=record)
            yield rec["id"].astype(np.int64), rec["v"], rowhash.as_unsigned(rec["h"].astype(np.int64))


def _parse_pg_rows(data: bytes, start: int, n: int, row_dtype: np.dtype, dim: int) -> Batch:
    """Ids, vectors and row hashes of `n` fixed-layout rows, without copying the vectors.

    The vectors are a read-only view into `data` (rows 26 bytes apart, each
    row itself contiguous): every consumer copies them once anyway (into the
    index) or hashes them row by row, so a contiguous copy here was pure cost.
    """
    rec = np.frombuffer(data, dtype=row_dtype, count=n, offset=start)
    if not (
        (rec["nf"] == 3).all() and (rec["l1"] == 8).all() and (rec["l2"] == dim * 4).all() and (rec["l3"] == 8).all()
    ):
        raise ValueError("COPY stream rows are not of the expected fixed layout")
    return rec["id"].astype(np.int64), rec["v"], rowhash.as_unsigned(rec["h"].astype(np.int64))
