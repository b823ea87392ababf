"""What a snapshot directory holds after crashes and deletes (issue 11, bugs 7 and 12).

Stale temporaries and .old directories are swept at load under the writers' lock, after choosing what to
load (a complete temporary left by a kill between the two renames may be the only whole snapshot). A deleted
document's vectors are in no file once the next snapshot is saved — flat or HNSW, temporaries and .old included.
Logs at INFO from the sync engine and the index never carry document or query text.
"""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest

from tests.conftest import random_unit
from tests.helpers import RawSQL
from tests.sync_helpers import add_docs, files_holding, open_store, snapshot_dir, tree_state


def _snapshot_names(settings) -> list[str]:
    return sorted(p.name for p in settings.index_dir.iterdir() if not p.name.startswith("."))


def _applied_seq(directory) -> int:
    return int(json.loads((directory / "manifest.json").read_text())["applied_seq"])


def test_a_torn_temporary_beside_a_good_snapshot_is_swept_at_load(settings):
    store = open_store(settings)
    store.sync()
    add_docs(store, 2)
    store.close()
    root, main = settings.index_dir, snapshot_dir(settings)
    torn = root / f"{settings.collection}.tmp-4242-deadbeef"
    shutil.copytree(main, torn)
    (torn / "manifest.json").unlink()  # killed before the manifest was written
    (torn / "index.faiss").write_bytes((torn / "index.faiss").read_bytes()[:1000])
    old = root / f"{settings.collection}.old"
    shutil.copytree(main, old)  # and a .old a kill after the second rename left

    again = open_store(settings)
    report = again.sync()
    assert report.status == "in_sync", report  # nothing to save: the sweep is the load's, not a save's
    assert _snapshot_names(settings) == [settings.collection]
    again.close()


def test_a_complete_temporary_is_the_snapshot_when_the_main_one_is_gone(settings):
    """A kill between the two renames: the current snapshot was renamed to .old, the new one is still a temporary."""
    store = open_store(settings)
    store.sync()
    add_docs(store, 1, seed=1)
    store.save()
    root, main = settings.index_dir, snapshot_dir(settings)
    older = root / "older-copy"
    shutil.copytree(main, older)
    add_docs(store, 1, seed=2)
    store.close()  # the newer snapshot
    newer_seq = _applied_seq(main)
    assert newer_seq > _applied_seq(older)
    main.rename(root / f"{settings.collection}.tmp-777-0123abcd")
    older.rename(root / f"{settings.collection}.old")

    checker = open_store(settings)  # a check chooses the same, and moves nothing
    before = tree_state(root)
    assert checker.sync("check").status == "in_sync"
    assert tree_state(root) == before
    checker.close()

    again = open_store(settings)
    report = again.sync()
    assert report.status == "in_sync" and report.applied_seq == newer_seq, report  # the newest whole one
    assert _snapshot_names(settings) == [settings.collection]
    assert _applied_seq(main) == newer_seq
    again.close()
    third = open_store(settings)
    assert third.sync().status == "in_sync"
    third.close()


def test_an_invalid_main_snapshot_gives_way_to_a_valid_old_one(settings):
    store = open_store(settings)
    store.sync()
    add_docs(store, 1)
    store.close()
    root, main = settings.index_dir, snapshot_dir(settings)
    shutil.copytree(main, root / f"{settings.collection}.old")
    (main / "hashes.npy").write_bytes(b"garbage")
    again = open_store(settings)
    report = again.sync()
    assert report.status == "in_sync", report
    assert _snapshot_names(settings) == [settings.collection]
    again.close()


@pytest.mark.parametrize("index_type", ["flat", "hnsw"])
def test_deleted_vectors_are_in_no_file_once_the_next_snapshot_is_saved(settings, index_type):
    store = open_store(settings.replace(index_type=index_type))
    store.sync()
    docs = add_docs(store, 3, per_doc=20)
    store.save()
    assert files_holding(settings.data_dir, docs[0][1])  # the scan does see vectors that are there
    # a save killed before this delete left a temporary holding every vector
    shutil.copytree(snapshot_dir(settings), settings.index_dir / f"{settings.collection}.tmp-99-feedf00d")

    store.delete_document(docs[0][0])  # a delete through docqa...
    raw = RawSQL(settings.database_url)  # ...and an update by another program: the old vector must go too
    updated = int(raw.scalar(raw.q("SELECT min(id) FROM chunks WHERE document_id = ?"), (docs[1][0],)))
    old_vector = docs[1][1][0]
    raw.update_embedding(updated, random_unit(1, seed=99)[0])
    raw.close()
    report = store.sync()
    assert report.status == "caught_up" and report.index_count == 40, report
    if index_type == "hnsw":
        assert store.engine.index.tombstones == 21  # still in the graph, as tombstones
    store.save()

    gone = np.vstack([docs[0][1], old_vector[None, :]])
    assert files_holding(settings.data_dir, gone) == []
    assert files_holding(settings.data_dir, docs[2][1])  # the others are still there
    # and the index still answers right: the live vectors are found, the deleted ones are not
    hits = store.search(docs[2][1][3], k=1)
    assert hits[0].chunk_id and abs(hits[0].score - 1.0) < 1e-5
    assert all(h.document_id != docs[0][0] for h in store.search(docs[0][1][0], k=10))
    store.close()
    again = open_store(settings.replace(index_type=index_type))
    assert again.sync().status == "in_sync"
    again.close()


def test_info_logs_of_the_engine_and_the_index_carry_no_document_or_query_text(settings, caplog):
    secret_text, secret_query = "patient zebra-quokka has condition xylophone", "what about zebra-quokka"
    with caplog.at_level(logging.DEBUG, logger="docqa"):
        store = open_store(settings)
        store.sync()
        from docqa.types import ChunkInput

        doc = store.add_document([ChunkInput(text=secret_text, ordinal=0)], filename="n.txt").document_id
        store.search(secret_query, k=3)
        store.sync("force")
        store.delete_document(doc)
        store.sync("check")
        store.close()
    mine = [r for r in caplog.records if r.name.startswith(("docqa.sync", "docqa.index"))]
    assert mine
    for record in mine:
        blob = json.dumps({k: str(v) for k, v in vars(record).items()}) + record.getMessage()
        assert "zebra-quokka" not in blob and "xylophone" not in blob, record.getMessage()


def test_an_hnsw_snapshot_saved_with_tombstoned_vectors_is_scrubbed_on_the_next_start(settings):
    """Snapshots written before tombstones were zeroed (the previous release) still hold deleted vectors:
    loading one zeroes them and saves it again, with nothing else to do."""
    hnsw = settings.replace(index_type="hnsw")
    store = open_store(hnsw)
    store.sync()
    docs = add_docs(store, 2)
    store.delete_document(docs[0][0])
    index = store.engine.index
    dead = np.flatnonzero(~index.alive)
    index.raw_vectors()[dead] = docs[0][1]  # as the previous release left them
    store.engine.save(force=True)
    store.close()
    assert files_holding(settings.data_dir, docs[0][1])

    again = open_store(hnsw)
    assert again.sync().status == "in_sync"
    assert files_holding(settings.data_dir, docs[0][1]) == []
    again.close()
