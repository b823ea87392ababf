"""Index routes through the real app, on SQLite and PostgreSQL: write, status, delete, rebuild, live sync."""

from __future__ import annotations

import shutil
import threading
import time

from docqa.app import Docqa
from docqa.embedders.hash import HashEmbedder
from tests.helpers import TOPICS, RawSQL, make_chunks
from tests.test_api_support import assert_error, fast, index_doc, running, search, wait_for


def test_start_without_index_file_rebuilds_before_first_request(settings):
    store = Docqa.open(settings, embedder=HashEmbedder())
    store.sync()
    for i in range(3):
        store.add_document(make_chunks(TOPICS[i * 3 : (i + 1) * 3]), document_id=f"doc{i}", filename=f"d{i}.txt")
    store.close()
    shutil.rmtree(settings.index_dir)

    with running(fast(settings)) as client:
        stats = client.get("/api/v1/search/stats").json()
        assert stats["total_vectors"] == 9 and stats["total_chunks"] == 9
        health = client.get("/health").json()
        assert health["status"] == "healthy", health
        assert health["last_sync"]["status"] == "rebuilt"
        hits = search(client, TOPICS[4], limit=1)["results"]
        assert hits[0]["content"] == TOPICS[4]


def test_index_status_search_delete_roundtrip(settings):
    with running(fast(settings)) as client:
        body = {
            "document_id": "patient-42",
            "filename": "visit.txt",
            "chunks": [
                {"index": i, "content": t, "sentences": [t], "metadata": {"patient_id": "p42"}}
                for i, t in enumerate(TOPICS[:4])
            ],
        }
        written = client.post("/api/v1/index/", json=body).json()
        assert written["document_id"] == "patient-42"
        assert written["chunks_processed"] == 4 and written["vectors_added"] == 4
        assert written["status"] == "indexed" and written["seq"] > 0 and written["processing_time_ms"] >= 0

        status = client.get("/api/v1/index/status/patient-42").json()
        assert status["status"] == "indexed" and status["chunks_total"] == 4 and status["vectors_added"] == 4
        assert status["error_message"] is None and status["created_at"] and status["updated_at"]

        found = search(client, TOPICS[2], limit=1, filters={"patient_id": "p42"})["results"]
        assert found[0]["document_id"] == "patient-42" and found[0]["chunk_index"] == 2
        assert found[0]["metadata"]["patient_id"] == "p42" and found[0]["filename"] == "visit.txt"
        assert client.get("/api/v1/search/stats").json()["total_vectors"] == 4

        deleted = client.delete("/api/v1/index/patient-42").json()
        assert deleted == {
            "document_id": "patient-42",
            "chunks_deleted": 4,
            "vectors_deleted": 4,
            "status": "deleted",
            "seq": deleted["seq"],
        }
        assert client.get("/api/v1/search/stats").json()["total_vectors"] == 0
        assert search(client, TOPICS[2], limit=5)["results"] == []
        assert_error(client.get("/api/v1/index/status/patient-42"), 404, "not_found")
        assert_error(client.delete("/api/v1/index/patient-42"), 404, "not_found")


def test_reindex_replaces_chunks_and_keeps_unchanged_ones(settings):
    with running(fast(settings)) as client:
        index_doc(client, "doc", TOPICS[:3])
        again = index_doc(client, "doc", [TOPICS[0], TOPICS[5]])
        assert again["vectors_added"] == 1
        stats = client.get("/api/v1/search/stats").json()
        assert stats["total_vectors"] == 2 and stats["total_chunks"] == 2
        assert search(client, TOPICS[1], limit=5, threshold=0.99)["results"] == []


def test_chunk_metadata_shared_by_all_chunks_becomes_document_metadata(settings):
    with running(fast(settings)) as client:
        client.post(
            "/api/v1/index/",
            json={
                "document_id": "a",
                "chunks": [
                    {"index": 0, "content": TOPICS[0], "metadata": {"patient_id": "p1", "section": "x"}},
                    {"index": 1, "content": TOPICS[1], "metadata": {"patient_id": "p1", "section": "y"}},
                ],
            },
        )
        hits = search(client, TOPICS[1], filters={"patient_id": "p1"})["results"]
        assert {h["chunk_index"] for h in hits} == {0, 1}
        assert search(client, TOPICS[1], filters={"patient_id": "p2"})["results"] == []


