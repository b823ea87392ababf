"""Many `docqa serve` replicas on one PostgreSQL, each with its own FAISS cache kept in sync.

Three real server processes (hash embedder, own data dirs): writes through any replica become
searchable on every other; a `seq` one replica returns is honoured as `min_seq` by another; a replica
killed with SIGKILL restarts in sync; two replicas sharing one data dir stay correct (snapshots are
written under the writers' lock and proven against the database on load). PostgreSQL only: on SQLite
the replicas of one file are one machine's processes, which the serve tests already cover.
Timeouts are generous; how fast replicas converge is measured in bench/bench_replicas.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fleet import Replica, poll

CONVERGE_S = 30.0


def text(name: str, i: int = 0) -> str:
    return f"replica test document {name} chunk {i}: unique words {name}x{i} {hash((name, i)) & 0xFFFF}"


@pytest.fixture
def fleet(pg_url: str, tmp_path: Path) -> Iterator[dict[str, Replica]]:
    replicas = {n: Replica(n, pg_url, tmp_path / f"data-{n}", tmp_path) for n in "abc"}
    try:
        for replica in replicas.values():
            replica.start()
        for replica in replicas.values():
            replica.wait_healthy()
        yield replicas
    finally:
        for replica in replicas.values():
            replica.close()


def converged(replicas: list[Replica], query: str, document_id: str | None) -> None:
    for r in replicas:
        poll(lambda r=r: r.top_document(query) == document_id, CONVERGE_S, f"{r.name} to serve {document_id}")


def test_writes_through_any_replica_reach_every_replica(fleet: dict[str, Replica]):
    a, b, c = fleet["a"], fleet["b"], fleet["c"]
    assert all(r.health()["worker"]["notifications"] == "listen" for r in (a, b, c))
    for writer, name in [(a, "one"), (b, "two"), (c, "three"), (a, "four")]:
        writer.write(f"doc-{name}", [text(name, 0), text(name, 1)])
    for name in ["one", "two", "three", "four"]:
        converged([a, b, c], text(name, 1), f"doc-{name}")
    b.delete("doc-two")
    converged([a, b, c], text("two", 1), None)
    seq = max(r.stats()["db_seq"] for r in (a, b, c))
    poll(lambda: all(r.stats()["applied_seq"] >= seq for r in (a, b, c)), CONVERGE_S, "every replica at the last seq")
    counts = {r.name: (r.stats()["total_vectors"], r.stats()["indexable_chunks"]) for r in (a, b, c)}
    assert set(counts.values()) == {(6, 6)}, counts


def test_a_seq_from_one_replica_is_min_seq_on_another(fleet: dict[str, Replica]):
    a, b, c = fleet["a"], fleet["b"], fleet["c"]
    for i in range(5):  # no polling: each read names the write's seq, and must see it at once
        seq = a.write(f"ryw-{i}", [text(f"ryw{i}")])["seq"]
        assert b.top_document(text(f"ryw{i}"), min_seq=seq) == f"ryw-{i}"
        asked = c.http.get("/api/v1/qa/ask", params={"question": text(f"ryw{i}"), "min_seq": seq})
        assert asked.status_code == 200, asked.text
        assert f"ryw-{i}" in {s["document_id"] for s in asked.json()["sources"]}
    ahead = b.search("anything", min_seq=seq + 1000)
    assert ahead.status_code == 422 and "ahead of the change log" in ahead.json()["error"]["message"]
    bad = c.http.get("/api/v1/qa/ask", params={"question": "x", "min_seq": -1})
    assert bad.status_code == 422


def test_a_replica_killed_with_sigkill_restarts_in_sync(fleet: dict[str, Replica]):
    a, b = fleet["a"], fleet["b"]
    for i in range(3):
        a.write(f"before-{i}", [text(f"before{i}")])
    converged([b], text("before2"), "before-2")
    b.kill9()
    for i in range(3):  # while b is down: new documents, a replaced one, a deleted one
        a.write(f"during-{i}", [text(f"during{i}")])
    a.write("before-0", [text("before0-replaced")])
    last = a.delete("before-1")["seq"]
    b.start().wait_healthy()
    assert b.applied_seq() >= last
    assert b.top_document(text("during2"), min_seq=last) == "during-2"
    assert b.top_document(text("before0-replaced")) == "before-0"
    assert b.top_document(text("before0")) is None and b.top_document(text("before1")) is None
    assert b.stats()["total_vectors"] == a.stats()["total_vectors"] == 5
    assert b.stats()["lag"] == 0


def test_two_replicas_sharing_one_data_dir_stay_correct(pg_url: str, tmp_path: Path):
    shared = tmp_path / "shared"
    pair = [Replica(n, pg_url, shared, tmp_path, snapshot_interval_s=0) for n in ("p", "q")]
    try:
        for r in pair:
            r.start()
        for r in pair:
            r.wait_healthy()
        p, q = pair
        for i in range(6):  # both save a snapshot after each catch-up, into one directory
            (p if i % 2 else q).write(f"shared-{i}", [text(f"shared{i}"), text(f"shared{i}", 1)])
        converged(pair, text("shared5"), "shared-5")
        p.kill9()
        q.stop()
        p.start().wait_healthy()  # loads whichever snapshot is newest and whole, proves it, catches up
        starts = [e for e in p.events() if e.get("event") == "Index synchronization on startup complete"]
        assert starts[-1]["status"] in ("in_sync", "caught_up"), starts[-1]
        assert p.stats()["total_vectors"] == 12
        assert p.top_document(text("shared4", 1)) == "shared-4"
        leftovers = sorted(x.name for x in (shared / "index").iterdir() if ".tmp-" in x.name or x.name.endswith(".old"))
        assert leftovers == [], leftovers
    finally:
        for r in pair:
            r.close()
