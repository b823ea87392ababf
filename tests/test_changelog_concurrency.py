"""The change log never lets a reader skip a change, even with concurrent writers.

PostgreSQL sequences are not commit-ordered: writer A can draw seq 10, writer B
seq 11, B commits first, and a reader that sees 11 and moves its cursor past
it never sees 10. docqa's triggers take a transaction-level advisory lock
before drawing seqs, so B cannot draw a seq until A has committed.
"""

from __future__ import annotations

import multiprocessing as mp
import random
import threading
import time

import pytest

from docqa.app import Docqa
from docqa.config import Settings
from docqa.embedders.hash import HashEmbedder
from tests.conftest import random_unit
from tests.helpers import RawSQL


def _migrated(url: str) -> None:
    Docqa.open(Settings(database_url=url, embedder="hash"), embedder=HashEmbedder()).db.close()


def _interleave(url: str) -> tuple[int, list[int], list[int]]:
    """A inserts (draws a seq) and stays open; B inserts and commits; a reader looks; then A commits.

    Returns (the reader's max seq while A was open, seqs the reader saw then, all seqs at the end).
    """
    a, b, reader = RawSQL(url), RawSQL(url), RawSQL(url)
    doc = a.insert_document()
    vec = random_unit(1)[0]
    a.execute("BEGIN")
    a.insert_chunk(doc, "from A", vec)
    b_done = threading.Event()

    def writer_b() -> None:
        b.execute("BEGIN")
        b.insert_chunk(doc, "from B", vec, ordinal=1)
        b.execute("COMMIT")
        b_done.set()

    t = threading.Thread(target=writer_b)
    t.start()
    b_done.wait(1.0)  # with the lock B is blocked here; without it B commits now
    seen_max = int(reader.scalar("SELECT coalesce(max(seq), 0) FROM index_changes"))
    seen = [r[0] for r in reader.execute("SELECT seq FROM index_changes ORDER BY seq").fetchall()]
    a.execute("COMMIT")
    t.join(5)
    final = [r[0] for r in reader.execute("SELECT seq FROM index_changes ORDER BY seq").fetchall()]
    for c in (a, b, reader):
        c.close()
    return seen_max, seen, final


def test_reader_never_sees_a_later_seq_before_an_earlier_one_commits(pg_url):
    _migrated(pg_url)
    seen_max, seen, final = _interleave(pg_url)
    # every seq at or below what the reader saw is already visible: nothing can appear below it later
    assert [q for q in final if q <= seen_max] == seen


def test_without_the_lock_the_hazard_is_real(pg_url):
    """The same interleaving with the advisory lock removed does skip: the test above can fail."""
    _migrated(pg_url)
    raw = RawSQL(pg_url)
    body = raw.scalar(
        "SELECT prosrc FROM pg_proc WHERE proname = 'docqa_log_chunks' "
        "AND pronamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())"
    )
    unlocked = "\n".join(line for line in body.splitlines() if "pg_advisory_xact_lock" not in line)
    raw.execute(
        f"CREATE OR REPLACE FUNCTION docqa_log_chunks() RETURNS trigger LANGUAGE plpgsql AS $body${unlocked}$body$"
    )
    raw.close()
    seen_max, seen, final = _interleave(pg_url)
    assert [q for q in final if q <= seen_max] != seen  # a seq below the reader's cursor appeared later


def _writer_process(url: str, worker: int, transactions: int, seed: int) -> None:
    rng = random.Random(seed)
    raw = RawSQL(url)
    doc = raw.insert_document(filename=f"writer{worker}.txt")
    vecs = random_unit(transactions * 3, seed=seed)
    for t in range(transactions):
        raw.execute("BEGIN" if raw.pg else "BEGIN IMMEDIATE")
        for j in range(rng.randint(1, 3)):
            raw.insert_chunk(doc, f"w{worker} t{t} c{j}", vecs[t * 3 + j], ordinal=t * 3 + j)
            time.sleep(rng.random() * 0.004)
        if rng.random() < 0.3:
            row = raw.execute(
                raw.q("SELECT id FROM chunks WHERE document_id = ? ORDER BY random() LIMIT 1"), (doc,)
            ).fetchone()
            if row:
                raw.execute(raw.q("DELETE FROM chunks WHERE id = ?"), (row[0],))
        time.sleep(rng.random() * 0.004)
        raw.execute("COMMIT")
    raw.close()


@pytest.mark.slow
def test_engine_following_concurrent_writer_processes_never_drifts(settings):
    """Two writer processes commit in interleaved order while the engine follows the log;
    the final digest verification must find the index equal without any repair."""
    store = Docqa.open(settings, embedder=HashEmbedder())
    store.sync()
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer_process, args=(settings.database_url, w, 40, 100 + w)) for w in range(3)]
    for p in procs:
        p.start()
    reports = []
    while any(p.is_alive() for p in procs):
        reports.append(store.sync("catch_up"))
        time.sleep(0.002)
    for p in procs:
        p.join()
        assert p.exitcode == 0
    reports.append(store.sync("catch_up"))
    assert all(r.status != "degraded" for r in reports)
    assert sum(1 for r in reports if r.sync_performed) > 3  # it really followed while they wrote
    final = store.sync("auto")
    assert final.status == "in_sync", final  # nothing skipped: no repair, no rebuild needed
    raw = RawSQL(settings.database_url)
    assert final.index_count == raw.scalar("SELECT count(*) FROM chunks") > 0
    raw.close()
    store.close()
