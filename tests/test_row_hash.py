"""Row hashes, the unit of the content proof: what each backend defines, that the
database's side agrees with docqa's re-implementation, and that no writer can skip it."""

from __future__ import annotations

import numpy as np
import pytest

from docqa.app import Docqa
from docqa.embedders.hash import HashEmbedder
from docqa.index import digest as dg
from docqa.storage import rowhash, vectors
from tests.conftest import random_unit
from tests.helpers import TOPICS, RawSQL, make_chunks

MODEL, DIM = "hash-384", 384


def members(store: Docqa) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with store.db.connection() as conn, conn.transaction(read_only=True):
        batches = list(vectors.stream_vectors(conn, "default", MODEL, DIM, batch_rows=7))
    return tuple(np.concatenate([b[i] for b in batches]) for i in range(3))  # type: ignore[return-value]


def test_pg_row_hash_matches_python_and_is_order_free():
    emb = np.arange(DIM, dtype="<f4").tobytes()
    assert rowhash.pg_row_hash(7, emb) != rowhash.pg_row_hash(8, emb)  # the id is part of it
    ids = np.array([3, 1, 2])
    vecs = random_unit(3)
    a = dg.combine(rowhash.rows(True, ids, vecs))
    b = dg.combine(rowhash.rows(True, ids[::-1], vecs[::-1]))
    assert a == b
    assert rowhash.rows(False, ids, vecs).tolist() != rowhash.rows(True, ids, vecs).tolist()


def test_streamed_hashes_and_digest_are_the_backends_hash_of_the_stored_bytes(store):
    store.add_document(make_chunks(TOPICS), filename="a.txt")
    store.add_document(make_chunks(TOPICS[:4]), filename="b.txt")
    ids, vecs, hashes = members(store)
    assert len(ids) == 14
    expected = rowhash.rows(store.db.is_pg, ids, vecs)
    assert hashes.dtype == np.uint64 and hashes.tolist() == expected.tolist()
    with store.db.connection() as conn, conn.transaction(read_only=True):
        count, digest = vectors.content_digest(conn, "default", MODEL, DIM)  # a MemberDigest unpacks as a pair
        fetched = vectors.fetch_vectors(conn, "default", MODEL, DIM, ids[::2])
        streamed = vectors.all_hashes(conn, "default", MODEL, DIM)
    assert (count, digest) == (14, dg.combine(expected))
    assert fetched[2].tolist() == expected[::2].tolist()
    assert sorted(zip(*[a.tolist() for a in streamed])) == sorted(zip(ids.tolist(), expected.tolist()))


def test_empty_collection_digest_is_zero(store):
    with store.db.connection() as conn, conn.transaction(read_only=True):
        assert tuple(vectors.content_digest(conn, "default", MODEL, DIM)) == (0, 0)


def test_pg_hash_column_cannot_be_skipped_or_forged(pg_url, tmp_path):
    """A generated column: recomputed with triggers disabled, under replication role, and never writable."""
    from docqa.config import Settings

    store = Docqa.open(Settings(data_dir=tmp_path, database_url=pg_url, embedder="hash"), embedder=HashEmbedder())
    store.add_document(make_chunks(TOPICS[:3]), filename="a.txt")
    ids, _, before = members(store)
    store.close()
    raw = RawSQL(pg_url)
    victim = int(ids[0])
    new = random_unit(1, seed=9)[0]
    raw.update_embedding_silently(victim, new)  # change-log trigger disabled
    stored = raw.scalar("SELECT embedding_hash FROM chunks WHERE id = %s", (victim,))
    assert stored & rowhash.MASK == rowhash.pg_row_hash(victim, new.astype("<f4").tobytes())
    raw.execute("SET session_replication_role = replica")  # every trigger off
    raw.execute(
        "UPDATE chunks SET embedding = %s WHERE id = %s", (random_unit(1, seed=10)[0].astype("<f4").tobytes(), victim)
    )
    stored2 = raw.scalar("SELECT embedding_hash FROM chunks WHERE id = %s", (victim,))
    assert stored2 not in (stored, int(before[0]))
    raw.execute("SET session_replication_role = origin")
    import psycopg

    with pytest.raises(psycopg.errors.GeneratedAlways):
        raw.execute("UPDATE chunks SET embedding_hash = 0 WHERE id = %s", (victim,))
    raw.close()


def test_migration_literal_is_the_documented_expression():
    """V3 keeps its own literal (migrations never change); it must be the expression rowhash documents."""
    from docqa.storage import schema_pg

    v3 = " ".join(" ".join(schema_pg.V3).split())
    assert f"GENERATED ALWAYS AS ({rowhash.PG_ROW_HASH_SQL}) STORED" in v3
