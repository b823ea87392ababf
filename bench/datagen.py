"""Fill a fresh database with N chunks, fast, through the real schema.

Rows are realistic by default (bench/rowgen.py): text lengths, headings,
words and document sizes drawn from bench/corpus_profile.json, which was
measured by running docqa's own parsers and chunker over samples/ and the
HTML/text under /usr/share/doc; metadata JSON on documents and chunks; the
tsvector is PostgreSQL's generated column, FTS5's index on SQLite, both
filled as ingest fills them. `--thin` makes the old thin rows (a 40-char text,
no heading, `{}`, 10 chunks per document): the labelled floor, not a figure
of real work.

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

Nothing runs ANALYZE or VACUUM afterwards unless `--analyze` is given: the
database is left as a bulk ingest leaves it (no planner statistics, no
visibility map), which is the state docqa must be fast in. `--restore-to NAME`
then also makes NAME by `pg_dump -Fc | pg_restore` of the filled database (a
restored database: no statistics at all).

PostgreSQL: binary COPY, one statement per `batch` rows; the identity
sequence is advanced past the loaded ids afterwards. SQLite: executemany in
large transactions. Both: `python bench/datagen.py --help`.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sqlite3
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for _p in (str(ROOT / "src"), str(ROOT / "bench")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import rowgen  # noqa: E402
from docqa.storage import repo  # noqa: E402
from docqa.storage.db import Database  # noqa: E402
from docqa.storage.migrate import migrate  # noqa: E402

DIM = 384
MODEL = "hash-384"
COLLECTION = "default"
CHUNKS_PER_DOC = 10  # thin rows only
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


@dataclass(frozen=True)
class Shape:
    """What the rows look like and what state the database is left in."""

    thin: bool = True  # the library default stays thin (bench_http.py); the CLI and bench_sync default to realistic
    docs: int = 0  # realistic rows: exactly this many documents (0: sizes from the profile, 5-200 chunks)
    analyze: bool = False  # VACUUM ANALYZE / ANALYZE at the end (the old datagen always did)
    schema: int = 0  # migrate only up to this schema version (0: the current one): to time an upgrade

    @property
    def tag(self) -> str:
        """'' for the thin, analysed rows the old datagen made (so old markers still match), else a label."""
        if self.thin:
            return "" if self.analyze else ":thin"
        return (
            ":realistic"
            + (f":docs{self.docs}" if self.docs else "")
            + (":analyzed" if self.analyze else "")
            + (f":schema{self.schema}" if self.schema else "")
        )


THIN = Shape(thin=True, analyze=True)  # what fill() made before realistic rows existed


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


doc_id = rowgen.doc_id


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


def pg_restore_copy(source: str, target: str, jobs: int = 2) -> dict:
    """Make database `target` as a restore of `source` does: pg_dump -Fc, then pg_restore into a fresh database.

    A restored database has no planner statistics (PostgreSQL 15 dumps none) and its
    tables were loaded by COPY: the state a service meets after "restore the database,
    restart the service". Returns the seconds each step took."""
    import tempfile

    pg_create(target)
    with tempfile.TemporaryDirectory() as tmp:
        dump = Path(tmp) / "dump.pgc"
        t = time.perf_counter()
        subprocess.run(["pg_dump", "-Fc", "-Z0", "-f", str(dump), pg_dsn(source)], check=True)
        t_dump = time.perf_counter() - t
        t = time.perf_counter()
        subprocess.run(["pg_restore", "--no-owner", "-j", str(jobs), "-d", pg_dsn(target), str(dump)], check=True)
        t_restore = time.perf_counter() - t
        size = dump.stat().st_size
    return {"dump_s": round(t_dump, 1), "restore_s": round(t_restore, 1), "dump_mb": round(size / 2**20)}


_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
_NULL = b"\xff\xff\xff\xff"
_I4 = struct.Struct(">ii")
_I8 = struct.Struct(">iq")
_CHUNK_COLUMNS = (
    "id, document_id, collection, ordinal, text, char_start, char_end, page, token_count, heading, "
    "content_hash, embedding, model, dim, metadata"
)


def _pg_text(value: str) -> bytes:
    b = value.encode("utf-8")
    return len(b).to_bytes(4, "big") + b


