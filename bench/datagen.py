"""Fill a fresh database with N synthetic chunks, fast, through the real schema.

The schema comes from `docqa.storage.migrate.migrate`, so the change-log
triggers fill `index_changes` exactly as they do in production (one
`upsert` row per chunk), and the collection is bound to model `hash-384`,
dim 384, so `Settings(embedder="hash")` opens it.

Every chunk gets a random unit 384-d float32 embedding (seeded, so two
databases made with the same seed hold the same vectors). The first
`json_rows` of them are also written, as JSON text, to the table the
original service read at rebuild time:

    document_embeddings(id, chunk_id, document_id, embedding TEXT, status TEXT)

filled with `json.dumps(vector.tolist())`, which is what the original stored.

PostgreSQL: binary COPY of fixed-width rows built with numpy (no per-row
Python objects), in statements of `batch` rows; the identity sequence is
advanced past the loaded ids afterwards. SQLite: executemany in large
transactions. Both: `python bench/datagen.py --help`.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sqlite3
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from docqa.storage import repo  # noqa: E402
from docqa.storage.db import Database  # noqa: E402
from docqa.storage.migrate import migrate  # noqa: E402

DIM = 384
MODEL = "hash-384"
COLLECTION = "default"
CHUNKS_PER_DOC = 10
PG_ADMIN_DSN = os.environ.get("DOCQA_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")

ORIGINAL_TABLE_PG = """CREATE TABLE IF NOT EXISTS document_embeddings (
    id BIGSERIAL PRIMARY KEY, chunk_id BIGINT NOT NULL, document_id TEXT NOT NULL,
    embedding TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'indexed')"""
# lz4 instead of PostgreSQL's default pglz: about 6x faster to load here and
# about 2x faster to read back, so the original approach is measured on the
# faster of the two (a conservative choice for our ratio).
ORIGINAL_TOAST_PG = "ALTER TABLE document_embeddings ALTER COLUMN embedding SET COMPRESSION lz4"
ORIGINAL_TABLE_SQLITE = """CREATE TABLE IF NOT EXISTS document_embeddings (
    id INTEGER PRIMARY KEY AUTOINCREMENT, chunk_id INTEGER NOT NULL, document_id TEXT NOT NULL,
    embedding TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'indexed')"""


# --- the synthetic rows ------------------------------------------------------


def unit_vectors(rng: np.random.Generator, n: int, dim: int = DIM) -> np.ndarray:
    v = rng.standard_normal((n, dim), dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v


def batches(n: int, batch: int, seed: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(chunk ids 1.., unit vectors) in order; the same seed gives the same vectors."""
    rng = np.random.default_rng(seed)
    for start in range(0, n, batch):
        m = min(batch, n - start)
        yield np.arange(start + 1, start + m + 1, dtype=np.int64), unit_vectors(rng, m)


def doc_id(doc_no: int) -> str:
    return f"00000000-0000-4000-8000-{doc_no:012d}"


def chunk_text(chunk_id: int) -> str:
    return f"synthetic benchmark chunk {chunk_id:010d}"


def doc_of(chunk_id: int) -> int:
    return (chunk_id - 1) // CHUNKS_PER_DOC


def original_json(vector: np.ndarray) -> str:
    return json.dumps(vector.tolist())


# --- PostgreSQL -------------------------------------------------------------


def pg_dsn(name: str) -> str:
    base, _, _ = PG_ADMIN_DSN.rpartition("/")
    return f"{base}/{name}"


def pg_create(name: str) -> str:
    import psycopg

    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return pg_dsn(name)


