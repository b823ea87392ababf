"""Three plain-SQL writers committing interleaved while a live `docqa serve` follows the change log.

Each writer has its own database connection (sqlite3 / psycopg, no docqa code) and commits transactions
that insert documents with chunks and embeddings, re-embed a document's chunks, delete a document (chunks
first, as a careful SQL user would), or mark one `deleted`. On PostgreSQL the transactions overlap (each
sleeps between its statements), which is where sequence values stop being commit-ordered. A monitor polls
/api/v1/search/stats; the follow latency of a commit is the time until the service's applied_seq reached
the seq read right after it. At the end the service is stopped and the independent checker runs.

    .venv/bin/python -m bench.faults.writers --db postgres --txns 40 --out /tmp/writers.json
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
from bench.faults import procs
from bench.faults.checker import DbReader, check
from bench.faults.client import AckLog, percentile
from bench.faults.dbs import create_pg, drop_pg, pg_url_for
from bench.faults.scenario_util import seed_samples


class SqlWriter(threading.Thread):
    def __init__(self, n: int, url: str, model: str, dim: int, acks: AckLog, txns: int, seed: int, owned: list[str]):
        super().__init__(daemon=True)
        self.n, self.url, self.model, self.dim, self.acks, self.txns = n, url, model, dim, acks, txns
        self.rng = random.Random(seed)
        self.owned = list(owned)  # documents only this writer touches: per-document order stays defined
        self.commits: list[tuple[float, int]] = []  # (monotonic commit time, max seq seen right after)
        self.errors: list[str] = []
        self.is_pg = url.startswith("postgresql://")

    def _connect(self):
        if self.is_pg:
            import psycopg

            return psycopg.connect(self.url, autocommit=True)
        conn = sqlite3.connect(self.url.removeprefix("sqlite:///"), timeout=60, isolation_level=None)
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def _x(self, conn, sql: str, params: tuple = ()):
        return conn.execute(sql.replace("?", "%s") if self.is_pg else sql, params)

    def _pause(self) -> None:
        time.sleep(self.rng.uniform(0, 0.02))

    def _vec(self) -> bytes:
        v = np.random.default_rng(self.rng.randrange(1 << 30)).standard_normal(self.dim).astype("<f4")
        return (v / np.linalg.norm(v)).astype("<f4").tobytes()

    def _txn(self, conn) -> dict | None:
        pick = self.rng.random()
        if pick < 0.55 or not self.owned:
            doc, marker, k = (
                f"sql-{self.n}-{uuid.uuid4().hex[:8]}",
                f"mksql{self.n}x{uuid.uuid4().hex[:6]}",
                self.rng.randint(1, 5),
            )
            self._x(
                conn,
                "INSERT INTO documents(id, collection, source, filename, content_type, content_hash, status) "
                "VALUES (?, 'default', ?, ?, 'text/plain', ?, 'indexed')",
                (doc, f"sql://{doc}", f"{doc}.txt", uuid.uuid4().hex),
            )
            self._pause()
            for i in range(k):
                self._x(
                    conn,
                    "INSERT INTO chunks(document_id, collection, ordinal, text, embedding, model, dim, token_count) "
                    "VALUES (?, 'default', ?, ?, ?, ?, ?, 5)",
                    (
                        doc,
                        i,
                        f"{marker} chunk {i} written by plain SQL writer {self.n}",
                        self._vec(),
                        self.model,
                        self.dim,
                    ),
                )
                self._pause()
            self.owned.append(doc)
            return {"op": "put", "document_id": doc, "chunks": k, "marker": marker}
        doc = self.rng.choice(self.owned)
        if pick < 0.75:
            ids = [r[0] for r in self._x(conn, "SELECT id FROM chunks WHERE document_id = ?", (doc,)).fetchall()]
            for cid in ids:
                self._x(conn, "UPDATE chunks SET embedding = ? WHERE id = ?", (self._vec(), cid))
                self._pause()
            return {"op": "put", "document_id": doc, "chunks": len(ids) or None}
        self.owned.remove(doc)
        if pick < 0.9:
            self._x(conn, "DELETE FROM chunks WHERE document_id = ?", (doc,))
            self._pause()
            self._x(conn, "DELETE FROM documents WHERE id = ?", (doc,))
        else:
            self._x(conn, "UPDATE documents SET status = 'deleted' WHERE id = ?", (doc,))
        return {"op": "delete", "document_id": doc}

    def run(self) -> None:
        conn = self._connect()
        try:
            for _ in range(self.txns):
                i = self.acks.new_i()
                self._x(conn, "BEGIN" if self.is_pg else "BEGIN IMMEDIATE")
                try:
                    rec = self._txn(conn)
                    if rec is None:
                        self._x(conn, "ROLLBACK")
                        continue
                    self.acks.add({"i": i, **rec, "phase": "sent"})
                    self._x(conn, "COMMIT")
                except Exception as exc:
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                    try:
                        self._x(conn, "ROLLBACK")
                    except Exception:
                        pass
                    continue
                t = time.monotonic()
                seq = int(self._x(conn, "SELECT coalesce(max(seq), 0) FROM index_changes").fetchone()[0])
                self.commits.append((t, seq))
                self.acks.add({"i": i, **rec, "phase": "acked", "seq": seq})
                time.sleep(self.rng.uniform(0, 0.05))
        finally:
            conn.close()


def _monitor(base: str, stop: threading.Event, out: list[tuple[float, int, int]]) -> None:
    while not stop.is_set():
        try:
            code, body = procs.get_json(base + "/api/v1/search/stats", timeout=5)
            if code == 200:
                out.append((time.monotonic(), int(body.get("applied_seq") or 0), int(body.get("total_vectors") or 0)))
        except (OSError, ValueError):
            pass
        time.sleep(0.05)


def run_writers(work: Path, db: str = "sqlite", index: str = "flat", txns: int = 40, seed: int = 1, n: int = 3) -> dict:
    result: dict = {
        "scenario": "plain-sql-writers",
        "commit": procs.commit(),
        "db": db,
        "index": index,
        "writers": n,
        "txns_each": txns,
    }
    data = work / "writers-data"
    pg_name = create_pg() if db == "postgres" else None
    url = pg_url_for(pg_name) if pg_name else f"sqlite:///{data / 'docqa.db'}"
    proc = None
    try:
        acks = AckLog(work / "writers-acks.jsonl", seed_samples(url, data, index, work))
        reader = DbReader(url)
        model, dim = reader.binding("default") or ("", 0)
        reader.close()
        proc, base = procs.serve(url, data, index, work / "writers-serve.log")
        if procs.wait_healthy(base, proc, 90) is None:
            raise RuntimeError("service did not become healthy")
        stop, samples = threading.Event(), []
        mon = threading.Thread(target=_monitor, args=(base, stop, samples), daemon=True)
        mon.start()
        owned = [a["document_id"] for a in acks.records]
        writers = [SqlWriter(k, url, model, dim, acks, txns, seed * 10 + k, owned[k::n]) for k in range(n)]
        t0 = time.monotonic()
        for w in writers:
            w.start()
        for w in writers:
            w.join(300)
        result["write_seconds"] = round(time.monotonic() - t0, 2)
        final = max((s for w in writers for _, s in w.commits), default=0)
        caught = None
        while time.monotonic() - t0 < result["write_seconds"] + 30:
            if samples and samples[-1][1] >= final:
                caught = samples[-1][0]
                break
            time.sleep(0.05)
        stop.set()
        mon.join(10)
        latencies = []
        for w in writers:
            for t, s in w.commits:
                seen = next((ts for ts, applied, _ in samples if ts >= t and applied >= s), None)
                if seen is not None:
                    latencies.append(seen - t)
        commits = sum(len(w.commits) for w in writers)
        result.update(
            commits=commits,
            writer_errors=sum(len(w.errors) for w in writers),
            writer_error_sample=[e for w in writers for e in w.errors][:3],
            followed=len(latencies),
            follow_p50_s=round(percentile(latencies, 0.5), 3),
            follow_max_s=round(max(latencies, default=0.0), 3),
            caught_up_after_last_commit_s=None
            if caught is None
            else round(caught - max(t for w in writers for t, _ in w.commits), 3),
            live_vectors=samples[-1][2] if samples else None,
        )
        result["stop_rc"] = procs.stop(proc)
        proc = None
        verdict = check(url, data, acks=acks.records)
        acks.close()
        result.update(
            consistent=verdict.consistent and result["live_vectors"] == verdict.db_members,
            lost_acked=len(verdict.lost_acked),
            acked_documents=verdict.acked_documents,
            db_members=verdict.db_members,
            problems=verdict.problems[:10],
        )
    finally:
        if proc is not None:
            procs.kill9(proc)
        if pg_name:
            drop_pg(pg_name)
    result["ok"] = bool(
        result.get("consistent") and result.get("lost_acked") == 0 and result.get("followed") == result.get("commits")
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--index", choices=["flat", "hnsw"], default="flat")
    parser.add_argument("--txns", type=int, default=40, help="transactions per writer")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--work", type=Path, help="keep logs and data in this folder (default: a temporary one)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="docqa-writers-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        result = run_writers(work, args.db, args.index, args.txns, args.seed)
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
