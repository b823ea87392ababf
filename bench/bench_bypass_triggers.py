"""What the V4 triggers (issue 11, bug 3) cost on bulk writes, before/after side by side in one run.

    .venv/bin/python bench/bench_bypass_triggers.py                 # both backends, 5 rounds
    .venv/bin/python bench/bench_bypass_triggers.py --backends pg --rounds 9 --docs 1000 --chunks-per-doc 10

Each round makes two fresh databases per backend, one migrated to schema 3
(the previous release) and one to the current schema (V4: SQLite's documents
triggers; PostgreSQL's TRUNCATE triggers), then runs each step on both back to
back, alternating which goes first:

  insert docs     1,000 documents, executemany, one transaction
  insert chunks   10,000 chunks (~950 characters of text, 1,536-byte embedding), one transaction
  delete (docqa)  500 documents deleted the way docqa does it (chunks, then the document), one transaction
  delete (FK on)  `DELETE FROM documents` of the other 500 (the cascade deletes their chunks)
  SQLite only: delete (FK off)  the same from a sqlite3-shell-like connection (schema 3 leaves orphans)
  PostgreSQL only: truncate     `TRUNCATE chunks` of 10,000 freshly inserted chunks

Printed: median and minimum over the rounds (the machine is shared: the minimum
is the least disturbed run) and the median of the per-round after/before ratios.
PostgreSQL uses a throw-away database (`docqa_bench_triggers_*`, one schema per
version and round), dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [os.environ.get("DOCQA_BENCH_SRC") or str(HERE.parent / "src")]

from docqa.storage import schema_pg, schema_sqlite  # noqa: E402
from docqa.storage.db import Connection, Database  # noqa: E402

PG_ADMIN = os.environ.get("DOCQA_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
OLD = 3
WORDS = [
    "the",
    "sync",
    "engine",
    "rebuilds",
    "faiss",
    "index",
    "from",
    "stored",
    "embeddings",
    "after",
    "every",
    "restart",
    "of",
    "service",
]


def migrate_to(conn: Connection, version: int) -> None:
    steps = (schema_pg if conn.is_pg else schema_sqlite).MIGRATIONS[:version]
    with conn.transaction():
        conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        for statements in steps:
            for statement in statements:
                conn.execute(statement)
        conn.execute("INSERT INTO meta(key, value) VALUES ('schema_version', ?)", (str(version),))
        conn.execute("INSERT INTO meta(key, value) VALUES ('db_identity', ?)", (str(uuid.uuid4()),))


def rows(docs: int, per_doc: int, seed: int) -> tuple[list[tuple[str, str]], list[tuple[object, ...]]]:
    rng = np.random.default_rng(seed)
    doc_ids = [str(uuid.uuid4()) for _ in range(docs)]
    vecs = rng.standard_normal((docs * per_doc, 384)).astype("<f4")
    text = " ".join(WORDS[i % len(WORDS)] for i in range(150))[:950]
    documents = [(d, f"doc{i}.txt") for i, d in enumerate(doc_ids)]
    chunks: list[tuple[object, ...]] = [
        (doc_ids[i // per_doc], i % per_doc, f"{i} {text}", vecs[i].tobytes()) for i in range(docs * per_doc)
    ]
    return documents, chunks


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


INSERT_DOC = "INSERT INTO documents (id, collection, filename, status) VALUES (?, 'default', ?, 'indexed')"
INSERT_CHUNK = (
    "INSERT INTO chunks (document_id, collection, ordinal, text, embedding, model, dim) "
    "VALUES (?, 'default', ?, ?, ?, 'hash-384', 384)"
)


class Workload:
    """One database at one schema version; `steps()` are timed one at a time, paired with the other version's."""

    def __init__(
        self, conn: Connection, shell: Callable[[], sqlite3.Connection] | None, docs: int, per_doc: int, seed: int
    ):
        self.conn, self.shell = conn, shell
        self.documents, self.chunks = rows(docs, per_doc, seed)
        self.half = [d for d, _ in self.documents[: docs // 2]]

    def _many(self, sql: str, data: Sequence[tuple[object, ...]]) -> None:
        with self.conn.transaction():
            self.conn.executemany(sql, data)

    def insert_docs(self) -> None:
        self._many(INSERT_DOC, self.documents)

    def insert_chunks(self) -> None:
        self._many(INSERT_CHUNK, self.chunks)

    def delete_docqa(self) -> None:
        with self.conn.transaction():
            for doc_id in self.half:
                self.conn.execute("DELETE FROM chunks WHERE document_id = ?", (doc_id,))
                self.conn.execute("DELETE FROM documents WHERE id = ?", (doc_id,))

    def delete_fk_on(self) -> None:
        with self.conn.transaction():
            self.conn.execute("DELETE FROM documents")

    def refill(self) -> None:
        self.insert_docs()
        self.insert_chunks()

    def delete_fk_off(self) -> None:
        assert self.shell is not None
        raw = self.shell()
        raw.execute("DELETE FROM documents")
        raw.close()

    def truncate(self) -> None:
        self.conn.execute("TRUNCATE chunks")

    def steps(self) -> list[tuple[str, Callable[[], None] | None]]:
        """(name, step); a None name is set-up, not timed."""
        last = ("delete (FK off)", self.delete_fk_off) if self.shell is not None else ("truncate", self.truncate)
        return [
            ("insert docs", self.insert_docs),
            ("insert chunks", self.insert_chunks),
            ("delete (docqa)", self.delete_docqa),
            ("delete (FK on)", self.delete_fk_on),
            ("", self.refill),
            last,
        ]


def sqlite_workload(version: int, docs: int, per_doc: int, seed: int, tmp: Path) -> tuple[Database, Workload]:
    path = tmp / f"v{version}-{seed}.db"
    db = Database(f"sqlite:///{path}")
    conn = db.connect()
    migrate_to(conn, version)

    def shell() -> sqlite3.Connection:
        return sqlite3.connect(path, isolation_level=None, timeout=30)  # foreign keys off, as in the sqlite3 shell

    return db, Workload(conn, shell, docs, per_doc, seed)


def pg_workload(base: str, version: int, docs: int, per_doc: int, seed: int) -> tuple[Database, Workload]:
    schema = f"v{version}_r{seed}"
    admin = Database(base).connect()
    admin.execute(f"CREATE SCHEMA {schema}")
    admin.close()
    db = Database(f"{base}?options=-csearch_path%3D{schema}")
    conn = db.connect()
    migrate_to(conn, version)
    return db, Workload(conn, None, docs, per_doc, seed)


def run_backend(backend: str, versions: tuple[int, int], args: argparse.Namespace) -> dict[str, list[list[float]]]:
    """step -> [[before ms, after ms] per round], each step run on both versions back to back."""
    times: dict[str, list[list[float]]] = {}
    pg_name = f"docqa_bench_triggers_{uuid.uuid4().hex[:8]}"
    base = f"{PG_ADMIN.rpartition('/')[0]}/{pg_name}"
    if backend == "pg":
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{pg_name}"')
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(args.rounds):
                made = [
                    pg_workload(base, v, args.docs, args.chunks_per_doc, r)
                    if backend == "pg"
                    else sqlite_workload(v, args.docs, args.chunks_per_doc, r, Path(tmp))
                    for v in versions
                ]
                plans = [w.steps() for _, w in made]
                order = [0, 1] if r % 2 == 0 else [1, 0]  # alternate who goes first
                for i, (name, _) in enumerate(plans[0]):
                    pair = [0.0, 0.0]
                    for side in order:
                        step = plans[side][i][1]
                        assert step is not None
                        pair[side] = timed(step) * 1000
                    if name:
                        times.setdefault(name, []).append(pair)
                for db, w in made:
                    w.conn.close()
                    db.close()
    finally:
        if backend == "pg":
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backends", default="sqlite,pg")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--docs", type=int, default=1000)
    ap.add_argument("--chunks-per-doc", type=int, default=10)
    args = ap.parse_args()
    new = len(schema_sqlite.MIGRATIONS)
    assert new == len(schema_pg.MIGRATIONS) > OLD
    versions = (OLD, new)
    print(
        f"load average {os.getloadavg()[0]:.1f}; {args.docs} documents x {args.chunks_per_doc} chunks; "
        f"{args.rounds} rounds, each step on schema {OLD} and schema {new} back to back"
    )
    for backend in args.backends.split(","):
        times = run_backend(backend, versions, args)
        print(f"\n{backend}: ms, median (min) over rounds; ratio = median of the per-round after/before")
        for step, pairs in times.items():
            before, after = [p[0] for p in pairs], [p[1] for p in pairs]
            ratio = statistics.median(a / b for b, a in pairs)
            print(
                f"  {step:16} {statistics.median(before):8.1f} ({min(before):7.1f}) -> "
                f"{statistics.median(after):8.1f} ({min(after):7.1f})   x{ratio:.2f}"
            )
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    print(f"(schema {OLD} 'delete (FK off)' leaves the chunks behind as orphans: it is faster because it is wrong)")


if __name__ == "__main__":
    main()