def _pg_chunk_rows(rows: rowgen.Rows) -> bytes:
    """Binary COPY rows for chunks(_CHUNK_COLUMNS): one bytes object per batch."""
    nf = (15).to_bytes(2, "big")
    col, model = _pg_text(COLLECTION), _pg_text(MODEL)
    dim, emb_len = _I4.pack(4, DIM), (DIM * 4).to_bytes(4, "big")
    blob = np.ascontiguousarray(rows.vectors, dtype="<f4").tobytes()
    width = DIM * 4
    out = []
    for i, cid in enumerate(rows.ids.tolist()):
        meta = b"\x01" + rows.metadata[i].encode()  # jsonb binary: version 1, then the text
        out.append(
            b"".join(
                (
                    nf,
                    _I8.pack(8, cid),
                    _pg_text(rows.document_id[i]),
                    col,
                    _I4.pack(4, rows.ordinal[i]),
                    _pg_text(rows.text[i]),
                    _I4.pack(4, rows.char_start[i]),
                    _I4.pack(4, rows.char_end[i]),
                    _NULL,
                    _I4.pack(4, rows.token_count[i]),
                    _pg_text(rows.heading[i]),
                    _pg_text(rows.content_hash[i]),
                    emb_len,
                    blob[i * width : (i + 1) * width],
                    model,
                    dim,
                    len(meta).to_bytes(4, "big"),
                    meta,
                )
            )
        )
    return b"".join(out)


def _json_worker(vecs: np.ndarray) -> list[str]:
    return [original_json(v) for v in vecs]


