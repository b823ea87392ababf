"""Writes that no row trigger sees must still reach the change log (issue 11, bug 3).

PostgreSQL: TRUNCATE fires no row trigger; a statement-level TRUNCATE trigger
raises the log floor past every follower, whose next catch-up rebuilds.
SQLite: foreign keys are off in the sqlite3 shell and most scripts, so a plain
`DELETE FROM documents` used to orphan its chunks without a log row; now a
documents trigger deletes (and so logs) them. Every write here goes through a
raw driver connection, as another program's would.
"""

from __future__ import annotations

import threading
import time

import pytest

from docqa.storage import changes
from tests.helpers import TOPICS, RawSQL, make_chunks


def _log(store) -> tuple[int, int, str]:
    with store.db.connection() as conn:
        return changes.max_seq(conn), changes.log_floor(conn), changes.floor_reason(conn)


def _fill(store, docs: int = 3) -> list[str]:
    ids = [
        store.add_document(make_chunks(TOPICS[i * 3 : i * 3 + 3]), filename=f"d{i}.txt").document_id
        for i in range(docs)
    ]
    assert store.sync().index_count == 3 * docs
    return ids


def _pg_only(store) -> None:
    if not store.db.is_pg:
        pytest.skip("TRUNCATE is PostgreSQL's")


@pytest.mark.parametrize(
    "statement", ["TRUNCATE chunks", "TRUNCATE documents CASCADE", "TRUNCATE chunks RESTART IDENTITY"]
)
def test_pg_truncate_is_seen_and_catch_up_rebuilds(store, statement):
    _pg_only(store)
    _fill(store)
    applied = store.engine.applied_seq
    raw = RawSQL(store.settings.database_url)
    raw.execute(statement)
    raw.close()
    top, floor, reason = _log(store)
    assert floor > applied and top == floor  # the log says: nothing at or below `floor` is explained by it
    assert reason.startswith("TRUNCATE chunks at seq")
    report = store.sync("catch_up")  # what the live follower runs when max_seq moves
    assert (report.status, report.index_count) == ("rebuilt", 0), report
    assert store.search(TOPICS[0], k=3) == []
    assert store.sync().status == "in_sync"


def test_pg_truncate_wakes_listeners(store):
    _pg_only(store)
    _fill(store, docs=1)
    import psycopg

    listener = psycopg.connect(store.settings.database_url, autocommit=True)
    listener.execute("LISTEN docqa_changes")
    raw = RawSQL(store.settings.database_url)
    raw.execute("TRUNCATE chunks")
    raw.close()
    got = [n.channel for n in listener.notifies(timeout=5, stop_after=1)]
    listener.close()
    assert got == ["docqa_changes"]


def test_pg_truncating_the_log_loses_no_pending_change(store):
    """A change written but not yet applied, then `TRUNCATE index_changes RESTART IDENTITY`:
    the follower must still get it (rebuild), and later seqs must not reuse old numbers."""
    _pg_only(store)
    doc_ids = _fill(store, docs=1)
    applied = store.engine.applied_seq
    raw = RawSQL(store.settings.database_url)
    from tests.conftest import random_unit

    raw.insert_chunk(doc_ids[0], "written by a script", random_unit(1, seed=5)[0], ordinal=9)
    before = raw.scalar("SELECT max(seq) FROM index_changes")
    raw.execute("TRUNCATE index_changes RESTART IDENTITY")
    _, floor, reason = _log(store)
    assert floor > before > applied and reason.startswith("TRUNCATE index_changes")
    raw.insert_chunk(doc_ids[0], "after the truncate", random_unit(1, seed=6)[0], ordinal=10)
    assert raw.scalar("SELECT min(seq) FROM index_changes") > floor  # the sequence was re-seated
    raw.close()
    report = store.sync("catch_up")
    assert (report.status, report.index_count) == ("rebuilt", 5), report
    assert store.sync().status == "in_sync"


def test_a_compaction_racing_a_truncate_never_lowers_its_floor(store):
    """Compaction reads the floor, then a TRUNCATE commits a higher one while compaction waits to write
    its own: the floor must stay the TRUNCATE's, or a follower would catch up past the truncate."""
    _pg_only(store)
    _fill(store, docs=1)
    truncator = RawSQL(store.settings.database_url)
    truncator.execute("BEGIN")
    truncator.execute("TRUNCATE chunks")  # holds the new floor uncommitted
    result: list[int] = []

    def compact() -> None:
        with store.db.connection() as conn:
            result.append(changes.compact(conn, keep=0))  # reads floor 0, computes the old top

    worker = threading.Thread(target=compact)
    worker.start()
    watcher = RawSQL(store.settings.database_url)
    for _ in range(100):  # wait until compaction is blocked on the floor row the truncate holds
        if watcher.scalar("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"):
            break
        time.sleep(0.02)
    floor = int(truncator.scalar("SELECT value FROM meta WHERE key = 'log_floor'"))
    truncator.execute("COMMIT")
    worker.join(10)
    for c in (truncator, watcher):
        c.close()
    assert result == [floor]
    assert _log(store)[1] == floor
    assert store.sync("catch_up").status == "rebuilt"


