"""SQLite's stored row hashes (schema MEMBERS): a cache that is never stale, whoever writes.

Triggers remove a chunk's row of `chunk_hashes` on every insert, delete and update of its id or
embedding; the engine stores hashes from the bytes it reads; a verification sums stored values
and hashes only the rows without one. The deep verification hashes every stored embedding again.
"""

from __future__ import annotations

import numpy as np
import pytest

from docqa.app import Docqa
from docqa.config import Settings
from docqa.embedders.hash import HashEmbedder
from docqa.storage import rowhash, vectors
from tests.conftest import random_unit
from tests.helpers import TOPICS, RawSQL, make_chunks

DIM = 384


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'docqa.db'}"


def open_lib(url: str, tmp_path) -> Docqa:
    return Docqa.open(
        Settings(data_dir=tmp_path / "data", database_url=url, embedder="hash", snapshot_interval_s=0.0),
        embedder=HashEmbedder(),
    )


def stored(raw: RawSQL) -> dict[int, int | None]:
    return dict(
        raw.execute("SELECT c.id, h.hash FROM chunks c LEFT JOIN chunk_hashes h ON h.chunk_id = c.id").fetchall()
    )


def true_hashes(raw: RawSQL) -> dict[int, int]:
    return {
        int(i): rowhash.signed(rowhash.xxh3_one(int(i), bytes(e)))
        for i, e in raw.execute("SELECT id, embedding FROM chunks").fetchall()
    }


def test_the_engine_stores_every_hash_it_computed_and_they_are_true(sqlite_url, tmp_path):
    lib = open_lib(sqlite_url, tmp_path)
    lib.add_document(make_chunks(TOPICS), filename="a.txt")  # the writer stores none; the catch-up after it does
    raw = RawSQL(sqlite_url)
    assert stored(raw) == true_hashes(raw) and None not in stored(raw).values()
    raw.execute("DELETE FROM chunk_hashes")  # e.g. rows of an upgraded database
    assert lib.sync("auto").status == "in_sync"  # hashed from the embeddings, proven, then stored
    assert stored(raw) == true_hashes(raw)
    raw.close()
    lib.close()


def test_any_write_of_an_embedding_or_a_forged_insert_clears_the_stored_hash(sqlite_url, tmp_path):
    lib = open_lib(sqlite_url, tmp_path)
    lib.add_document(make_chunks(TOPICS[:3]), filename="a.txt")
    lib.sync("auto")
    raw = RawSQL(sqlite_url)
    victim = int(raw.scalar("SELECT min(id) FROM chunks"))
    raw.update_embedding(victim, random_unit(1, DIM, seed=4)[0])
    assert stored(raw)[victim] is None
    doc = raw.execute("SELECT document_id FROM chunks WHERE id = ?", (victim,)).fetchone()[0]
    forged = int(raw.scalar("SELECT max(id) FROM chunks")) + 1
    raw.execute("INSERT INTO chunk_hashes (chunk_id, hash) VALUES (?, 12345)", (forged,))  # waiting for its row
    raw.execute(
        "INSERT INTO chunks (id, document_id, collection, ordinal, text, embedding, model, dim) "
        "VALUES (?, ?, 'default', 9, 'forged', ?, 'hash-384', 384)",
        (forged, doc, random_unit(1, DIM, seed=5)[0].astype("<f4").tobytes()),
    )
    assert stored(raw)[forged] is None
    raw.execute("DELETE FROM chunks WHERE id = ?", (victim,))
    assert raw.scalar("SELECT count(*) FROM chunk_hashes WHERE chunk_id = ?", (victim,)) == 0
    raw.execute(
        "INSERT INTO chunks (id, document_id, collection, ordinal, text, embedding, model, dim) "
        "VALUES (?, ?, 'default', 0, 'again', ?, 'hash-384', 384)",
        (victim, doc, random_unit(1, DIM, seed=6)[0].astype("<f4").tobytes()),
    )
    report = lib.sync("auto")
    assert report.status == "caught_up" and report.db_count == 4
    assert stored(raw) == true_hashes(raw)
    raw.close()
    lib.close()


