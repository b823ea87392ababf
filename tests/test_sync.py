"""The sync engine against real SQLite and PostgreSQL: restart, loss, corruption,
foreign snapshots, plain-SQL writers, silent drift."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from docqa.app import Docqa
from docqa.config import Settings
from docqa.embedders.hash import HashEmbedder
from tests.conftest import random_unit
from tests.helpers import TOPICS, RawSQL, make_chunks


class CountingEmbedder(HashEmbedder):
    def __init__(self) -> None:
        super().__init__(384)
        self.calls = 0

    def embed(self, texts):
        self.calls += len(texts)
        return super().embed(texts)


def open_store(settings: Settings, embedder=None) -> Docqa:
    return Docqa.open(settings, embedder=embedder or HashEmbedder())


def fill(store: Docqa, docs: int = 3, sync: bool = True) -> list[str]:
    ids = []
    for d in range(docs):
        texts = [f"{t} (part {d})" for t in TOPICS]
        ids.append(store.add_document(make_chunks(texts), filename=f"doc{d}.txt", sync=sync).document_id)
    return ids


def filled_store(settings: Settings, docs: int = 3) -> Docqa:
    """A store with `docs` documents of 10 chunks, synced (snapshot saved)."""
    store = open_store(settings)
    store.sync()
    fill(store, docs)
    store.sync()
    return store


def snapshot_dir(settings: Settings) -> Path:
    return settings.index_dir / settings.collection


def results(store: Docqa, queries=("vaccine storage temperature", "bicycle chain rain", "audit logs years")):
    return [[(h.chunk_id, round(h.score, 5)) for h in store.search(q, k=5)] for q in queries]


def test_restart_with_good_snapshot_is_in_sync_without_rebuild_or_embedding(settings):
    store = filled_store(settings)
    before = results(store)
    store.close()

    counting = CountingEmbedder()
    again = open_store(settings, counting)
    report = again.sync()
    assert report.status == "in_sync", report
    assert report.sync_performed is False
    assert report.db_count == report.index_count == 30
    assert counting.calls == 0  # nothing re-embedded to come back
    assert results(again) == before
    again.close()


def test_deleted_index_file_is_rebuilt_with_identical_results(settings):
    store = filled_store(settings)
    before = results(store)
    store.close()
    (snapshot_dir(settings) / "index.faiss").unlink()

    again = open_store(settings)
    report = again.sync()
    assert report.status == "rebuilt" and report.index_count == 30
    assert "index.faiss is missing" in report.reason
    assert results(again) == before
    again.close()


@pytest.mark.parametrize(
    "damage",
    [
        "truncate",
        "garbage",
        "manifest_garbage",
        "foreign_db",
        "other_model",
        "other_dim",
        "hashes_garbage",
        "hashes_other_values",
        "hashes_missing",
    ],
)
def test_bad_snapshot_is_never_loaded_as_good(settings, tmp_path, damage):
    store = filled_store(settings)
    before = results(store)
    store.close()
    index_file = snapshot_dir(settings) / "index.faiss"
    manifest_file = snapshot_dir(settings) / "manifest.json"
    if damage == "truncate":
        data = index_file.read_bytes()
        index_file.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        index_file.write_bytes(np.random.default_rng(1).bytes(index_file.stat().st_size))
    elif damage == "manifest_garbage":
        manifest_file.write_text("{not json")
    elif damage.startswith("hashes_"):
        hashes_file = snapshot_dir(settings) / "hashes.npy"
        if damage == "hashes_garbage":
            hashes_file.write_bytes(np.random.default_rng(2).bytes(hashes_file.stat().st_size))
        elif damage == "hashes_other_values":  # a well-formed array of the same size that is not the one saved
            np.save(hashes_file, np.arange(30, dtype=np.uint64), allow_pickle=False)
        else:
            hashes_file.unlink()
    else:
        # a snapshot that is internally valid but made for another database / model / dim
        other = Settings(
            data_dir=tmp_path / "other",
            database_url=f"sqlite:///{tmp_path / 'other.db'}",
            embedder="hash",
            snapshot_interval_s=0,
        )
        emb = HashEmbedder(128) if damage == "other_dim" else HashEmbedder()
        if damage == "other_model":
            emb.model_id = "some-other-model"
        donor = Docqa.open(other, embedder=emb)
        donor.sync()
        fill(donor)
        donor.sync()
        donor.close()
        shutil.rmtree(snapshot_dir(settings))
        shutil.copytree(snapshot_dir(other), snapshot_dir(settings))

    again = open_store(settings)
    report = again.sync()
    assert report.status == "rebuilt", report
    assert report.index_count == 30
    assert results(again) == before
    again.close()


def test_plain_sql_inserts_updates_deletes_are_picked_up(settings):
    store = filled_store(settings, 1)
    raw = RawSQL(settings.database_url)
    doc = raw.insert_document(filename="external.txt")
    vecs = random_unit(3, seed=7)
    new_ids = [raw.insert_chunk(doc, f"external chunk {i}", vecs[i], ordinal=i) for i in range(3)]
    existing = [h.chunk_id for h in store.search("espresso machine descaling", k=1)]
    raw.update_embedding(new_ids[0], vecs[2])
    raw.delete_chunk(existing[0])
    raw.close()

    report = store.sync()
    assert report.status == "caught_up", report
    assert report.db_count == report.index_count == 10 + 3 - 1
    top = store.search(vecs[2], k=2)
    assert {h.chunk_id for h in top} == {new_ids[0], new_ids[2]}
    assert all(h.chunk_id != existing[0] for h in store.search("espresso machine descaling", k=10))
    assert store.sync().status == "in_sync"
    store.close()


def test_document_status_change_by_sql_removes_and_restores_its_vectors(settings):
    store = open_store(settings)
    store.sync()
    doc_id = fill(store, 1)[0]
    raw = RawSQL(settings.database_url)
    raw.execute("UPDATE documents SET status = 'failed' WHERE id = ?", (doc_id,))
    assert store.sync().index_count == 0
    raw.execute("UPDATE documents SET status = 'indexed' WHERE id = ?", (doc_id,))
    raw.close()
    report = store.sync()
    assert report.index_count == 10 and report.status == "caught_up"
    store.close()


def test_silent_drift_with_equal_count_is_repaired_by_id(settings):
    store = filled_store(settings)
    victim = store.search("vaccine storage temperature", k=1)[0].chunk_id
    raw = RawSQL(settings.database_url)
    new_vec = random_unit(1, seed=3)[0]
    raw.update_embedding_silently(victim, new_vec)
    raw.close()

    report = store.sync()
    assert report.status == "repaired", report
    assert report.repaired == 1 and report.db_count == report.index_count == 30
    assert "digest" in report.reason
    assert store.search(new_vec, k=1)[0].chunk_id == victim
    assert store.sync().status == "in_sync"
    store.close()


def test_silent_drift_while_stopped_is_repaired_at_startup(settings):
    """The startup path (snapshot read on a second thread while the DB computes its digest) finds it too."""
    store = filled_store(settings)
    victim = store.search("bicycle chain rain", k=1)[0].chunk_id
    store.close()
    raw = RawSQL(settings.database_url)
    new_vec = random_unit(1, seed=5)[0]
    raw.update_embedding_silently(victim, new_vec)
    raw.close()

    again = open_store(settings)
    report = again.sync()
    assert report.status == "repaired" and report.repaired == 1, report
    assert again.search(new_vec, k=1)[0].chunk_id == victim
    again.close()


def test_check_mode_changes_nothing_and_reports_drift(settings):
    store = filled_store(settings, 1)
    victim = store.search("bicycle chain rain", k=1)[0].chunk_id
    store.close()
    raw = RawSQL(settings.database_url)
    raw.update_embedding_silently(victim, random_unit(1, seed=9)[0])
    raw.close()
    manifest_before = (snapshot_dir(settings) / "manifest.json").read_text()

    checker = open_store(settings)
    report = checker.sync("check")
    # what a sync would do, done by none: the status it would reach, not performed
    assert report.status == "repaired" and report.sync_performed is False, report
    assert report.repaired == 1 and report.reason.startswith("would repair 1 id(s)"), report
    assert (snapshot_dir(settings) / "manifest.json").read_text() == manifest_before
    checker.close()
    assert (snapshot_dir(settings) / "manifest.json").read_text() == manifest_before


def test_deleted_document_vectors_leave_the_index(settings):
    store = open_store(settings)
    store.sync()
    ids = fill(store, 2)
    deleted = store.delete_document(ids[0])
    assert deleted.chunks_deleted == deleted.vectors_deleted == 10 and deleted.seq > 0
    assert len(store.engine) == 10
    assert all(h.document_id == ids[1] for h in store.search("vaccine", k=20))
    store.close()


def test_restored_older_database_is_detected(settings):
    store = filled_store(settings, 1)
    store.close()
    # simulate a restore: the log is now behind the snapshot's applied seq
    raw = RawSQL(settings.database_url)
    raw.execute("DELETE FROM index_changes WHERE seq > 3")
    raw.close()
    again = open_store(settings)
    report = again.sync()
    assert report.status == "rebuilt" and "restored" in report.reason
    again.close()


def test_compacted_log_forces_rebuild(settings):
    store = filled_store(settings, 1)
    store.close()
    writer = open_store(settings)
    fill(writer, 1, sync=False)  # 10 more changes the snapshot has not seen
    from docqa.storage import changes

    with writer.db.connection() as conn:
        changes.compact(conn, keep=2)
    writer.db.close()
    again = open_store(settings)
    report = again.sync()
    assert report.status == "rebuilt" and "compacted" in report.reason
    assert report.index_count == 20
    again.close()


def test_manifest_records_what_the_design_requires(settings):
    store = filled_store(settings, 1)
    store.close()
    manifest = json.loads((snapshot_dir(settings) / "manifest.json").read_text())
    for key in (
        "format_version",
        "db_identity",
        "collection",
        "applied_seq",
        "model",
        "dim",
        "metric",
        "index_type",
        "count",
        "digest",
        "row_hash",
        "files",
        "created_at",
    ):
        assert key in manifest
    assert manifest["count"] == 10 and manifest["model"] == "hash-384" and manifest["dim"] == 384
    assert manifest["files"]["index.faiss"]["xxh3"]


def test_opening_with_another_embedder_is_a_clear_error(settings):
    store = open_store(settings)
    fill(store, 1)
    store.close()
    from docqa.errors import EmbedderMismatch

    with pytest.raises(EmbedderMismatch) as info:
        Docqa.open(settings, embedder=HashEmbedder(128))
    assert "reembed" in info.value.message and "hash-384" in info.value.message


def test_hnsw_index_tombstones_and_compacts(settings):
    hnsw = settings.replace(index_type="hnsw")
    store = open_store(hnsw)
    store.sync()
    ids = fill(store, 3)
    store.delete_document(ids[0])
    assert len(store.engine) == 20
    assert all(h.document_id != ids[0] for h in store.search("vaccine storage", k=20))
    # update every chunk of a document in place: old positions become tombstones
    raw = RawSQL(settings.database_url)
    for row in raw.execute(raw.q("SELECT id FROM chunks WHERE document_id = ?"), (ids[1],)).fetchall():
        raw.update_embedding(row[0], random_unit(1, seed=int(row[0]))[0])
    raw.close()
    report = store.sync()
    assert report.status == "caught_up" and report.index_count == 20
    assert store.engine.index.tombstones == 20
    store.close()
    again = open_store(hnsw)
    assert again.sync().status == "in_sync"
    again.close()


def test_search_filters_apply_before_ranking(settings):
    store = open_store(settings)
    store.sync()
    ids = fill(store, 3)
    from docqa.types import SearchFilters

    hits = store.search("vaccine storage temperature", k=10, filters=SearchFilters(document_ids=(ids[2],)))
    assert len(hits) == 10 and {h.document_id for h in hits} == {ids[2]}
    store.close()


def test_log_fields_named_like_logrecord_attributes_do_not_crash(caplog):
    import logging

    from docqa.logging import get_logger, log_event

    with caplog.at_level(logging.INFO, logger="docqa"):
        log_event(get_logger("docqa.test"), "uploaded", filename="a.pdf", module="x")
    assert caplog.records[-1].filename_ == "a.pdf"


def test_min_seq_never_issued_is_a_client_error_not_a_wait(settings):
    """One read-your-writes rule on every face: a seq the database never issued is InvalidInput (HTTP 422)."""
    from docqa.errors import InvalidInput

    store = open_store(settings)
    store.sync()
    seq = store.add_document(make_chunks(TOPICS[:2]), document_id="d").seq
    store.wait_applied(seq)  # issued and applied: returns at once
    with pytest.raises(InvalidInput) as info:
        store.wait_applied(seq + 10_000, timeout_s=0.2)
    assert info.value.details == {"field": "min_seq", "latest_seq": seq}
    assert "ahead of the change log" in info.value.message
    with pytest.raises(InvalidInput):
        store.search("vaccine", min_seq=seq + 10_000)
    store.close()


@pytest.mark.parametrize("damage", ["files_not_a_mapping", "manifest_is_a_directory", "digest_disagrees_with_hashes"])
def test_odd_manifests_are_rebuilt_not_raised(settings, damage):
    store = filled_store(settings)
    store.close()
    manifest_file = snapshot_dir(settings) / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    if damage == "files_not_a_mapping":
        manifest["files"] = list(manifest["files"])
        manifest_file.write_text(json.dumps(manifest))
    elif damage == "manifest_is_a_directory":
        manifest_file.unlink()
        manifest_file.mkdir()
    else:  # a valid-looking manifest whose digest is not the sum of the saved row hashes
        manifest["digest"] = f"{(int(manifest['digest'], 16) + 1) % 2**64:016x}"
        manifest_file.write_text(json.dumps(manifest))
    again = open_store(settings)
    report = again.sync()
    assert report.status == "rebuilt" and report.index_count == 30, report
    again.close()


@pytest.mark.parametrize("index_type", ["flat", "hnsw"])
def test_deep_check_finds_a_vector_that_does_not_match_its_kept_hash(settings, index_type):
    """The digest compares hashes; only the deep check sees a vector swapped under its hash (a bookkeeping bug)."""

    store = open_store(settings.replace(index_type=index_type))
    store.sync()
    fill(store, 2)
    store.sync()
    index = store.engine.index
    ids, vectors = index.contents()
    victim, right = int(ids[3]), vectors[3].copy()
    index.raw_vectors()[index.rows_of([victim])] = vectors[4]  # a vector swapped under its kept hash
    assert store.sync().status == "in_sync"  # hashes still agree: invisible to the digest
    checked = store.sync("check", deep=True)
    assert checked.status == "repaired" and not checked.sync_performed and "do not match" in checked.reason
    report = store.sync(deep=True)
    assert report.status == "repaired" and report.repaired == 1, report
    got_ids, got = store.engine.index.get(np.array([victim]))
    assert got_ids.tolist() == [victim] and np.array_equal(got[0], right)
    assert store.sync(deep=True).status == "in_sync"
    store.close()