def pg_drop(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_exists(name: str) -> bool:
    import psycopg

    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def _pg_text(width: int) -> list[tuple[str, str]]:
    return [("len", ">i4"), ("val", f"S{width}")]


def _pg_chunk_rows(ids: np.ndarray, vecs: np.ndarray) -> bytes:
    """Binary COPY rows for chunks(id, document_id, collection, ordinal, text, content_hash, embedding, model, dim).

    Every field has a fixed width, so a whole batch is one numpy record array.
    """
    n = len(ids)
    text_w, doc_w = len(chunk_text(1)), len(doc_id(0))
    dt = np.dtype(
        [
            ("nf", ">i2"),
            ("id_l", ">i4"),
            ("id", ">i8"),
            ("doc_l", ">i4"),
            ("doc", f"S{doc_w}"),
            ("col_l", ">i4"),
            ("col", f"S{len(COLLECTION)}"),
            ("ord_l", ">i4"),
            ("ord", ">i4"),
            ("txt_l", ">i4"),
            ("txt", f"S{text_w}"),
            ("hash_l", ">i4"),
            ("hash", "S16"),
            ("emb_l", ">i4"),
            ("emb", "<f4", (DIM,)),
            ("model_l", ">i4"),
            ("model", f"S{len(MODEL)}"),
            ("dim_l", ">i4"),
            ("dim", ">i4"),
        ]
    )
    rec = np.empty(n, dtype=dt)
    rec["nf"] = 9
    rec["id_l"], rec["id"] = 8, ids
    docs = (ids - 1) // CHUNKS_PER_DOC
    rec["doc_l"], rec["doc"] = (
        doc_w,
        np.char.add("00000000-0000-4000-8000-", np.char.zfill(docs.astype("U12"), 12)).astype("S"),
    )
    rec["col_l"], rec["col"] = len(COLLECTION), COLLECTION.encode()
    rec["ord_l"], rec["ord"] = 4, (ids - 1) % CHUNKS_PER_DOC
    rec["txt_l"], rec["txt"] = (
        text_w,
        np.char.add("synthetic benchmark chunk ", np.char.zfill(ids.astype("U10"), 10)).astype("S"),
    )
    rec["hash_l"], rec["hash"] = 16, np.char.zfill(ids.astype("U16"), 16).astype("S")
    rec["emb_l"], rec["emb"] = DIM * 4, vecs
    rec["model_l"], rec["model"] = len(MODEL), MODEL.encode()
    rec["dim_l"], rec["dim"] = 4, DIM
    return rec.tobytes()


_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"


def _json_worker(vecs: np.ndarray) -> list[str]:
    return [original_json(v) for v in vecs]


class PgSink:
    """Loads one throw-away PostgreSQL database (created by `pg_create`)."""

    kind = "pg"

    def __init__(self, dsn: str) -> None:
        self.url = dsn

    def begin(self, n: int) -> None:
        import psycopg

        db = Database(self.url)
        with db.connection() as conn:
            migrate(conn)
            repo.set_collection_model(conn, COLLECTION, MODEL, DIM)
            conn.execute(ORIGINAL_TABLE_PG)
            conn.execute(ORIGINAL_TOAST_PG)
        db.close()
        self.raw = psycopg.connect(self.url, autocommit=False)
        n_docs = (n + CHUNKS_PER_DOC - 1) // CHUNKS_PER_DOC
        with (
            self.raw.cursor() as cur,
            cur.copy("COPY documents (id, collection, source, filename, content_type, status) FROM STDIN") as cp,
        ):
            cp.write(
                "".join(
                    f"{doc_id(d)}\t{COLLECTION}\tbench://{d}\tdoc{d}.txt\ttext/plain\tindexed\n" for d in range(n_docs)
                )
            )
        self.raw.commit()

    def chunks(self, ids: np.ndarray, vecs: np.ndarray) -> None:
        sql = "COPY chunks (id, document_id, collection, ordinal, text, content_hash, embedding, model, dim) FROM STDIN (FORMAT BINARY)"
        with (
            self.raw.cursor() as cur,
            cur.copy(sql) as cp,
        ):  # one statement per batch: logged by the trigger as in production
            cp.write(_COPY_HEADER)
            cp.write(_pg_chunk_rows(ids, vecs))
            cp.write(b"\xff\xff")
        self.raw.commit()

    def json(self, ids: list[int], texts: list[str]) -> None:
        with (
            self.raw.cursor() as cur,
            cur.copy("COPY document_embeddings (chunk_id, document_id, embedding, status) FROM STDIN") as cp,
        ):
            cp.write("".join(f"{cid}\t{doc_id(doc_of(cid))}\t{js}\tindexed\n" for cid, js in zip(ids, texts)))
        self.raw.commit()

    def finish(self, mark: str) -> None:
        with self.raw.cursor() as cur:
            cur.execute(
                "SELECT setval(pg_get_serial_sequence('chunks', 'id'), (SELECT coalesce(max(id), 1) FROM chunks))"
            )
            cur.execute(
                "INSERT INTO meta(key, value) VALUES ('bench_rows', %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (mark,),
            )
        self.raw.commit()
        self.raw.autocommit = True
        self.raw.execute("VACUUM ANALYZE")
        self.raw.execute("CHECKPOINT")
        self.raw.close()


class SqliteSink:
    """Loads one fresh SQLite file.

    The per-row FTS5 trigger is the slowest part of a bulk insert, so it is
    dropped for the load and recreated from its own stored DDL, followed by the
    FTS5 'rebuild' command: the same end state, several times faster. The
    change-log triggers stay in place and log every row as in production.
    """

    kind = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.url = f"sqlite:///{self.path.resolve()}"

    def begin(self, n: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(str(self.path) + suffix).unlink(missing_ok=True)
        db = Database(self.url)
        with db.connection() as conn:
            migrate(conn)
            repo.set_collection_model(conn, COLLECTION, MODEL, DIM)
            conn.execute(ORIGINAL_TABLE_SQLITE)
        db.close()
        self.raw = raw = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("PRAGMA synchronous=OFF")
        raw.execute("PRAGMA cache_size=-262144")
        row = raw.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'chunks_fts_insert'"
        ).fetchone()
        self.fts_trigger = row[0] if row else None
        if self.fts_trigger:
            raw.execute("DROP TRIGGER chunks_fts_insert")
        n_docs = (n + CHUNKS_PER_DOC - 1) // CHUNKS_PER_DOC
        raw.execute("BEGIN")
        raw.executemany(
            "INSERT INTO documents (id, collection, source, filename, content_type, status) VALUES (?, ?, ?, ?, 'text/plain', 'indexed')",
            ((doc_id(d), COLLECTION, f"bench://{d}", f"doc{d}.txt") for d in range(n_docs)),
        )
        raw.execute("COMMIT")

    def chunks(self, ids: np.ndarray, vecs: np.ndarray) -> None:
        self.raw.execute("BEGIN")
        self.raw.executemany(
            "INSERT INTO chunks (id, document_id, collection, ordinal, text, content_hash, embedding, model, dim) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    cid,
                    doc_id(doc_of(cid)),
                    COLLECTION,
                    (cid - 1) % CHUNKS_PER_DOC,
                    chunk_text(cid),
                    f"{cid:016d}",
                    vec.tobytes(),
                    MODEL,
                    DIM,
                )
                for cid, vec in zip(ids.tolist(), vecs)
            ),
        )
        self.raw.execute("COMMIT")

    def json(self, ids: list[int], texts: list[str]) -> None:
        self.raw.execute("BEGIN")
        self.raw.executemany(
            "INSERT INTO document_embeddings (chunk_id, document_id, embedding, status) VALUES (?, ?, ?, 'indexed')",
            ((cid, doc_id(doc_of(cid)), js) for cid, js in zip(ids, texts)),
        )
        self.raw.execute("COMMIT")

    def finish(self, mark: str) -> None:
        raw = self.raw
        if self.fts_trigger:
            raw.execute(self.fts_trigger)
            raw.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')")
        raw.execute(
            "INSERT INTO meta(key, value) VALUES ('bench_rows', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (mark,),
        )
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        raw.execute("ANALYZE")
        raw.close()


