"""`sync("check")` changes nothing, ever, and says what a sync would do; rebuilds say why, at the right level,
with the counts of the index they replace (issue 11, bugs 5 and 6)."""

from __future__ import annotations

import logging

import pytest

from tests.helpers import RawSQL
from tests.sync_helpers import add_docs, open_store, snapshot_dir, tree_state


def _delete_one_chunk_by_sql(settings) -> int:
    raw = RawSQL(settings.database_url)
    victim = int(raw.scalar("SELECT min(id) FROM chunks"))
    raw.delete_chunk(victim)
    raw.close()
    return victim


def test_check_after_a_plain_sql_delete_says_would_catch_up_and_touches_no_file(settings):
    store = open_store(settings)
    store.sync()
    add_docs(store, 1)
    store.close()  # snapshot of 10 vectors on disk
    _delete_one_chunk_by_sql(settings)
    before = tree_state(settings.data_dir)
    assert before, "the snapshot should be on disk"

    checker = open_store(settings)
    report = checker.sync("check")
    assert report.status == "caught_up" and report.sync_performed is False, report
    assert (report.pending, report.added, report.removed) == (1, 0, 1)
    assert report.reason == "would catch up 1 change(s) (+0 -1)"
    assert (report.db_count, report.index_count) == (9, 10)
    assert tree_state(settings.data_dir) == before  # names, mtimes and bytes
    assert not checker.engine.ready  # nothing installed that a later save could persist
    checker.close()
    assert tree_state(settings.data_dir) == before

    # and a sync does what the check said
    syncing = open_store(settings)
    done = syncing.sync()
    assert (done.status, done.sync_performed, done.pending, done.removed) == ("caught_up", True, 1, 1), done
    assert syncing.sync("check").status == "in_sync"
    syncing.close()


def test_check_on_a_loaded_index_leaves_it_as_it_was(settings):
    store = open_store(settings)
    store.sync()
    add_docs(store, 2)
    store.save()
    _delete_one_chunk_by_sql(settings)
    seq, count = store.engine.applied_seq, len(store.engine)
    before = tree_state(settings.data_dir)
    report = store.sync("check")
    assert report.status == "caught_up" and not report.sync_performed and report.pending == 1, report
    assert (store.engine.applied_seq, len(store.engine)) == (seq, count)
    assert store.engine.save() is False  # nothing changed that a save would write
    store.close()
    assert tree_state(settings.data_dir) == before


def test_check_with_no_snapshot_says_would_rebuild_with_the_real_count(settings):
    store = open_store(settings)
    add_docs(store, 1, sync=False)
    before = tree_state(settings.data_dir)
    report = store.sync("check")
    assert (report.status, report.sync_performed, report.reason) == (
        "rebuilt",
        False,
        "would rebuild: snapshot missing",
    )
    assert report.db_count == 10 and report.cause == "missing"
    store.close()
    assert tree_state(settings.data_dir) == before


def test_check_of_a_corrupt_snapshot_reports_the_database_count_not_minus_one(settings):
    store = open_store(settings)
    store.sync()
    add_docs(store, 3)
    store.close()
    index_file = snapshot_dir(settings) / "index.faiss"
    data = bytearray(index_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    index_file.write_bytes(bytes(data))
    before = tree_state(settings.data_dir)
    checker = open_store(settings)
    report = checker.sync("check")
    assert report.status == "rebuilt" and not report.sync_performed, report
    assert report.db_count == 30 and "checksum" in report.reason and report.reason.startswith("would rebuild:")
    assert "DB 30 embeddings" in report.describe()
    checker.close()
    assert tree_state(settings.data_dir) == before


def test_check_in_sync_only_with_nothing_pending(settings):
    store = open_store(settings)
    store.sync()
    add_docs(store, 1)
    store.close()
    checker = open_store(settings)
    report = checker.sync("check")
    assert (report.status, report.pending, report.reason) == ("in_sync", 0, ""), report
    checker.close()


def _messages(caplog, level=None) -> list[str]:
    return [r.getMessage() for r in caplog.records if level is None or r.levelno == level]


def test_a_first_build_is_logged_as_such_at_info(settings, caplog):
    store = open_store(settings)
    add_docs(store, 2, sync=False)
    with caplog.at_level(logging.INFO, logger="docqa"):
        report = store.sync()
    assert report.status == "rebuilt" and report.reason == "snapshot missing" and report.cause == "missing"
    assert "No index snapshot yet: building from the database" in _messages(caplog, logging.INFO)
    assert not [m for m in _messages(caplog) if "out of sync" in m]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], _messages(caplog)
    store.close()


def test_a_damaged_snapshot_keeps_the_original_alarm(settings, caplog):
    store = open_store(settings)
    store.sync()
    add_docs(store, 1)
    store.close()
    (snapshot_dir(settings) / "index.faiss").unlink()
    again = open_store(settings)
    with caplog.at_level(logging.INFO, logger="docqa"):
        report = again.sync()
    assert report.status == "rebuilt" and report.cause == "invalid"
    assert "FAISS index out of sync! DB: 10, FAISS: 0. Starting rebuild..." in _messages(caplog, logging.WARNING)
    again.close()


@pytest.mark.parametrize("pending_delete", [False, True])
def test_forced_rebuild_reports_the_old_index_alike_from_disk_and_from_memory(settings, caplog, pending_delete):
    """The CLI forces a rebuild in a fresh process (index on disk only), the HTTP service with the index in
    memory: both report the replaced index's count in the log and the same added/removed."""
    store = open_store(settings)
    store.sync()
    add_docs(store, 3)
    store.close()
    service = open_store(settings)
    service.sync("catch_up")  # the service: the snapshot's 30 vectors in memory
    assert service.engine.ready and len(service.engine) == 30
    if pending_delete:
        _delete_one_chunk_by_sql(settings)  # neither has applied it
    expect, db = ((0, 1), 29) if pending_delete else ((0, 0), 30)

    cli = open_store(settings)  # the CLI: nothing loaded, the index it replaces is the snapshot on disk
    with caplog.at_level(logging.INFO, logger="docqa"):
        report = cli.sync("force")
    assert report.status == "rebuilt" and report.cause == "forced" and report.reason.startswith("forced")
    assert (report.added, report.removed) == expect, report
    assert f"Forced FAISS index rebuild requested. DB: {db}, FAISS: 30. Starting rebuild..." in _messages(caplog)
    assert f"Index sync check: DB has {db} embeddings, FAISS has 30 vectors" in _messages(caplog)
    assert not [m for m in _messages(caplog) if "out of sync" in m]
    cli.close()

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="docqa"):
        again = service.sync("force")
    assert (again.added, again.removed) == expect, again
    assert f"Forced FAISS index rebuild requested. DB: {db}, FAISS: 30. Starting rebuild..." in _messages(caplog)
    service.close()
