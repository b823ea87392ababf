"""Hypothesis state machine over add / update / delete (library and plain SQL),
silent drift, crash, restart, snapshot damage and sync. After every sync the
invariant holds: the index holds exactly the DB's (id, embedding) rows, and
search equals brute force over the DB rows."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from docqa.app import Docqa
from docqa.config import Settings
from docqa.embedders.hash import HashEmbedder
from docqa.index import digest as dg
from docqa.storage import rowhash, vectors
from docqa.types import ChunkInput
from tests.helpers import RawSQL

DIM = 384


def unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


class SyncMachine(RuleBasedStateMachine):
    url_factory = None  # set by the test: returns a fresh database URL

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="docqa-sm-"))
        url = type(self).url_factory(self.tmp)
        self.settings = Settings(data_dir=self.tmp / "data", database_url=url, embedder="hash", snapshot_interval_s=0)
        self.store = Docqa.open(self.settings, embedder=HashEmbedder())
        self.store.sync()
        self.raw = RawSQL(url)
        self.docs: list[str] = []
        self.synced = True

    def teardown(self) -> None:
        self.store.close()
        self.raw.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # --- writes through the library ---
    @rule(n=st.integers(1, 4), seed=st.integers(0, 10_000))
    def add_document(self, n: int, seed: int) -> None:
        chunks = [ChunkInput(text=f"s{seed} c{i}", ordinal=i, embedding=unit(seed * 10 + i)) for i in range(n)]
        self.docs.append(self.store.add_document(chunks, sync=False).document_id)
        self.synced = False

    @precondition(lambda self: self.docs)
    @rule(i=st.integers(0, 100), seed=st.integers(0, 10_000))
    def rewrite_document(self, i: int, seed: int) -> None:
        doc = self.docs[i % len(self.docs)]
        chunks = [ChunkInput(text=f"r{seed} c{j}", ordinal=j, embedding=unit(seed * 7 + j)) for j in range(2)]
        self.store.add_document(chunks, document_id=doc, sync=False)
        self.synced = False

    @precondition(lambda self: self.docs)
    @rule(i=st.integers(0, 100))
    def delete_document(self, i: int) -> None:
        doc = self.docs.pop(i % len(self.docs))
        self.store.delete_document(doc, sync=False)
        self.synced = False

    # --- writes by another program ---
    @rule(seed=st.integers(0, 10_000))
    def sql_insert(self, seed: int) -> None:
        doc = self.raw.insert_document()
        self.raw.insert_chunk(doc, f"raw {seed}", unit(seed + 50_000))
        self.docs.append(doc)
        self.synced = False

    def _any_chunk(self, i: int):
        rows = self.raw.execute("SELECT id FROM chunks ORDER BY id").fetchall()
        return rows[i % len(rows)][0] if rows else None

    @rule(i=st.integers(0, 1000), seed=st.integers(0, 10_000))
    def sql_update(self, i: int, seed: int) -> None:
        cid = self._any_chunk(i)
        if cid is not None:
            self.raw.update_embedding(cid, unit(seed + 90_000))
            self.synced = False

    @rule(i=st.integers(0, 1000))
    def sql_delete(self, i: int) -> None:
        cid = self._any_chunk(i)
        if cid is not None:
            self.raw.delete_chunk(cid)
            self.synced = False

    @rule(i=st.integers(0, 1000), seed=st.integers(0, 10_000))
    def silent_drift(self, i: int, seed: int) -> None:
        cid = self._any_chunk(i)
        if cid is not None:
            self.raw.update_embedding_silently(cid, unit(seed + 70_000))
            self.synced = False

    # --- process life ---
    @rule()
    def crash(self) -> None:
        """The process dies: nothing is saved, the next one starts from what is on disk."""
        self.store.db.close()
        self.store = Docqa.open(self.settings, embedder=HashEmbedder())
        self.synced = False

    @rule()
    def restart(self) -> None:
        self.store.close()
        self.store = Docqa.open(self.settings, embedder=HashEmbedder())
        self.synced = False

    @rule(how=st.sampled_from(["delete", "truncate", "flip"]))
    def damage_snapshot(self, how: str) -> None:
        f = self.settings.index_dir / "default" / "index.faiss"
        if not f.exists():
            return
        if how == "delete":
            f.unlink()
        elif how == "truncate":
            f.write_bytes(f.read_bytes()[:100])
        else:
            data = bytearray(f.read_bytes())
            data[len(data) // 2] ^= 0xFF
            f.write_bytes(bytes(data))
        self.store.db.close()
        self.store = Docqa.open(self.settings, embedder=HashEmbedder())
        self.synced = False

    @rule(mode=st.sampled_from(["auto", "auto", "force"]))
    def sync(self, mode: str) -> None:
        report = self.store.sync(mode)
        assert report.status != "degraded", report
        self.synced = True

    @invariant()
    def index_equals_database_after_sync(self) -> None:
        if not self.synced:
            return
        with self.store.db.connection() as conn, conn.transaction(read_only=True):
            batches = list(vectors.stream_vectors(conn, "default", "hash-384", DIM))
        ids = np.concatenate([b[0] for b in batches]) if batches else np.empty(0, np.int64)
        vecs = np.concatenate([b[1] for b in batches]) if batches else np.empty((0, DIM), np.float32)
        index = self.store.engine.index
        # the row hashes the index holds are the backend's hash of the DB's bytes, recomputed here independently
        expected_hashes = rowhash.rows(self.store.db.is_pg, ids, vecs)
        idx_ids, idx_hashes = index.content_hashes()
        assert dict(zip(idx_ids.tolist(), idx_hashes.tolist())) == dict(zip(ids.tolist(), expected_hashes.tolist()))
        assert index.digest == dg.combine(expected_hashes)
        # and the vectors it holds are the DB's (the index never hashes its own vectors, so check them directly)
        held_ids, held = index.contents()
        order = np.argsort(held_ids)
        assert np.array_equal(held_ids[order], np.sort(ids))
        assert np.array_equal(held[order], vecs[np.argsort(ids)])
        if len(ids):
            q = unit(424242)
            k = min(5, len(ids))
            scores = vecs @ q
            by_id = dict(zip(ids.tolist(), scores.tolist()))
            expected = np.sort(scores)[::-1][:k]
            hits = self.store.search(q, k=k)
            # equal vectors tie: compare the ranked scores, and each hit's score with brute force
            assert np.allclose([h.score for h in hits], expected, atol=1e-5)
            assert all(abs(by_id[h.chunk_id] - h.score) < 1e-5 for h in hits)


@pytest.mark.slow
def test_sync_state_machine(db_url, pg_server):
    if db_url.startswith("postgres"):
        SyncMachine.url_factory = staticmethod(lambda tmp: pg_server.new_database())
    else:
        SyncMachine.url_factory = staticmethod(lambda tmp: f"sqlite:///{tmp / 'sm.db'}")
    from hypothesis.stateful import run_state_machine_as_test

    run_state_machine_as_test(
        SyncMachine,
        settings=hsettings(
            max_examples=25,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