def _tsv(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


class PgSink:
    """Loads one throw-away PostgreSQL database (created by `pg_create`)."""

    kind = "pg"

    def __init__(self, dsn: str) -> None:
        self.url = dsn
        self.shape = THIN

    def begin(self, documents: list[tuple[str, str, str, str, str, str]]) -> None:
        import psycopg

        db = Database(self.url)
        with db.connection() as conn:
            migrate(conn, upto=self.shape.schema or None)
            repo.set_collection_model(conn, COLLECTION, MODEL, DIM)
            conn.execute(ORIGINAL_TABLE_PG)
            conn.execute(ORIGINAL_TOAST_PG)
        db.close()
        self.raw = psycopg.connect(self.url, autocommit=False)
        with (
            self.raw.cursor() as cur,
            cur.copy(
                "COPY documents (id, collection, source, filename, content_type, content_hash, status, metadata) "
                "FROM STDIN"
            ) as cp,
        ):
            cp.write(
                "".join(
                    f"{d}\t{COLLECTION}\t{_tsv(src)}\t{_tsv(fn)}\t{ct}\t{h}\tindexed\t{_tsv(meta)}\n"
                    for d, src, fn, ct, h, meta in documents
                )
            )
        self.raw.commit()

    def chunks(self, rows: rowgen.Rows) -> None:
        sql = f"COPY chunks ({_CHUNK_COLUMNS}) FROM STDIN (FORMAT BINARY)"
        with (
            self.raw.cursor() as cur,
            cur.copy(sql) as cp,
        ):  # one statement per batch: logged by the trigger as in production
            cp.write(_COPY_HEADER)
            cp.write(_pg_chunk_rows(rows))
            cp.write(b"\xff\xff")
        self.raw.commit()

    def json(self, ids: list[int], docs: list[str], texts: list[str]) -> None:
        with (
            self.raw.cursor() as cur,
            cur.copy("COPY document_embeddings (chunk_id, document_id, embedding, status) FROM STDIN") as cp,
        ):
            cp.write("".join(f"{cid}\t{d}\t{js}\tindexed\n" for cid, d, js in zip(ids, docs, texts)))
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
        if self.shape.analyze:
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
        self.shape = THIN

    def begin(self, documents: list[tuple[str, str, str, str, str, str]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(str(self.path) + suffix).unlink(missing_ok=True)
        db = Database(self.url)
        with db.connection() as conn:
            migrate(conn, upto=self.shape.schema or None)
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
        raw.execute("BEGIN")
        raw.executemany(
            "INSERT INTO documents (id, collection, source, filename, content_type, content_hash, status, metadata) "
            "VALUES (?, ?, ?, ?, ?, ?, 'indexed', ?)",
            ((d, COLLECTION, src, fn, ct, h, meta) for d, src, fn, ct, h, meta in documents),
        )
        raw.execute("COMMIT")

    def chunks(self, rows: rowgen.Rows) -> None:
        blob = np.ascontiguousarray(rows.vectors, dtype="<f4")
        self.raw.execute("BEGIN")
        self.raw.executemany(
            f"INSERT INTO chunks ({_CHUNK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    cid,
                    rows.document_id[i],
                    COLLECTION,
                    rows.ordinal[i],
                    rows.text[i],
                    rows.char_start[i],
                    rows.char_end[i],
                    rows.token_count[i],
                    rows.heading[i],
                    rows.content_hash[i],
                    blob[i].tobytes(),
                    MODEL,
                    DIM,
                    rows.metadata[i],
                )
                for i, cid in enumerate(rows.ids.tolist())
            ),
        )
        self.raw.execute("COMMIT")

    def json(self, ids: list[int], docs: list[str], texts: list[str]) -> None:
        self.raw.execute("BEGIN")
        self.raw.executemany(
            "INSERT INTO document_embeddings (chunk_id, document_id, embedding, status) VALUES (?, ?, ?, 'indexed')",
            zip(ids, docs, texts),
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
        if self.shape.analyze:
            raw.execute("ANALYZE")
        raw.close()


def mark_for(n: int, json_rows: int, seed: int, shape: Shape = THIN) -> str:
    return f"{n}:{json_rows}:{seed}{shape.tag}"


def fill(
    sinks: list, n: int, json_rows: int, seed: int = 0, batch: int = 50_000, log=print, shape: Shape = THIN
) -> dict:
    """Write the same N chunks (and the same first `json_rows` as JSON text) into every sink.

    JSON encoding (~0.5 ms per vector here) is done once for all sinks, by a
    pool of worker processes while the main process loads the binary rows.
    """
    import multiprocessing as mp

    t0 = time.perf_counter()
    json_rows = min(json_rows, n)
    spent: dict[str, float] = collections.defaultdict(float)
    maker = rowgen.RowMaker(n, seed, thin=shape.thin, docs=shape.docs)
    spent["rows (plan)"] += time.perf_counter() - t0
    documents = maker.document_rows()
    for sink in sinks:
        sink.shape = shape
        t = time.perf_counter()
        sink.begin(documents)
        spent[sink.kind + " begin"] += time.perf_counter() - t
    sub = 5_000
    ctx = mp.get_context("fork")
    threads = ThreadPoolExecutor(len(sinks))

    def load(step, what: str) -> None:
        def timed(sink) -> None:
            t = time.perf_counter()
            step(sink)
            spent[f"{sink.kind} {what}"] += time.perf_counter() - t

        list(threads.map(timed, sinks))  # the sinks load concurrently (the drivers release the GIL)

    with ctx.Pool(max(1, min(2, os.cpu_count() or 1))) as pool:
        for ids, vecs in batches(n, batch, seed):
            k = int(max(0, min(len(ids), json_rows - ids[0] + 1)))
            pending = pool.map_async(_json_worker, [vecs[s : min(s + sub, k)] for s in range(0, k, sub)]) if k else None
            t = time.perf_counter()
            rows = maker.rows(ids, vecs)
            spent["rows (make)"] += time.perf_counter() - t
            load(lambda sink, rows=rows: sink.chunks(rows), "chunks")
            if pending is not None:
                t = time.perf_counter()
                texts = [text for part in pending.get() for text in part]
                spent["json encode (wait)"] += time.perf_counter() - t
                docs = rows.document_id[:k]
                load(
                    lambda sink, ids=ids, k=k, docs=docs, texts=texts: sink.json(ids[:k].tolist(), docs, texts), "json"
                )
            done = int(ids[-1])
            if done % (batch * 4) == 0 or done == n:
                log(
                    f"  datagen: {done:,}/{n:,} chunks ({min(done, json_rows):,} as JSON), {time.perf_counter() - t0:.0f}s"
                )
    threads.shutdown()
    for sink in sinks:
        t = time.perf_counter()
        sink.finish(mark_for(n, json_rows, seed, shape))
        spent[sink.kind + " finish"] += time.perf_counter() - t
    return {
        "rows": n,
        "documents": maker.n_docs,
        "shape": shape.tag or "thin, analysed",
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
    ap.add_argument("--thin", action="store_true", help="thin synthetic rows (the labelled floor), not realistic ones")
    ap.add_argument("--docs", type=int, default=0, help="realistic rows in exactly this many documents")
    ap.add_argument("--analyze", action="store_true", help="VACUUM ANALYZE / ANALYZE at the end")
    ap.add_argument("--schema", type=int, default=0, help="migrate only up to this schema version (upgrade timing)")
    ap.add_argument("--pg", default="", help="name of a PostgreSQL database to create (dropped first if it exists)")
    ap.add_argument("--restore-to", default="", help="also make this PostgreSQL database by pg_dump | pg_restore")
    ap.add_argument("--sqlite", default="", help="path of a SQLite file to create (replaced if it exists)")
    args = ap.parse_args(argv)
    sinks: list = []
    if args.pg:
        sinks.append(PgSink(pg_create(args.pg)))
    if args.sqlite:
        sinks.append(SqliteSink(Path(args.sqlite)))
    if not sinks:
        ap.error("give --pg NAME and/or --sqlite PATH")
    shape = Shape(thin=args.thin, docs=args.docs, analyze=args.analyze, schema=args.schema)
    stats = fill(sinks, args.n, args.json_rows, args.seed, shape=shape)
    if args.restore_to and args.pg:
        stats["restore"] = pg_restore_copy(args.pg, args.restore_to)
    print(json.dumps({"urls": [s.url for s in sinks], **stats}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
