"""Each state of the health model, reached for real through the running service."""

from __future__ import annotations

import threading

import numpy as np

from docqa.app import Docqa
from docqa.config import Settings
from docqa.embedders.hash import HashEmbedder
from docqa.storage import vectors
from tests.helpers import TOPICS, RawSQL, make_chunks
from tests.test_api_support import assert_error, fast, index_doc, running, search, wait_for


class SlowToLoad(HashEmbedder):
    """A model whose first use blocks until `loaded` is set, like a lazy model loading from disk."""

    def __init__(self) -> None:
        super().__init__(dim=384)
        self.loaded = threading.Event()

    def embed(self, texts):  # type: ignore[no-untyped-def]
        self.loaded.wait(10)
        return super().embed(texts)


def open_library(settings: Settings, embedder=None) -> Docqa:
    library = Docqa.open(settings, embedder=embedder or HashEmbedder())
    library.sync()
    return library


def test_warming_up_until_the_model_is_loaded_then_healthy(settings):
    embedder = SlowToLoad()
    library = open_library(settings, embedder)
    with running(fast(settings), library, warmed=False) as client:
        body = client.get("/health").json()
        assert (body["status"], body["ready"]) == ("warming_up", False), body
        assert "loading the embedding model" in body["reason"]
        assert client.get("/health/ready").status_code == 503
        assert 'docqa_health_state{state="warming_up"} 1.0' in client.get("/metrics").text
        embedder.loaded.set()
        wait_for(lambda: client.get("/health").json()["status"] == "healthy")
        assert client.get("/health/ready").status_code == 200
    library.close()


def test_writes_failing_while_the_database_refuses_writes_and_healthy_once_one_succeeds(settings, monkeypatch):
    """A full disk: every write fails, reads keep working; /health says so and stays ready for reads."""
    import contextlib

    pg = settings.database_url.startswith("postgres")
    library = open_library(settings)
    refusing = threading.Event()
    handed_out = library.db.connection

    @contextlib.contextmanager
    def connection():  # type: ignore[no-untyped-def]
        # Every connection handed out (to the writer, the worker, a search) sees the same database state: no
        # reliance on which pooled connection the next write happens to get while the worker runs beside it.
        with handed_out() as conn:
            if pg:  # a database that takes no writes (a standby, a read-only default)
                mode = "READ ONLY" if refusing.is_set() else "READ WRITE"
                conn.execute(f"SET SESSION CHARACTERISTICS AS TRANSACTION {mode}")
            elif refusing.is_set():  # a full disk
                conn.execute(f"PRAGMA max_page_count = {int(conn.scalar('PRAGMA page_count'))}")
            else:
                conn.execute("PRAGMA max_page_count = 1073741823")
            yield conn

    monkeypatch.setattr(library.db, "connection", connection)
    with running(fast(settings), library) as client:
        index_doc(client, "before", TOPICS[:2])
        refusing.set()
        note = b"a note too big for the pages left. " * 10_000  # new pages: a full disk refuses them
        queued = client.post("/api/v1/jobs", files={"file": ("notes.txt", note, "text/plain")})
        why = "read-only" if pg else "full"
        assert why in assert_error(queued, 503, "database_unavailable")["message"]
        body = client.get("/health").json()  # an upload refused is a write failing, like any other
        assert (body["status"], body["ready"]) == ("writes_failing", True), body
        big = {"document_id": "big", "chunks": [{"index": i, "content": TOPICS[i % 10] * 40} for i in range(40)]}
        error = assert_error(client.post("/api/v1/index/", json=big), 503, "database_unavailable")
        why = "read-only" if pg else "full"
        assert why in error["message"]
        body = client.get("/health").json()
        assert (body["status"], body["ready"]) == ("writes_failing", True), body
        assert why in body["reason"]
        assert search(client, TOPICS[1], limit=1)["results"][0]["document_id"] == "before"  # reads still work
        refusing.clear()
        index_doc(client, "after", TOPICS[2:4])
        assert client.get("/health").json()["status"] == "healthy"
    library.close()