def test_row_inserted_by_plain_sql_is_searchable_within_a_second(settings):
    with running(settings.replace(retry_initial_s=0.05)) as client:  # default poll interval
        index_doc(client, "seed", TOPICS[:2])
        raw = RawSQL(settings.database_url)
        try:
            text = "zebra quantum marmalade orbit"
            doc_id = raw.insert_document(filename="raw.txt")
            start = time.monotonic()
            chunk_id = raw.insert_chunk(doc_id, text, HashEmbedder().embed([text])[0])

            def visible() -> bool:
                hits = search(client, text, limit=1)["results"]
                return bool(hits) and hits[0]["chunk_id"] == chunk_id

            wait_for(visible, timeout_s=2.0, interval_s=0.02)
            assert time.monotonic() - start < 1.0
            raw.delete_chunk(chunk_id)
            wait_for(lambda: client.get("/api/v1/search/stats").json()["total_vectors"] == 2, timeout_s=1.0)
        finally:
            raw.close()


def test_min_seq_reads_a_write_the_worker_has_not_applied_yet(settings):
    with running(settings.replace(poll_interval_s=30.0)) as client:
        index_doc(client, "seed", TOPICS[:2])
        raw = RawSQL(settings.database_url)
        try:
            text = "walrus pinecone saxophone"
            chunk_id = raw.insert_chunk(raw.insert_document(), text, HashEmbedder().embed([text])[0])
            seq = raw.scalar("SELECT max(seq) FROM index_changes")
        finally:
            raw.close()
        hits = search(client, text, limit=1, min_seq=seq)["results"]
        assert hits and hits[0]["chunk_id"] == chunk_id
        error = assert_error(
            client.post("/api/v1/search/", json={"query": "x", "min_seq": seq + 1000}), 422, "invalid_input"
        )
        assert "ahead of the change log" in error["message"]


def test_rebuild_from_db_under_concurrent_searches(settings):
    with running(fast(settings)) as client:
        for i in range(20):
            index_doc(client, f"doc{i}", [f"{t} variant {i}" for t in TOPICS])
        total = client.get("/api/v1/search/stats").json()["total_vectors"]
        assert total == 200
        stop, searching = threading.Event(), threading.Event()
        failures: list[str] = []
        counts = [0]
        results: list[dict] = []

        def searcher(n: int) -> None:
            while not stop.is_set():
                r = client.post("/api/v1/search/", json={"query": TOPICS[n % len(TOPICS)], "limit": 5})
                if r.status_code != 200 or not r.json()["results"]:
                    failures.append(f"{r.status_code} {r.text[:200]}")
                counts[0] += 1
                searching.set()

        def rebuild() -> None:
            results.append(client.post("/api/v1/index/rebuild-from-db").json())

        threads = [threading.Thread(target=searcher, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        assert searching.wait(30)
        before, rounds = counts[0], 0
        # Two rebuilds at once, round after round (at least 3), until the searchers have had 20 answers since the
        # first began: as many rounds as a loaded machine needs, instead of a search count 6 rebuilds must allow.
        while rounds < 3 or (counts[0] - before < 20 and rounds < 200):
            rebuilders = [threading.Thread(target=rebuild) for _ in range(2)]
            for t in rebuilders:
                t.start()
            for t in rebuilders:
                t.join()
            rounds += 1
        stop.set()
        for t in threads:
            t.join()
        assert not failures, failures[:3]
        assert counts[0] - before >= 20
        assert len(results) == 2 * rounds
        for r in results:
            assert r["status"] == "success" and r["vectors_loaded"] == 200 and r["documents_processed"] == 20, r
            assert r["sync"]["status"] == "rebuilt" and r["processing_time_ms"] >= 0


def test_app_accepts_an_open_store_and_leaves_it_open(settings, store):
    store.add_document(make_chunks(TOPICS[:2]), document_id="pre")
    with running(fast(settings), store=store) as client:
        assert client.get("/api/v1/search/stats").json()["total_vectors"] == 2
        index_doc(client, "post", TOPICS[2:4])
    assert len(store.engine) == 4
    assert store.get_document("post").chunks_total == 2