def test_a_hash_written_by_hand_is_not_a_change_but_a_wrong_one_is_found_and_fixed(sqlite_url, tmp_path):
    lib = open_lib(sqlite_url, tmp_path)
    lib.add_document(make_chunks(TOPICS[:4]), filename="a.txt")
    lib.sync("auto")
    raw = RawSQL(sqlite_url)
    top = raw.scalar("SELECT max(seq) FROM index_changes")
    victim = int(raw.scalar("SELECT min(id) FROM chunks"))
    raw.execute("UPDATE chunk_hashes SET hash = 777 WHERE chunk_id = ?", (victim,))  # by hand: outside the contract
    assert raw.scalar("SELECT max(seq) FROM index_changes") == top  # not logged: the index needs nothing
    first = lib.sync("auto")  # the sum disagrees; the rows say the index was right; the cache is corrected
    assert first.status in ("repaired", "rebuilt"), first
    assert stored(raw) == true_hashes(raw)
    assert lib.sync("auto").status == "in_sync"
    raw.close()
    lib.close()


def test_a_stale_hash_behind_dropped_triggers_is_found_by_the_deep_verification(sqlite_url, tmp_path):
    """Dropping the triggers is outside what the stored hash can see (as for the change log);
    sync(deep=True) hashes every stored embedding and finds the drift anyway."""
    lib = open_lib(sqlite_url, tmp_path)
    lib.add_document(make_chunks(TOPICS[:4]), filename="a.txt")
    lib.sync("auto")
    raw = RawSQL(sqlite_url)
    victim = int(raw.scalar("SELECT min(id) FROM chunks"))
    ddl = {
        name: raw.scalar("SELECT sql FROM sqlite_master WHERE name = ?", (name,))
        for name in ("chunks_log_update", "chunks_hash_update")
    }
    for name in ddl:
        raw.execute(f"DROP TRIGGER {name}")
    raw.execute(
        "UPDATE chunks SET embedding = ? WHERE id = ?", (random_unit(1, DIM, seed=8)[0].astype("<f4").tobytes(), victim)
    )
    for sql in ddl.values():
        raw.execute(sql)
    report = lib.sync("auto", deep=True)
    assert report.status == "repaired" and report.repaired == 1, report
    assert stored(raw) == true_hashes(raw)
    assert lib.engine.index is not None
    _, held = lib.engine.index.get(np.array([victim]))  # the index now holds the new vector
    assert np.array_equal(
        held[0], np.frombuffer(raw.scalar("SELECT embedding FROM chunks WHERE id = ?", (victim,)), "<f4")
    )
    raw.close()
    lib.close()


def test_digest_from_stored_hashes_equals_hashing_every_embedding(sqlite_url, tmp_path):
    lib = open_lib(sqlite_url, tmp_path)
    lib.add_document(make_chunks(TOPICS), filename="a.txt")
    lib.sync("auto")
    raw = RawSQL(sqlite_url)
    raw.update_embedding(int(raw.scalar("SELECT max(id) FROM chunks")), random_unit(1, DIM, seed=2)[0])  # one unstored
    raw.close()
    with lib.db.connection() as conn, conn.transaction(read_only=True):
        fast = vectors.content_digest(conn, "default", "hash-384", DIM)
        full = vectors.content_digest(conn, "default", "hash-384", DIM, rehash=True)
        ids, hashes = vectors.all_hashes(conn, "default", "hash-384", DIM)
    assert tuple(fast) == tuple(full) and fast.count == len(TOPICS)
    assert sorted(ids.tolist()) == sorted(set(ids.tolist())) and len(ids) == len(TOPICS)
    assert int(hashes.sum(dtype=np.uint64)) == full.digest
    lib.close()
