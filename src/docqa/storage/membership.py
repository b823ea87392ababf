"""Which chunks belong in a collection's index, asked in shapes no planner statistics can spoil.

A chunk is a **member** of (collection, model, dim) when it has that collection, model and dim,
an embedding of `dim` float32 values, and its document exists with status `indexed`. MEMBERSHIP
states it as one join; rebuild, verify, catch-up and repair all ask exactly this.

Asked as a join, the answer's cost depends on the planner's statistics. Right after a bulk ingest
or a restore there are none, and PostgreSQL planned a nested loop that re-scanned the collection's
chunks once per document: 1,000 documents x 100,000 index rows for one digest, quadratic in the
end (docs/benchmarks.md). So no statement here joins chunks with documents:

- a scan of the whole collection (count, digest, hashes, the rebuild stream) first reads the ids
  of the indexed documents, once per read transaction, and filters chunks by them:
  - PostgreSQL: `c.document_id = ANY('{...}'::text[])` with the array inlined as a constant,
    which the executor hashes once; a prepared statement's generic plan would see a parameter
    and search the array linearly for every row, so these statements are never prepared;
  - SQLite: `c.document_id IN (SELECT id FROM documents WHERE status = 'indexed')`, a list SQLite
    materialises once; which index or scan serves the rows is fixed with INDEXED BY / NOT INDEXED;
- a fetch by id reads the chunks by id, then the status of their documents by id, and keeps the
  chunks whose document is indexed: two primary-key lookups whatever the estimates.

Every plan left to the planner is then a single-table access path, each of them linear.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from docqa.storage.db import Connection, Row

# (length(embedding) = dim * 4 also means "not NULL", and unlike IS NOT NULL it is in SQLite's covering index)
MEMBER_CHUNK = "c.collection = ? AND c.model = ? AND c.dim = ? AND length(c.embedding) = ?"
INDEXED_DOCUMENTS = "SELECT id FROM documents WHERE status = 'indexed'"
MEMBERSHIP = (  # the definition as one join: for people, tests and tools (e.g. bench/sync_cases.py floor)
    "FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.status = 'indexed' AND " + MEMBER_CHUNK
)
SQLITE_MEMBERS_INDEX = "chunks_members"  # (collection, model, dim, length(embedding), document_id)
_FETCH_BATCH = 10_000


def params(collection: str, model: str, dim: int) -> tuple[str, str, int, int]:
    return (collection, model, dim, dim * 4)


def indexed_documents(conn: Connection) -> list[str]:
    """Ids of every indexed document (any collection), read once per read-only transaction."""
    return list(_indexed(conn)[0])


def _indexed(conn: Connection) -> tuple[list[str], dict[str, int]]:
    """(ids of every indexed document, how many of them each collection holds), cached on a snapshot."""
    cached = conn.tx_cache.get("indexed_documents")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    ids: list[str] = []
    per_collection: dict[str, int] = {}
    for doc_id, collection in conn.fetchall("SELECT id, collection FROM documents WHERE status = 'indexed'"):
        ids.append(doc_id)
        per_collection[collection] = per_collection.get(collection, 0) + 1
    if conn.in_snapshot:
        conn.tx_cache["indexed_documents"] = (ids, per_collection)
    return ids, per_collection


def pg_scan(conn: Connection, columns: str, collection: str, model: str, dim: int, tail: str = "") -> bytes:
    """`SELECT columns FROM chunks c WHERE <member> [tail]` with every value inlined (PostgreSQL).

    When the collection holds most of the indexed documents, its condition is written
    `(c.collection = ...) IS TRUE`, which no index can serve, so the scan is the (parallel) sequential
    one a planner with statistics would choose too: without statistics it guessed the equality keeps
    0.5% of the rows and walked the collection index into a lossy bitmap scan of the whole heap
    (digest at 1M: 1.5-1.6 s against 0.9-1.2 s, measured side by side). A small collection among
    big ones keeps its index."""
    from psycopg import sql

    ids, per_collection = _indexed(conn)
    mostly = per_collection.get(collection, 0) * 2 >= max(1, len(ids))
    chunk_where = MEMBER_CHUNK.replace("c.collection = ?", "(c.collection = ?) IS TRUE") if mostly else MEMBER_CHUNK
    where = sql.SQL(chunk_where.replace("?", "{}")).format(*[sql.Literal(p) for p in params(collection, model, dim)])
    return (
        sql.SQL("SELECT {} FROM chunks c WHERE {} AND c.document_id = ANY({}::text[]) {}")
        .format(sql.SQL(columns), where, sql.Literal(ids), sql.SQL(tail))
        .as_bytes(conn.raw)
    )


def sqlite_scan(columns: str, tail: str = "", covering: bool = False) -> str:
    """The same for SQLite (`?` for collection, model, dim, byte length), with each row's stored hash as
    `h.hash` (NULL when not stored: docqa.storage.stored_hashes): by the covering members index (count,
    sums, hashes) or by a plain scan of the table in rowid order (embeddings)."""
    access = f"INDEXED BY {SQLITE_MEMBERS_INDEX}" if covering else "NOT INDEXED"
    return (
        f"SELECT {columns} FROM chunks c {access} LEFT JOIN chunk_hashes h ON h.chunk_id = c.id "
        f"WHERE {MEMBER_CHUNK} AND c.document_id IN ({INDEXED_DOCUMENTS}) {tail}"
    )


def count_members(conn: Connection, collection: str, model: str, dim: int) -> int:
    if conn.is_pg:
        row = conn.execute_inlined(pg_scan(conn, "count(*)", collection, model, dim)).fetchone()
    else:
        row = conn.fetchone(sqlite_scan("count(*)", covering=True), params(collection, model, dim))
    return int(row[0]) if row else 0


def members_by_id(
    conn: Connection, collection: str, model: str, dim: int, ids: Sequence[int] | np.ndarray, columns: str
) -> Iterator[list[Row]]:
    """`columns` of the members among `ids`, in id order, one batch of at most 10k ids at a time (absent or
    non-member ids are simply not returned), so a caller can keep only what it makes of each batch.
    On SQLite `h.hash` is the row's stored hash, as in sqlite_scan.

    The chunks are read by primary key alone, and the member conditions checked here: with the
    collection in the WHERE clause, a planner without statistics preferred walking every chunk of
    the collection (it guessed "collection = ?" keeps 0.5% of the rows) to looking the ids up, so a
    catch-up of 10 changes read the whole collection."""
    wanted = [int(x) for x in np.unique(np.asarray(ids, dtype=np.int64))]
    k = len([c for c in columns.split(",") if c.strip()])
    for start in range(0, len(wanted), _FETCH_BATCH):
        part = wanted[start : start + _FETCH_BATCH]
        rows = [
            r[:k] + (r[k],)
            for r in _chunks_by_id(conn, part, columns)
            if (r[k + 1], r[k + 2], r[k + 3], r[k + 4]) == (collection, model, dim, dim * 4)
        ]
        if not rows:
            continue
        indexed = _indexed_among(conn, sorted({r[-1] for r in rows}))
        yield [r[:-1] for r in rows if r[-1] in indexed]


def _chunks_by_id(conn: Connection, ids: list[int], columns: str) -> list[Row]:
    """`columns`, then document_id, collection, model, dim and the embedding's byte length, by primary key."""
    tail = "c.document_id, c.collection, c.model, c.dim, length(c.embedding)"
    if conn.is_pg:
        # sorted here, not by the server: 10k rows of 1.6 KB are over work_mem, and ORDER BY sorted them on disk
        # (a fetch of 10k ids at 1M: 2.0 s against 0.03 s of execution without it); the ids go as one text,
        # not as a list psycopg dumps element by element
        literal = "{" + ",".join(map(str, ids)) + "}"
        rows = conn.fetchall(
            f"SELECT {columns}, {tail} FROM chunks c WHERE c.id = ANY(?::bigint[])", (literal,), binary=True
        )
        return sorted(rows, key=lambda r: int(r[0]))
    # NOT INDEXED: by rowid (still allowed), never by walking an index of the whole collection
    marks = ",".join("?" * len(ids))
    return conn.fetchall(
        f"SELECT {columns}, {tail} FROM chunks c NOT INDEXED LEFT JOIN chunk_hashes h ON h.chunk_id = c.id "
        f"WHERE c.id IN ({marks}) ORDER BY c.id",
        ids,
    )


def _indexed_among(conn: Connection, documents: list[Any]) -> set[Any]:
    if conn.is_pg:
        # one JSON text, not a list psycopg dumps element by element (57 ms for 5k ids)
        rows = conn.fetchall(
            "SELECT id FROM documents WHERE id = ANY(ARRAY(SELECT jsonb_array_elements_text(?::jsonb))) "
            "AND status = 'indexed'",
            (json.dumps(documents),),
        )
    else:
        rows = []
        for start in range(0, len(documents), 500):
            part = documents[start : start + 500]
            rows += conn.fetchall(
                f"SELECT id FROM documents WHERE id IN ({','.join('?' * len(part))}) AND status = 'indexed'", part
            )
    return {r[0] for r in rows}