def test_pg_truncate_cannot_deadlock_with_a_logging_writer(store):
    """A writer inside a logging trigger holds the change-log lock and is about to read chunks (the
    documents status trigger joins them) when TRUNCATE takes chunks: the TRUNCATE trigger must not
    then wait for that lock (a lock cycle: PostgreSQL would abort one of the two)."""
    _pg_only(store)
    _fill(store, docs=1)
    from docqa.storage import schema_pg

    writer = RawSQL(store.settings.database_url)
    writer.execute("BEGIN")
    writer.execute("SELECT pg_advisory_xact_lock(%s)", (schema_pg.LOCK_KEY,))  # where every logging trigger starts
    errors: list[Exception] = []

    def truncate() -> None:
        raw = RawSQL(store.settings.database_url)
        try:
            raw.execute("TRUNCATE chunks")
        except Exception as exc:
            errors.append(exc)
        raw.close()

    worker = threading.Thread(target=truncate)
    worker.start()
    worker.join(2.0)  # done already, or waiting for a lock
    try:
        writer.execute("SELECT count(*) FROM chunks")  # waits for the TRUNCATE if it still runs
        writer.execute("COMMIT")
    except Exception as exc:
        errors.append(exc)
    worker.join(10)
    writer.close()
    assert errors == []
    assert store.sync("catch_up").status == "rebuilt"


def _sqlite_only(store) -> None:
    if store.db.is_pg:
        pytest.skip("PostgreSQL enforces the foreign key (ON DELETE CASCADE): a document delete always logs its chunks")


def test_sqlite_shell_delete_of_documents_is_logged_and_leaves_no_orphan(store):
    """sqlite3's default: foreign keys OFF. The deleted documents' chunks must go, logged."""
    _sqlite_only(store)
    doc_ids = _fill(store)
    applied = store.engine.applied_seq
    raw = RawSQL(store.settings.database_url)
    assert raw.scalar("PRAGMA foreign_keys") == 0
    raw.execute("DELETE FROM documents WHERE id IN (?, ?)", (doc_ids[0], doc_ids[1]))
    assert raw.scalar("SELECT count(*) FROM chunks WHERE document_id NOT IN (SELECT id FROM documents)") == 0
    assert raw.scalar("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH 'espresso'") == 0  # keyword side too
    logged = raw.scalar("SELECT count(*) FROM index_changes WHERE seq > ? AND op = 'delete'", (applied,))
    raw.close()
    assert logged == 6
    report = store.sync("catch_up")
    assert (report.status, report.removed, report.index_count) == ("caught_up", 6, 3), report
    hits = store.search(TOPICS[0], k=3)
    assert len(hits) == 3 and {h.document_id for h in hits} == {doc_ids[2]}  # no ghost takes a slot
    assert store.sync().status == "in_sync"


def test_sqlite_document_rekey_and_late_insert_are_logged(store):
    """FK off: renaming a document orphans its chunks; inserting a document adopts chunks stored before it."""
    _sqlite_only(store)
    doc_ids = _fill(store, docs=2)
    raw = RawSQL(store.settings.database_url)
    raw.execute("UPDATE documents SET id = 'renamed' WHERE id = ?", (doc_ids[0],))
    report = store.sync("catch_up")
    assert (report.removed, report.index_count) == (3, 3), report
    raw.execute("UPDATE documents SET id = ? WHERE id = 'renamed'", (doc_ids[0],))
    assert store.sync("catch_up").index_count == 6
    raw.execute("DELETE FROM documents WHERE id = ?", (doc_ids[1],))  # chunks go with it
    raw.execute("PRAGMA foreign_keys = OFF")
    from tests.conftest import random_unit

    raw.insert_chunk("not-yet", "chunk before its document", random_unit(1, seed=3)[0])
    assert store.sync("catch_up").index_count == 3  # an orphan is not a member
    raw.execute(
        "INSERT INTO documents (id, collection, filename, status) VALUES ('not-yet', 'default', 'late.txt', 'indexed')"
    )
    raw.close()
    report = store.sync("catch_up")
    assert (report.added, report.index_count) == (1, 4), report
    assert store.sync().status == "in_sync"
