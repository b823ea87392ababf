"""Snapshot saves in the service: on the background worker's thread, never on the thread of a sync that
made one due (a write's catch-up), and durable (fsync, renames) outside the sync lock, so a write arriving
meanwhile is applied while the disk works. What the save wrote is exactly what it copied: a change made
during its fsync keeps the index dirty and is saved next."""

from __future__ import annotations

import json
import threading

from docqa.app import Docqa
from docqa.embedders.hash import HashEmbedder
from docqa.index import snapshot
from tests.helpers import TOPICS, make_chunks
from tests.test_api_support import fast, index_doc, running, wait_for
from tests.test_health_states import open_library


def _open(settings) -> Docqa:
    return open_library(settings.replace(snapshot_interval_s=0.0))


def test_a_write_is_applied_while_the_save_is_on_disk(settings, monkeypatch):
    library = _open(settings)
    engine = library.engine
    engine.background_saves = True
    library.add_document(make_chunks(TOPICS[:2]), document_id="first")
    assert engine.dirty  # the write's own sync left the save to the worker
    entered, release = threading.Event(), threading.Event()
    publish = snapshot.Staged.publish

    def held_publish(self):  # type: ignore[no-untyped-def]
        entered.set()
        release.wait(30)
        return publish(self)

    monkeypatch.setattr(snapshot.Staged, "publish", held_publish)
    saved: list[bool] = []
    saver = threading.Thread(target=lambda: saved.append(engine.save_due()))
    saver.start()
    assert entered.wait(30)
    writer = threading.Thread(target=lambda: library.add_document(make_chunks(TOPICS[2:4]), document_id="second"))
    writer.start()
    writer.join(30)
    assert not writer.is_alive()  # applied (its catch-up took the sync lock) while the save was still on disk
    assert library.search(TOPICS[3], mode="vector", k=1)[0].document_id == "second"
    release.set()
    saver.join(30)
    assert saved == [True]
    assert engine.dirty  # the second write came after the copy: not in that snapshot
    first = json.loads((settings.index_dir / settings.collection / snapshot.MANIFEST).read_text())
    assert first["count"] == 2 and first["count"] < len(engine)  # the snapshot holds what was copied, no more
    monkeypatch.setattr(snapshot.Staged, "publish", publish)
    assert engine.save_due() and not engine.dirty
    library.close()
    reopened = Docqa.open(settings, embedder=HashEmbedder())
    report = reopened.sync("check")
    assert report.status == "in_sync", report  # the snapshot on disk holds both documents, nothing pending
    reopened.close()


def test_the_service_saves_from_its_worker(settings):
    library = _open(settings)
    with running(fast(settings, verify_interval_s=3600.0), library) as client:  # saved by following, not verifying
        assert wait_for(lambda: library.engine.background_saves)
        index_doc(client, "doc", TOPICS[:3])
        wait_for(lambda: not library.engine.dirty)
        manifest = json.loads((settings.index_dir / settings.collection / snapshot.MANIFEST).read_text())
        assert manifest["count"] == len(library.engine) > 0
    library.close()


def test_without_a_worker_a_rebuild_or_repair_is_saved_at_once(settings):
    """The CLI and library users: a forced save after a rebuild, whatever the interval."""
    library = Docqa.open(settings.replace(snapshot_interval_s=3600.0), embedder=HashEmbedder())
    library.add_document(make_chunks(TOPICS[:2]), document_id="doc")
    library.close()
    library = Docqa.open(settings.replace(snapshot_interval_s=3600.0), embedder=HashEmbedder())
    assert library.sync().status == "in_sync"  # loaded: the interval starts now
    assert library.sync("force").status == "rebuilt"
    assert not library.engine.dirty
    library.close()


def test_a_background_save_waits_its_turn_when_the_folder_is_busy(settings):
    """Another save or check holding the snapshot folder: the worker does not wait for it with the sync lock
    held; the save stays due and is made at a later turn."""
    library = _open(settings)
    engine = library.engine
    engine.background_saves = True
    library.add_document(make_chunks(TOPICS[:2]), document_id="doc")
    with snapshot.locked(settings.index_dir, settings.collection):
        assert engine.save_due() is False
        assert engine.dirty
        library.add_document(make_chunks(TOPICS[2:3]), document_id="meanwhile")  # the sync lock is free
    assert engine.save_due() and not engine.dirty
    library.close()


def test_sqlite_maps_the_file_only_during_the_vector_scan(settings):
    library = _open(settings)
    library.add_document(make_chunks(TOPICS[:3]), document_id="doc")
    assert library.sync("force").status == "rebuilt"
    with library.db.connection() as conn:
        if conn.is_pg:
            return
        assert conn.raw.execute("PRAGMA mmap_size").fetchone()[0] == 0  # unmapped when the rebuild's read ended
        with conn.transaction(read_only=True):
            conn.map_for_transaction()
            assert conn.raw.execute("PRAGMA mmap_size").fetchone()[0] > 0
        assert conn.raw.execute("PRAGMA mmap_size").fetchone()[0] == 0
    library.close()