def mark_for(n: int, json_rows: int, seed: int) -> str:
    return f"{n}:{json_rows}:{seed}"


def fill(sinks: list, n: int, json_rows: int, seed: int = 0, batch: int = 50_000, log=print) -> dict:
    """Write the same N chunks (and the same first `json_rows` as JSON text) into every sink.

    JSON encoding (~0.5 ms per vector here) is done once for all sinks, by a
    pool of worker processes while the main process loads the binary rows.
    """
    import multiprocessing as mp

    t0 = time.perf_counter()
    json_rows = min(json_rows, n)
    spent: dict[str, float] = collections.defaultdict(float)
    for sink in sinks:
        t = time.perf_counter()
        sink.begin(n)
        spent[sink.kind + " begin"] += time.perf_counter() - t
    sub = 5_000
    ctx = mp.get_context("fork")
    threads = ThreadPoolExecutor(len(sinks))

    def load(ids: np.ndarray, vecs: np.ndarray, step, what: str) -> None:
        def timed(sink) -> None:
            t = time.perf_counter()
            step(sink)
            spent[f"{sink.kind} {what}"] += time.perf_counter() - t

        list(threads.map(timed, sinks))  # the sinks load concurrently (the drivers release the GIL)

    with ctx.Pool(max(1, min(2, os.cpu_count() or 1))) as pool:
        for ids, vecs in batches(n, batch, seed):
            k = int(max(0, min(len(ids), json_rows - ids[0] + 1)))
            pending = pool.map_async(_json_worker, [vecs[s : min(s + sub, k)] for s in range(0, k, sub)]) if k else None
            load(ids, vecs, lambda sink, ids=ids, vecs=vecs: sink.chunks(ids, vecs), "chunks")
            if pending is not None:
                t = time.perf_counter()
                texts = [text for part in pending.get() for text in part]
                spent["json encode (wait)"] += time.perf_counter() - t
                load(ids, vecs, lambda sink, ids=ids, k=k, texts=texts: sink.json(ids[:k].tolist(), texts), "json")
            done = int(ids[-1])
            if done % (batch * 4) == 0 or done == n:
                log(
                    f"  datagen: {done:,}/{n:,} chunks ({min(done, json_rows):,} as JSON), {time.perf_counter() - t0:.0f}s"
                )
    threads.shutdown()
    for sink in sinks:
        t = time.perf_counter()
        sink.finish(mark_for(n, json_rows, seed))
        spent[sink.kind + " finish"] += time.perf_counter() - t
    return {
        "rows": n,
        "json_rows": json_rows,
        "seed": seed,
        "seconds": round(time.perf_counter() - t0, 1),
        "breakdown_s": {k: round(v, 1) for k, v in spent.items()},
    }


def marker(url: str) -> str:
    """The `bench_rows` marker of a filled database ('' if none), to reuse one across runs."""
    try:
        db = Database(url)
        with db.connection() as conn:
            value = conn.scalar("SELECT value FROM meta WHERE key = 'bench_rows'", default="")
        db.close()
        return str(value)
    except Exception:
        return ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, required=True, help="chunks to create")
    ap.add_argument("--json-rows", type=int, default=0, help="rows also written as JSON text for the original approach")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pg", default="", help="name of a PostgreSQL database to create (dropped first if it exists)")
    ap.add_argument("--sqlite", default="", help="path of a SQLite file to create (replaced if it exists)")
    args = ap.parse_args(argv)
    sinks: list = []
    if args.pg:
        sinks.append(PgSink(pg_create(args.pg)))
    if args.sqlite:
        sinks.append(SqliteSink(Path(args.sqlite)))
    if not sinks:
        ap.error("give --pg NAME and/or --sqlite PATH")
    stats = fill(sinks, args.n, args.json_rows, args.seed)
    print(json.dumps({"urls": [s.url for s in sinks], **stats}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
