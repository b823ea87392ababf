"""The fault campaign, small: 10 kill -9 trials (ingest, forced rebuild, a live service taking writes) on
SQLite with a flat index and PostgreSQL with HNSW, each restarted and checked by the independent checker
(bench/faults/checker.py: the database driver and FAISS only). The full campaign and its figures:
docs/reliability.md. docqa is driven through its CLI and `docqa serve` only."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from bench.faults import procs
from bench.faults.campaign import run_campaign
from bench.faults.checker import check
from bench.faults.client import seed_acks
from bench.faults.corpus import copy_samples
from bench.faults.dbs import PG_ADMIN_DSN


def _postgres_reachable() -> bool:
    try:
        import psycopg

        psycopg.connect(PG_ADMIN_DSN, connect_timeout=3).close()
        return True
    except Exception:
        return False


@pytest.mark.slow
@pytest.mark.postgres
def test_ten_kill_trials_on_both_databases_are_consistent_and_lose_no_acknowledged_write(tmp_path: Path):
    if not _postgres_reachable():
        pytest.fail(f"PostgreSQL at {PG_ADMIN_DSN} is required for the fault campaign")
    lines: list[str] = []
    report = run_campaign(
        10,
        [],
        [],
        ["ingest", "sync", "serve"],
        seed=7,
        work=tmp_path,
        docs=20,
        echo=lines.append,
        pairs=[("sqlite", "flat"), ("postgres", "hnsw")],
        batch_docs=5,
        measure_runs=1,
    )
    trials = report["trials"]
    assert len(trials) == 10
    assert {t["kind"] for t in trials} == {"ingest", "sync", "serve"}
    assert {t["db"] for t in trials} == {"sqlite", "postgres"}
    bad = [t for t in trials if not t["consistent"] or t["lost_acked"]]
    assert not bad, "\n".join(lines) + "\n" + json.dumps(bad, indent=1)
    assert (
        sum(t["acked_documents"] for t in trials) >= 10 * 32
    )  # samples (12) + generated (20): every trial checked them
    assert any(t["writes_acked"] for t in trials if t["kind"] == "serve")
    assert all(t["manual_steps"] == 0 for t in trials)


@pytest.mark.slow
def test_the_checker_sees_a_wrong_vector_a_missing_row_and_a_lost_write(tmp_path: Path):
    """The checker must be able to fail: a consistent store, then three kinds of damage."""
    data = tmp_path / "data"
    url = f"sqlite:///{data / 'docqa.db'}"
    env = procs.env_for(url, data, "flat")
    copy_samples(tmp_path / "docs")
    ran = procs.run(["ingest", str(tmp_path / "docs"), "--json"], env)
    assert ran.rc == 0, ran.stderr
    assert procs.run(["sync"], env).rc == 0
    acks = seed_acks(json.loads(ran.stdout)["documents"])
    good = check(url, data, acks=acks)
    assert good.consistent, good.problems
    assert good.acked_documents == len(acks) > 0

    conn = sqlite3.connect(data / "docqa.db")
    (a,), (b,) = conn.execute("SELECT id FROM chunks ORDER BY id LIMIT 2").fetchall()
    conn.execute("UPDATE chunks SET embedding = ? WHERE id = ?", (np.ones(384, dtype="<f4").tobytes(), a))
    conn.execute("DELETE FROM chunks WHERE id = ?", (b,))
    conn.commit()
    conn.close()
    lost = [{"i": 999, "op": "put", "document_id": "never-written", "chunks": 1, "phase": "acked"}]
    bad = check(url, data, acks=acks + lost)
    assert not bad.consistent
    text = "\n".join(bad.problems)
    assert "vectors differ from the stored bytes" in text
    assert "not members" in text  # the deleted row is still in the index
    assert "never-written" in bad.lost_acked  # (the document that lost a chunk counts too)
