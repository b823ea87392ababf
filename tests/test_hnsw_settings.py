"""HNSW settings are not silently ignored once a snapshot exists (issue 11, bug 11): ef_search, a query-time
value, is applied on load and per call; a change of build parameters or of index type is reported and
applied by a rebuild."""

from __future__ import annotations

import json
import logging

import numpy as np

from docqa.index.hnsw import HnswIndex
from tests.conftest import random_unit
from tests.sync_helpers import add_docs, open_store, snapshot_dir


def _recall(index: HnswIndex, vecs: np.ndarray, queries: np.ndarray, k: int, **kw) -> float:
    truth = np.argsort(-(queries @ vecs.T), axis=1)[:, :k]
    _, got = index.search(queries, k, **kw)
    return float(np.mean([len(set(t) & set(g)) / k for t, g in zip(truth.tolist(), got.tolist())]))


def test_ef_search_decides_the_breadth_per_index_and_per_call():
    vecs, queries = random_unit(4000, dim=64, seed=1), random_unit(40, dim=64, seed=2)
    index = HnswIndex(64, m=4, ef_construction=8, ef_search=10)
    index.add(np.arange(len(vecs)), vecs, np.arange(len(vecs), dtype=np.uint64))
    narrow, wide = _recall(index, vecs, queries, 10), _recall(index, vecs, queries, 10, ef_search=400)
    assert wide > narrow + 0.1, (narrow, wide)
    assert _recall(index, vecs, queries, 10) == narrow  # the override was for that call only
    index.set_query_params({"ef_search": 400})
    assert _recall(index, vecs, queries, 10) == wide


def test_ef_search_of_the_settings_applies_to_a_loaded_snapshot(settings):
    first = settings.replace(index_type="hnsw", hnsw_ef_search=16)
    store = open_store(first)
    store.sync()
    add_docs(store, 2)
    store.close()
    wider = open_store(first.replace(hnsw_ef_search=256))
    report = wider.sync()
    assert report.status == "in_sync", report  # a query-time value: no rebuild
    assert wider.engine.index.ef_search == 256
    wider.close()


def test_changed_build_parameters_are_reported_and_rebuilt(settings, caplog):
    first = settings.replace(index_type="hnsw", hnsw_m=32)
    store = open_store(first)
    store.sync()
    add_docs(store, 2)
    store.close()
    changed = first.replace(hnsw_m=16)
    checker = open_store(changed)
    said = checker.sync("check")
    assert said.status == "rebuilt" and said.reason == "would rebuild: index parameters changed: m 32 -> 16", said
    checker.close()

    again = open_store(changed)
    with caplog.at_level(logging.INFO, logger="docqa"):
        report = again.sync()
    assert report.status == "rebuilt" and report.cause == "settings", report
    assert report.reason == "index parameters changed: m 32 -> 16"
    assert "Index settings changed: rebuilding FAISS index" in [r.getMessage() for r in caplog.records]
    assert not [r for r in caplog.records if "out of sync" in r.getMessage()]
    again.close()
    assert json.loads((snapshot_dir(settings) / "manifest.json").read_text())["index_params"]["m"] == 16
    third = open_store(changed)
    assert third.sync().status == "in_sync"
    third.close()


def test_changed_index_type_is_reported_and_rebuilt(settings):
    store = open_store(settings)
    store.sync()
    add_docs(store, 1)
    store.close()
    again = open_store(settings.replace(index_type="hnsw"))
    report = again.sync()
    assert report.status == "rebuilt" and report.reason == "index type changed: flat -> hnsw", report
    assert report.index_count == 10
    again.close()


def test_id_lookups_and_filters_agree_with_brute_force_for_dense_and_sparse_ids():
    vecs = random_unit(3000, dim=32, seed=4)
    for ids in (np.arange(3000, dtype=np.int64) * 2 + 1, np.arange(3000, dtype=np.int64) * 1_000_003 + 7):
        index = HnswIndex(32, m=8, ef_construction=40, ef_search=200)
        index.add(ids, vecs, ids.astype(np.uint64))
        index.remove(ids[:100])  # tombstones
        asked = np.concatenate([ids[50:150], [-1, 0, 10**15]])  # some removed, some never there
        present, hashes = index.hashes_of(asked)
        assert present.tolist() == ids[100:150].tolist() and hashes.tolist() == ids[100:150].tolist()
        got_ids, got = index.get(ids[[500, 7, 2999]])
        assert got_ids.tolist() == ids[[500, 2999]].tolist() and np.array_equal(got, vecs[[500, 2999]])
        allowed = ids[100::7]
        _, hits = index.search(vecs[:20], 5, allowed=allowed, ef_search=3000)  # exhaustive breadth: exact
        keep = np.isin(ids, allowed)
        truth = ids[keep][np.argsort(-(vecs[:20] @ vecs[keep].T), axis=1)[:, :5]]
        assert hits.tolist() == truth.tolist()
