"""Streaming stored embeddings out of the database, fast and in bounded memory.

A chunk belongs in a collection's index when its document is `indexed` and
its embedding is present with the collection's model and dimension. That one
definition (MEMBERSHIP) is used by rebuild, verify and catch-up alike.

Every vector comes with its row hash (docqa.storage.rowhash): PostgreSQL's
stored `embedding_hash` column, or xxh3 computed here for SQLite. The content
digest of all members (`content_digest`) is one aggregate query on
PostgreSQL; SQLite streams and hashes every embedding.

PostgreSQL: binary COPY read straight from libpq, parsed with a fixed-width
numpy record type (no per row Python objects). SQLite: a cursor fetched in
batches, joined into one buffer per batch. Vectors come as float32[n, dim]
arrays whose rows are contiguous; the array itself may be strided (a view into
the batch buffer), so a consumer that needs one block calls
np.ascontiguousarray.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from docqa.storage import rowhash
from docqa.storage.db import Connection, raise_if_unavailable

if TYPE_CHECKING:
    import psycopg

MEMBERSHIP = (
    "FROM chunks c JOIN documents d ON d.id = c.document_id "
    "WHERE c.collection = ? AND d.status = 'indexed' AND c.model = ? AND c.dim = ? "
    "AND c.embedding IS NOT NULL AND length(c.embedding) = ?"
)

_PG_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"


def _params(collection: str, model: str, dim: int) -> tuple[str, str, int, int]:
    return (collection, model, dim, dim * 4)


def count_vectors(conn: Connection, collection: str, model: str, dim: int) -> int:
    return int(conn.scalar("SELECT count(*) " + MEMBERSHIP, _params(collection, model, dim), default=0))


Batch = tuple[np.ndarray, np.ndarray, np.ndarray]  # ids int64[n], vectors float32[n, dim], row hashes uint64[n]


def stream_vectors(
    conn: Connection, collection: str, model: str, dim: int, batch_rows: int = 20_000
) -> Iterator[Batch]:
    """Yield (ids, vectors, row hashes) batches of the collection's members."""
    if conn.is_pg:
        yield from _unavailable_as_such(_stream_pg(conn, collection, model, dim, batch_rows))
    else:
        for ids, vecs in _stream_sqlite(conn, collection, model, dim, batch_rows):
            yield ids, vecs, rowhash.xxh3_rows(ids, vecs)


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
    """The database's side of the proof. `ids`/`hashes` are kept when computing the digest
    produced them anyway (SQLite), so finding the ids that differ needs no second pass."""

    count: int
    digest: int
    ids: np.ndarray | None = None
    hashes: np.ndarray | None = None

    def __iter__(self) -> Iterator[int]:  # (count, digest), as a pair
        return iter((self.count, self.digest))


def content_digest(conn: Connection, collection: str, model: str, dim: int, batch_rows: int = 20_000) -> MemberDigest:
    """Count and digest of the collection's members: what the index must equal.

    PostgreSQL sums the stored row hashes server side (sum(bigint) is an exact
    numeric; mod 2**64 it equals the sum of the unsigned hashes). SQLite
    hashes every embedding as it streams, and keeps the (id, hash) pairs
    (16 bytes a row) for a diff.
    """
    if conn.is_pg:
        row = conn.fetchall(
            "SELECT count(*), coalesce(sum(c.embedding_hash), 0) " + MEMBERSHIP, _params(collection, model, dim)
        )[0]
        return MemberDigest(int(row[0]), int(row[1]) & rowhash.MASK)
    parts = list(stream_hashes(conn, collection, model, dim, batch_rows))
    ids = np.concatenate([p[0] for p in parts]) if parts else np.empty(0, dtype=np.int64)
    hashes = np.concatenate([p[1] for p in parts]) if parts else np.empty(0, dtype=np.uint64)
    return MemberDigest(len(ids), int(hashes.sum(dtype=np.uint64)), ids, hashes)


