"""Each stored embedding's 64-bit row hash: the unit of the content proof.

The sync engine proves the index equal to the database by comparing the sum
of the row hashes of the rows the index holds (docqa.index.digest) with the
sum over the rows the database holds. The hash is a function of the chunk id
and its embedding bytes, and the database backend defines it, because the
proof is only cheap when the database can answer it without shipping every
embedding:

- PostgreSQL (`PG_ROW_HASH`): a STORED generated column `chunks.embedding_hash`
  = the first 8 bytes of sha256(int8send(id) || embedding), big-endian, as a
  signed bigint (sha256, not md5: a PostgreSQL in FIPS mode refuses md5(),
  and every write of a chunk would fail). The server computes it on every INSERT and UPDATE from the
  row itself, so no writer can skip it: a generated column is not a trigger,
  and disabling triggers (or `session_replication_role = replica`) does not
  bypass it. Verifying 1M rows returns one aggregate instead of shipping 1.5 GB.
- SQLite (`SQLITE_ROW_HASH`): SQLite has no hash function in SQL, and a
  function registered by docqa would make every other program's writes to the
  file fail. The row hash is xxh3_64(embedding, seed=id), computed by docqa
  from the bytes it reads (~0.2 us for a 1.5 KB row) and stored in the
  `chunk_hashes` table (schema MEMBERS), from which triggers on chunks remove
  a row's value on every write of its id or embedding
  (docqa.storage.stored_hashes).

The index stores the hash read with each row and never hashes vectors itself.
`pg_row_hash` is the PostgreSQL formula in Python; tests pin the two together.
"""

from __future__ import annotations

import hashlib

import numpy as np
import xxhash

MASK = (1 << 64) - 1
PG_ROW_HASH = "sha256-64(int8(id)||embedding)"
SQLITE_ROW_HASH = "xxh3-64(embedding,seed=id)"

# The expression of PostgreSQL's generated column, as migration V3 wrote it (schema_pg keeps
# its own literal copy: a migration never changes; tests pin the two and pg_row_hash together).
PG_ROW_HASH_SQL = "('x' || encode(substring(sha256(int8send(id) || embedding) from 1 for 8), 'hex'))::bit(64)::bigint"


def name_for(is_pg: bool) -> str:
    return PG_ROW_HASH if is_pg else SQLITE_ROW_HASH


def xxh3_rows(ids: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """SQLite's row hashes: xxh3_64 of each row's float32 bytes, seeded by its id."""
    if vectors.dtype != np.dtype("<f4") or vectors.ndim != 2 or vectors.strides[1] != 4:
        vectors = np.ascontiguousarray(
            vectors, dtype="<f4"
        )  # each row must be one contiguous buffer; the array need not be
    out = np.empty(len(ids), dtype=np.uint64)
    h = xxhash.xxh3_64_intdigest
    for i, (row_id, row) in enumerate(zip(np.asarray(ids).tolist(), vectors)):
        out[i] = h(row, seed=row_id & MASK)
    return out


def xxh3_one(row_id: int, embedding: bytes) -> int:
    """SQLite's row hash of one row (unsigned), from its stored bytes."""
    return xxhash.xxh3_64_intdigest(embedding, seed=row_id & MASK)


def signed(value: int) -> int:
    """An unsigned 64-bit hash as the signed integer a database column holds."""
    return value - (1 << 64) if value >= 1 << 63 else value


def pg_row_hash(row_id: int, embedding: bytes) -> int:
    """PostgreSQL's row hash of one row as an unsigned 64-bit value (tests and tools)."""
    return int.from_bytes(hashlib.sha256((row_id & MASK).to_bytes(8, "big") + bytes(embedding)).digest()[:8], "big")


def pg_rows(ids: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype="<f4")
    return np.fromiter(
        (pg_row_hash(i, row.tobytes()) for i, row in zip(np.asarray(ids).tolist(), vectors)),
        dtype=np.uint64,
        count=len(ids),
    )


def rows(is_pg: bool, ids: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """The backend's row hashes of (id, vector) rows, computed here (what the database would say)."""
    return pg_rows(ids, vectors) if is_pg else xxh3_rows(ids, vectors)


def as_unsigned(hashes: np.ndarray) -> np.ndarray:
    """Signed bigints from the database viewed as the unsigned hashes they are."""
    return np.ascontiguousarray(hashes, dtype=np.int64).view(np.uint64)