def test_repairing_while_drift_is_being_repaired(settings, monkeypatch):
    library = open_library(settings)
    library.add_document(make_chunks(TOPICS), document_id="doc")
    entered, release = threading.Event(), threading.Event()
    fetch = vectors.fetch_vectors

    def held_fetch(*args, **kwargs):  # type: ignore[no-untyped-def]
        entered.set()
        release.wait(10)
        return fetch(*args, **kwargs)

    with running(fast(settings), library) as client:
        assert client.get("/health").json()["status"] == "healthy"
        raw = RawSQL(settings.database_url)
        victim = int(raw.scalar("SELECT min(id) FROM chunks"))
        raw.update_embedding_silently(victim, np.ones(384, dtype=np.float32) / np.sqrt(384))
        raw.close()
        monkeypatch.setattr(vectors, "fetch_vectors", held_fetch)
        repair = threading.Thread(target=library.sync)
        repair.start()
        assert entered.wait(10)
        body = client.get("/health").json()
        assert (body["status"], body["ready"]) == ("repairing", True), body
        assert "1 id(s) differ" in body["reason"]
        release.set()
        repair.join(10)
        assert library.engine.last_report is not None and library.engine.last_report.status == "repaired"
        assert client.get("/health").json()["status"] == "healthy"
    library.close()


def test_a_snapshot_that_cannot_be_saved_never_fails_a_stored_write(settings, monkeypatch):
    """A full disk under the snapshots: the write is committed, so it is answered 200 and searchable; /health
    and /metrics say the snapshot cannot be saved; it is saved once there is room again (found by
    bench/faults/fulldisk.py: 500s for stored writes)."""
    import faiss

    library = open_library(settings.replace(snapshot_interval_s=0.0))
    write_index = faiss.write_index

    def disk_full(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError(  # what FAISS raises when the disk fills under it
            "Error in void faiss::write_index(const Index*, IOWriter*, int) at impl/index_write.cpp:822: "
            "write error in /data/index/default.tmp-1/index.faiss: 864174 != 1018368 (No space left on device)"
        )

    monkeypatch.setattr(faiss, "write_index", disk_full)
    with running(fast(settings), library) as client:
        index_doc(client, "stored", TOPICS[:3])
        assert search(client, TOPICS[1], limit=1)["results"][0]["document_id"] == "stored"
        assert library.engine.dirty  # not saved yet
        # the background worker saves (never the write's own thread): its failure shows on /health
        wait_for(lambda: client.get("/health").json()["index"]["snapshot_save_error"])
        body = client.get("/health").json()
        assert (body["status"], body["ready"]) == ("healthy", True), body  # reads and writes work
        error = body["index"]["snapshot_save_error"]
        assert "cannot save the index snapshot in" in error and error.endswith("No space left on device"), error
        assert "docqa_snapshot_save_failing 1.0" in client.get("/metrics").text
        assert not list(settings.index_dir.glob("*.tmp-*"))  # nothing half-written left
        monkeypatch.setattr(faiss, "write_index", write_index)
        index_doc(client, "later", TOPICS[3:5])
        wait_for(lambda: not library.engine.dirty)  # saved, both documents in it
        assert client.get("/health").json()["index"]["snapshot_save_error"] == ""
        assert "docqa_snapshot_save_failing 0.0" in client.get("/metrics").text
    library.close()


def test_an_explicit_save_on_a_full_disk_names_the_directory_and_the_reason(settings, monkeypatch):
    """`docqa sync` / library.save(): a clear DocqaError, not FAISS's RuntimeError."""
    import faiss

    from docqa.errors import SnapshotSaveFailed

    library = open_library(settings)
    library.add_document(make_chunks(TOPICS[:2]), document_id="doc")

    def disk_full(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("Error in void faiss::write_index: write error in x: 1 != 2 (No space left on device)")

    monkeypatch.setattr(faiss, "write_index", disk_full)
    library.add_document(make_chunks(TOPICS[2:4]), document_id="another")  # stored; its save fails quietly
    try:
        library.save()
    except SnapshotSaveFailed as exc:
        assert str(settings.index_dir) in exc.message and exc.message.endswith("No space left on device")
    else:
        raise AssertionError("the save did not fail")
    monkeypatch.undo()
    library.close()


def test_a_stopping_service_saves_a_snapshot_with_what_was_committed_up_to_its_stop(settings):
    """Writes committed by others (a job's worker, another process) that the index has not applied yet when the
    service stops go into its last snapshot: after a clean stop it is current, not merely honest."""
    import json

    from docqa.app import Runtime

    runtime = Runtime(settings.replace(poll_interval_s=3600.0, verify_interval_s=3600.0, embedder="hash"))
    runtime.start()
    try:
        other = Docqa.open(settings.replace(embedder="hash"))
        seq = other.add_document(make_chunks(TOPICS[:3]), document_id="late", sync=False).seq
        other.db.close()
        assert runtime.library is not None and runtime.library.engine.applied_seq < seq  # not followed yet
    finally:
        runtime.stop()
    manifest = json.loads((settings.index_dir / "default" / "manifest.json").read_text())
    assert manifest["applied_seq"] == seq and manifest["count"] == 3, manifest