def stream_hashes(
    conn: Connection, collection: str, model: str, dim: int, batch_rows: int = 20_000
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (ids, row hashes) batches of the collection's members (finding the ids that differ)."""
    if conn.is_pg:
        yield from _stream_pg_hashes(conn, collection, model, dim)
    else:
        for ids, vecs in _stream_sqlite(conn, collection, model, dim, batch_rows):
            yield ids, rowhash.xxh3_rows(ids, vecs)


def all_hashes(conn: Connection, collection: str, model: str, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Every member's (id, row hash)."""
    parts = list(stream_hashes(conn, collection, model, dim))
    if not parts:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.uint64)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def fetch_vectors(
    conn: Connection, collection: str, model: str, dim: int, ids: Sequence[int] | np.ndarray, batch: int = 5_000
) -> Batch:
    """The current members among `ids` with their row hashes (absent ones are simply not returned)."""
    ids = np.asarray(ids, dtype=np.int64)
    out_ids: list[np.ndarray] = []
    out_vecs: list[np.ndarray] = []
    out_hashes: list[np.ndarray] = []
    select = "SELECT c.id, c.embedding, c.embedding_hash " if conn.is_pg else "SELECT c.id, c.embedding "
    for start in range(0, len(ids), batch):
        part = [int(x) for x in ids[start : start + batch]]
        if conn.is_pg:
            rows = conn.fetchall(select + MEMBERSHIP + " AND c.id = ANY(?)", (*_params(collection, model, dim), part))
        else:
            marks = ",".join("?" * len(part))
            rows = conn.fetchall(
                select + MEMBERSHIP + f" AND c.id IN ({marks})", (*_params(collection, model, dim), *part)
            )
        if rows:
            got = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            vecs = np.frombuffer(b"".join(bytes(r[1]) for r in rows), dtype="<f4").reshape(len(rows), dim)
            out_ids.append(got)
            out_vecs.append(vecs)
            out_hashes.append(
                rowhash.as_unsigned(np.fromiter((r[2] for r in rows), dtype=np.int64, count=len(rows)))
                if conn.is_pg
                else rowhash.xxh3_rows(got, vecs)
            )
    if not out_ids:
        return np.empty(0, dtype=np.int64), np.empty((0, dim), dtype=np.float32), np.empty(0, dtype=np.uint64)
    return (
        np.concatenate(out_ids),
        np.ascontiguousarray(np.concatenate(out_vecs), dtype=np.float32),
        np.concatenate(out_hashes),
    )


def _stream_sqlite(
    conn: Connection, collection: str, model: str, dim: int, batch_rows: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    cur = conn.raw.execute("SELECT c.id, c.embedding " + MEMBERSHIP, _params(collection, model, dim))
    while True:
        rows = cur.fetchmany(batch_rows)
        if not rows:
            return
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        vecs = np.frombuffer(b"".join([r[1] for r in rows]), dtype="<f4").reshape(len(rows), dim)
        del rows  # one batch of row objects less while the consumer works and the next batch is fetched
        yield ids, vecs
        del ids, vecs


def _copy_query(conn: Connection, columns: str, collection: str, model: str, dim: int) -> bytes:
    from psycopg import sql

    return (
        sql.SQL("COPY (SELECT {} {}) TO STDOUT (FORMAT BINARY)")
        .format(
            sql.SQL(columns),
            sql.SQL(MEMBERSHIP.replace("?", "{}")).format(*[sql.Literal(p) for p in _params(collection, model, dim)]),
        )
        .as_bytes(conn.raw)
    )


def _stream_pg_hashes(
    conn: Connection, collection: str, model: str, dim: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(id, row hash) pairs packed by the server, 16 bytes each, one bytea per group of 65,536 ids.

    A COPY of 1M two-column rows is 1M protocol messages (1.7 s of client
    Python at 1M); aggregating server side makes it ~16 messages (0.55 s).
    """
    query = (
        "SELECT string_agg(int8send(c.id) || int8send(c.embedding_hash), ''::bytea) "
        + MEMBERSHIP.replace("?", "%s")
        + " GROUP BY c.id >> 16"
    )
    try:
        with conn.raw.cursor(binary=True) as cur:
            cur.execute(query, _params(collection, model, dim))
            groups = [packed for (packed,) in cur]
    except Exception as exc:
        raise_if_unavailable(exc)
        raise
    for packed in groups:
        pairs = np.frombuffer(packed, dtype=">i8").reshape(-1, 2)
        yield pairs[:, 0].astype(np.int64), rowhash.as_unsigned(pairs[:, 1].astype(np.int64))


def _stream_pg(conn: Connection, collection: str, model: str, dim: int, batch_rows: int) -> Iterator[Batch]:
    query = _copy_query(conn, "c.id, c.embedding, c.embedding_hash", collection, model, dim)
    row_dtype = np.dtype(
        [("nf", ">i2"), ("l1", ">i4"), ("id", ">i8"), ("l2", ">i4"), ("v", "<f4", (dim,)), ("l3", ">i4"), ("h", ">i8")]
    )
    for data, start, n in _copy_records(conn, query, row_dtype, batch_rows):
        yield _parse_pg_rows(data, start, n, row_dtype, dim)


def _copy_records(
    conn: Connection, query: bytes, row_dtype: np.dtype, batch_rows: int
) -> Iterator[tuple[bytes, int, int]]:
    """(buffer, offset, rows) of whole fixed-size records from a binary COPY, header checked and skipped."""
    row_size = row_dtype.itemsize
    carry = b""
    header_done = False
    for parts in _copy_out(conn.raw, query, batch_rows):
        data = carry + b"".join(parts) if carry else b"".join(parts)
        del parts  # the messages (one batch of memory) go now, not when the next batch is read
        start = 0
        if not header_done:
            if len(data) < 19:
                carry = data
                continue
            if data[:11] != _PG_COPY_SIGNATURE:
                raise ValueError("unexpected COPY stream signature")
            start = 19 + int.from_bytes(data[15:19], "big")
            header_done = True
        n = (len(data) - start) // row_size
        end = start + n * row_size
        carry = data[end:]
        if n:
            yield data, start, n
        del data
    if carry not in (b"", b"\xff\xff"):
        raise ValueError(f"COPY stream ended with {len(carry)} unparsed bytes")


def _copy_out(raw: psycopg.Connection[Any], query: bytes, batch_rows: int) -> Iterator[list[memoryview]]:
    """Run a COPY ... TO STDOUT on a psycopg connection and yield its data messages in lists of `batch_rows`.

    psycopg's own `Copy` iterator costs ~10 us of Python per message and the
    server sends one message per row, which made the client, not the server,
    the bottleneck (~50k rows/s). This loop talks to libpq directly: a non-
    blocking `get_copy_data` per row, a non-blocking read of the socket when
    libpq's buffer is empty, and a `select` (which releases the GIL, so
    searches keep running) only when the socket was empty too.
    """
    import select

    from psycopg import errors, pq

    pgconn = raw.pgconn
    enc = raw.info.encoding

    def wait(readable: bool = True) -> None:
        select.select([pgconn.socket] if readable else [], [] if readable else [pgconn.socket], [])

    def next_result() -> pq.abc.PGresult | None:
        while True:
            pgconn.consume_input()
            if not pgconn.is_busy():
                return pgconn.get_result()
            wait()

    with raw.lock:
        pgconn.send_query(query)
        while pgconn.flush():
            wait(readable=False)
        res = next_result()
        if res is None or res.status != pq.ExecStatus.COPY_OUT:
            while next_result() is not None:
                pass
            raise (
                errors.error_from_result(res, encoding=enc)
                if res is not None
                else errors.InterfaceError("COPY returned nothing")
            )
    get, consume = pgconn.get_copy_data, pgconn.consume_input
    finished = False
    try:
        while not finished:
            parts: list[memoryview] = []
            read_since_data = False
            with raw.lock:  # held while filling a batch, not across the yield (like psycopg's own Copy)
                while len(parts) < batch_rows:
                    nbytes, data = get(1)
                    if nbytes > 0:
                        parts.append(data)
                        read_since_data = False
                    elif nbytes == 0:
                        # read what the socket already holds; select() only when that was nothing
                        # (the server is usually ahead: ~100x fewer select calls, ~20% less client CPU)
                        if read_since_data:
                            wait()
                        consume()
                        read_since_data = True
                    elif nbytes == -1:
                        finished = True
                        break
                    else:
                        raise errors.OperationalError(f"COPY failed: {pgconn.get_error_message()}")
            if parts:
                yield parts
    finally:
        with raw.lock:
            if not finished:  # the consumer stopped early or the stream failed: drain so the connection stays usable
                while get(0)[0] >= 0:
                    pass
            last = None
            while (res := next_result()) is not None:
                last = res
    if last is not None and last.status != pq.ExecStatus.COMMAND_OK:
        raise errors.error_from_result(last, encoding=enc)


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
