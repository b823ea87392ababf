"""The measured cases of bench_sync.py; each runs alone in a fresh subprocess.

    .venv/bin/python bench/sync_cases.py CASE --db URL --data-dir DIR --n N

prints one line `RESULT {json}`. Peak RSS is the child's own (/proc VmHWM,
reset with clear_refs after imports and Docqa.open where the kernel allows),
so every case reports the memory it needed above its baseline and in total.
Timings of the engine's steps are taken by wrapping its functions (inclusive
times; a nested step is also counted in its caller; at startup the snapshot
load runs on a second thread beside the DB digest, so those two overlap).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
# DOCQA_BENCH_SRC: measure another checkout of the code (e.g. before/after an optimisation)
sys.path[:0] = [str(HERE), os.environ.get("DOCQA_BENCH_SRC") or str(HERE.parent / "src")]

import datagen  # noqa: E402
from docqa.app import Docqa  # noqa: E402
from docqa.config import Settings  # noqa: E402
from docqa.embedders.hash import HashEmbedder  # noqa: E402
from docqa.index import snapshot  # noqa: E402
from docqa.index.base import VectorIndex  # noqa: E402
from docqa.storage import changes, membership, rowhash, vectors  # noqa: E402

TIMES: dict[str, float] = defaultdict(float)


# --- memory -----------------------------------------------------------------


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class Memory:
    """RSS baseline now; peak since now (if resettable) read by `report`."""

    def __init__(self) -> None:
        self.baseline_kb = _status_kb("VmRSS")
        self.reset = reset_peak()

    def report(self, raw_bytes: int) -> dict:
        peak_kb = _status_kb("VmHWM")
        above = max(0, peak_kb - self.baseline_kb) * 1024
        return {
            "rss_baseline_mb": round(self.baseline_kb / 1024, 1),
            "rss_peak_mb": round(peak_kb / 1024, 1),
            "rss_above_baseline_mb": round(above / 2**20, 1),
            "raw_vector_mb": round(raw_bytes / 2**20, 1),
            "rss_above_over_raw": round(above / raw_bytes, 2) if raw_bytes else None,
            "rss_total_over_raw": round(peak_kb * 1024 / raw_bytes, 2) if raw_bytes else None,
            "peak_reset_ok": self.reset,
        }


# --- CPU time (what a step costs on an idle machine) ------------------------------


def _proc_cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


class Cpu:
    """CPU seconds of this process and of the PostgreSQL processes serving this database.

    Server processes are found in pg_stat_activity (backends and parallel
    workers); a parallel worker that ends between two looks is missed, so the
    server figure is a lower bound.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.pg = not url.startswith("sqlite")
        self.self0 = self._self()
        self.server0 = self._server()

    @staticmethod
    def _self() -> float:
        t = os.times()
        return t.user + t.system

    def _server(self) -> dict[int, float]:
        if not self.pg:
            return {}
        conn = raw_conn(self.url)
        pids = [
            r[0]
            for r in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchall()
        ]
        conn.close()
        return {pid: _proc_cpu_s(pid) for pid in pids}

    def report(self) -> dict:
        out = {"client_cpu_s": round(self._self() - self.self0, 3)}
        if self.pg:
            now = self._server()
            out["server_cpu_s"] = round(sum(max(0.0, cpu - self.server0.get(pid, 0.0)) for pid, cpu in now.items()), 3)
        return out


# --- step timers --------------------------------------------------------------


def _timed(name: str, fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            TIMES[name] += time.perf_counter() - t

    return wrapper


def _timed_gen(name: str, fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        it = fn(*args, **kwargs)
        while True:
            t = time.perf_counter()
            try:
                item = next(it)
            except StopIteration:
                TIMES[name] += time.perf_counter() - t
                return
            TIMES[name] += time.perf_counter() - t
            yield item

    return wrapper


def instrument() -> None:
    from docqa.index.flat import FlatIndex

    vectors.count_vectors = _timed("db_count", vectors.count_vectors)
    membership.indexed_documents = _timed("db_indexed_documents", membership.indexed_documents)
    vectors.stream_vectors = _timed_gen("db_stream_parse", vectors.stream_vectors)
    FlatIndex.bulk_load = _timed("index_bulk_load", FlatIndex.bulk_load)
    vectors.fetch_vectors = _timed("db_fetch_by_id", vectors.fetch_vectors)
    changes.changed_chunk_ids = _timed("db_changed_ids", changes.changed_chunk_ids)
    rowhash.xxh3_rows = _timed("row_hashes_xxh3", rowhash.xxh3_rows)
    vectors.content_digest = _timed("db_content_digest", vectors.content_digest)
    vectors.all_hashes = _timed("db_all_hashes", vectors.all_hashes)
    snapshot.file_checksum = _timed("file_checksum", snapshot.file_checksum)
    snapshot.read_index = _timed("faiss_read", snapshot.read_index)
    snapshot.save = _timed("snapshot_save", snapshot.save)
    from docqa.sync import pending, run
    from docqa.sync.hash_cache import PendingHashes
    from docqa.sync.loading import SnapshotLoad

    for name in ("run", "verify", "rebuild", "_view", "_db_digest"):  # inclusive: run contains the others
        setattr(run.SyncRun, name, _timed("sync_" + name.strip("_"), getattr(run.SyncRun, name)))
    run.read_pending = _timed("sync_catch_up_read", pending.read_pending)
    SnapshotLoad.result = _timed("snapshot_load_wait", SnapshotLoad.result)
    PendingHashes.store = _timed("sqlite_hashes_store", PendingHashes.store)
    for name in ("add", "remove", "bulk_load"):
        setattr(VectorIndex, name, _timed("index_" + name, getattr(VectorIndex, name)))


def steps() -> dict:
    return {k: round(v, 3) for k, v in sorted(TIMES.items())}


# --- helpers ------------------------------------------------------------------


def open_store(args) -> Docqa:
    settings = Settings(
        data_dir=Path(args.data_dir),
        database_url=args.db,
        embedder="hash",
        collection=datagen.COLLECTION,
        snapshot_interval_s=3600.0,
    )
    return Docqa.open(settings, embedder=HashEmbedder(datagen.DIM))


def report_dict(rep) -> dict:
    return {
        k: rep.to_dict()[k]
        for k in ("status", "db_count", "index_count", "added", "removed", "repaired", "duration_ms", "reason")
    }


def raw_conn(url: str):
    if url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(url.split("://", 1)[1][1:], isolation_level=None, timeout=30)
        conn.execute("PRAGMA foreign_keys=ON")
        return conn
    import psycopg

    return psycopg.connect(url, autocommit=True)


def warm(store: Docqa) -> dict:
    rep = store.sync("auto")
    if rep.status not in ("in_sync", "caught_up", "repaired"):
        raise SystemExit(f"expected the snapshot to load and verify, got {rep.status}: {rep.reason}")
    return report_dict(rep)


# --- cases ----------------------------------------------------------------------


def case_rebuild(args) -> dict:
    store = open_store(args)
    instrument()
    cpu = Cpu(args.db)
    mem = Memory()
    t = time.perf_counter()
    rep = store.sync("force")
    wall = time.perf_counter() - t
    rebuild_s = rep.duration_ms / 1000
    out = {
        "report": report_dict(rep),
        "rebuild_s": rebuild_s,
        "wall_s": wall,
        "save_s": wall - rebuild_s,
        "vectors_per_s": rep.index_count / rebuild_s,
        "steps": steps(),
        **cpu.report(),
        **mem.report(rep.index_count * datagen.DIM * 4),
        "hash_backlog": len(store.engine.hashes),
    }
    t = time.perf_counter()
    store.close()
    out["close_s"] = time.perf_counter() - t
    return out


def case_original(args) -> dict:
    import tempfile

    import original

    mem = Memory()
    cpu0 = Cpu._self()
    with tempfile.TemporaryDirectory(dir=args.data_dir) as tmp:
        res = original.sync_index_with_database(args.db, None, Path(tmp) / "faiss_index.idx")
    res["vectors_per_s"] = res["vectors"] / res["rebuild_s"]
    res["client_cpu_s"] = round(Cpu._self() - cpu0, 3)  # includes the save; its server side is not counted
    return {**res, **mem.report(res["vectors"] * datagen.DIM * 4)}


def case_floor(args) -> dict:
    """What the database alone needs to hand over every member vector: the floor under rebuild and verify.

    The same member statement the rebuild runs (docqa.storage.membership: no join, the indexed
    documents inlined), run by psql as a binary COPY into /dev/null, or by the sqlite3 shell into
    /dev/null. Falls back to a bare Python loop without the shells.
    """
    import shutil
    import subprocess
    import tempfile

    from docqa.storage import membership
    from docqa.storage.db import Database

    pg = not args.db.startswith("sqlite")
    db = Database(args.db)
    with db.connection() as conn, conn.transaction(read_only=True):
        if pg:
            body = membership.pg_scan(conn, "c.id, c.embedding", datagen.COLLECTION, datagen.MODEL, datagen.DIM)
            script = b"COPY (" + body + b") TO STDOUT (FORMAT BINARY);\n"
        else:
            values = membership.params(datagen.COLLECTION, datagen.MODEL, datagen.DIM)
            sql = membership.sqlite_scan("c.id, c.embedding")
            for v in values:
                sql = sql.replace("?", f"'{v}'" if isinstance(v, str) else str(v), 1)
            script = sql.encode() + b";\n"
        n = vectors.count_vectors(conn, datagen.COLLECTION, datagen.MODEL, datagen.DIM)
    db.close()
    tool = shutil.which("psql" if pg else "sqlite3")
    samples = []
    with tempfile.NamedTemporaryFile(suffix=".sql") as f:
        f.write(script)
        f.flush()
        for _ in range(2):  # the faster of two: the floor, not the noise
            t = time.perf_counter()
            if tool and pg:
                subprocess.run([tool, "-X", "-q", args.db, "-f", f.name], stdout=subprocess.DEVNULL, check=True)
            elif tool:
                with open(f.name, "rb") as stdin:
                    path = args.db.split("://", 1)[1][1:]
                    subprocess.run([tool, path], stdin=stdin, stdout=subprocess.DEVNULL, check=True)
            else:
                conn = raw_conn(args.db)
                for _ in conn.execute(script.decode()):
                    pass
                conn.close()
            samples.append(time.perf_counter() - t)
    floor = min(samples)
    return {
        "floor_s": floor,
        "samples_s": samples,
        "vectors": n,
        "vectors_per_s": n / floor,
        "tool": tool or "python loop",
    }


def case_analyze(args) -> dict:
    """What the worker's statistics refresh costs on this dataset (it runs in the background after start-up)."""
    from docqa.storage import planner_stats
    from docqa.storage.db import Database

    db = Database(args.db)
    with db.connection() as conn:
        before = [s.__dict__ for s in planner_stats.table_states(conn)]
        t = time.perf_counter()
        analysed = planner_stats.refresh(conn)
        took = time.perf_counter() - t
        stale_after = planner_stats.stale_tables(conn)
    db.close()
    return {"analyze_s": took, "analysed": analysed, "before": before, "stale_after": stale_after}


def case_migrate(args) -> dict:
    """Upgrade a database made at an older schema version: the migration, then the first sync, then close
    (on SQLite close stores the row-hash backlog the first sync computed)."""
    from docqa.storage.db import Database
    from docqa.storage.migrate import migrate, schema_version

    db = Database(args.db)
    with db.connection() as conn:
        before = schema_version(conn)
        t = time.perf_counter()
        after = migrate(conn)
        migrate_s = time.perf_counter() - t
    db.close()
    t = time.perf_counter()
    store = open_store(args)
    rep = store.sync("auto")
    sync_s = time.perf_counter() - t
    pending = len(store.engine.hashes)
    t = time.perf_counter()
    store.close()
    close_s = time.perf_counter() - t
    return {
        "from_version": before,
        "to_version": after,
        "migrate_s": migrate_s,
        "first_sync_s": sync_s,
        "first_sync": report_dict(rep),
        "hash_backlog": pending,
        "close_s": close_s,
    }


def case_startup(args) -> dict:
    instrument()
    cpu = Cpu(args.db)
    mem = Memory()
    t = time.perf_counter()
    store = open_store(args)
    t_open = time.perf_counter()
    rep = store.sync("auto")
    wall = time.perf_counter() - t
    out = {
        "report": report_dict(rep),
        "open_s": t_open - t,
        "startup_s": wall,
        "steps": steps(),
        **cpu.report(),
        **mem.report(rep.index_count * datagen.DIM * 4),
        "hash_backlog": len(store.engine.hashes),
    }
    t = time.perf_counter()
    store.close()
    out["close_s"] = time.perf_counter() - t
    return out


def case_idle(args) -> dict:
    store = open_store(args)
    warm(store)
    samples = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        rep = store.sync("catch_up")
        samples.append(time.perf_counter() - t)
        assert rep.status == "in_sync", rep
    store.close()
    return {
        "n_index": rep.index_count,
        "median_ms": statistics.median(samples) * 1000,
        "p90_ms": float(np.percentile(samples, 90)) * 1000,
        "min_ms": min(samples) * 1000,
        "samples": len(samples),
    }


def apply_changes(url: str, n_changes: int, seed: int) -> dict:
    """Insert / update / delete chunks with plain SQL on a connection of our own (5:3:2)."""
    rng = np.random.default_rng(seed)
    n_ins, n_upd = n_changes // 2, n_changes * 3 // 10
    n_del = n_changes - n_ins - n_upd
    conn = raw_conn(url)
    pg = not url.startswith("sqlite")
    existing = np.array([r[0] for r in conn.execute("SELECT id FROM chunks WHERE collection = 'default'").fetchall()])
    picked = rng.choice(existing, n_upd + n_del, replace=False)
    upd, dele = [int(x) for x in picked[:n_upd]], [int(x) for x in picked[n_upd:]]
    new_vecs, upd_vecs = datagen.unit_vectors(rng, n_ins), datagen.unit_vectors(rng, n_upd)
    docs = [
        r[0]
        for r in conn.execute("SELECT id FROM documents WHERE collection = 'default' AND status = 'indexed'").fetchall()
    ]
    ins = [
        (
            docs[int(rng.integers(len(docs)))],
            "default",
            1000 + i,
            f"inserted chunk {seed} {i}",
            f"ins-{seed}-{i}",
            v.tobytes(),
            datagen.MODEL,
            datagen.DIM,
        )
        for i, v in enumerate(new_vecs)
    ]
    t = time.perf_counter()
    ph = "%s" if pg else "?"
    insert_sql = (
        f"INSERT INTO chunks (document_id, collection, ordinal, text, content_hash, embedding, model, dim) "
        f"VALUES ({', '.join([ph] * 8)})"
    )
    if pg:
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(insert_sql, ins)
            cur.execute(
                "UPDATE chunks c SET embedding = v.e FROM unnest(%s::bigint[], %s::bytea[]) AS v(id, e) WHERE c.id = v.id",
                (upd, [v.tobytes() for v in upd_vecs]),
            )
            cur.execute("DELETE FROM chunks WHERE id = ANY(%s)", (dele,))
    else:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(insert_sql, ins)
        conn.executemany(
            "UPDATE chunks SET embedding = ? WHERE id = ?", [(v.tobytes(), i) for i, v in zip(upd, upd_vecs)]
        )
        conn.executemany("DELETE FROM chunks WHERE id = ?", [(i,) for i in dele])
        conn.execute("COMMIT")
    write_s = time.perf_counter() - t
    conn.close()
    return {"inserted": n_ins, "updated": n_upd, "deleted": n_del, "sql_write_s": write_s}


def timed_sync(store: Docqa, db: str, mode: str) -> dict:
    """One sync, with its report, wall time, engine steps and CPU (client and server)."""
    TIMES.clear()
    cpu = Cpu(db)
    t = time.perf_counter()
    rep = store.sync(mode)
    wall = time.perf_counter() - t
    return {"report": report_dict(rep), "wall_s": wall, "steps": steps(), **cpu.report()}


def case_catchup(args) -> dict:
    store = open_store(args)
    warm(store)
    instrument()
    seed = int(time.time())
    w1 = apply_changes(args.db, args.changes, seed)
    catch_up = timed_sync(store, args.db, "catch_up")
    w2 = apply_changes(args.db, args.changes, seed + 1)
    auto = timed_sync(store, args.db, "auto")
    apply_changes(args.db, 10, seed + 2)  # a handful of changes: what the live follower sees most of the time
    out = {
        "changes": args.changes,
        "writes_1": w1,
        "catch_up": catch_up,
        "writes_2": w2,
        "auto": auto,
        "catch_up_10": timed_sync(store, args.db, "catch_up"),
    }
    store.close()
    return out


def corrupt_one_embedding(url: str, seed: int) -> int:
    """Change one stored embedding without the change log noticing (as a bad restore or a bug would)."""
    rng = np.random.default_rng(seed)
    conn = raw_conn(url)
    victim = int(conn.execute("SELECT min(id) FROM chunks WHERE collection = 'default'").fetchone()[0])
    blob = datagen.unit_vectors(rng, 1)[0].tobytes()
    top_before = conn.execute("SELECT max(seq) FROM index_changes").fetchone()[0]
    if url.startswith("sqlite"):
        ddl = conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'chunks_log_update'"
        ).fetchone()[0]
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("DROP TRIGGER chunks_log_update")
        conn.execute("UPDATE chunks SET embedding = ? WHERE id = ?", (blob, victim))
        conn.execute(ddl)
        conn.execute("COMMIT")
    else:
        with conn.transaction():
            conn.execute("ALTER TABLE chunks DISABLE TRIGGER USER")
            conn.execute("UPDATE chunks SET embedding = %s WHERE id = %s", (blob, victim))
            conn.execute("ALTER TABLE chunks ENABLE TRIGGER USER")
    top_after = conn.execute("SELECT max(seq) FROM index_changes").fetchone()[0]
    conn.close()
    if top_after != top_before:
        raise SystemExit("the drift was logged; the case would not test drift detection")
    return victim


def case_drift(args) -> dict:
    store = open_store(args)
    warm(store)
    victim = corrupt_one_embedding(args.db, int(time.time()))
    instrument()
    cpu = Cpu(args.db)
    t = time.perf_counter()
    rep = store.sync("auto")
    wall = time.perf_counter() - t
    out = {
        "victim": victim,
        "report": report_dict(rep),
        "repair_s": rep.duration_ms / 1000,
        "wall_s": wall,
        "steps": steps(),
        **cpu.report(),
    }
    store.close()
    return out


def case_deep(args) -> dict:
    """What the deep check (re-hashing every vector the index holds) adds to a full verification."""
    store = open_store(args)
    warm(store)
    plain, deep = [], []
    for _ in range(3):
        for mode_deep, samples in ((False, plain), (True, deep)):
            t = time.perf_counter()
            rep = store.sync("auto", deep=mode_deep)
            samples.append(time.perf_counter() - t)
            if rep.status != "in_sync":
                raise SystemExit(f"expected in_sync, got {rep.status}: {rep.reason}")
    store.close()
    return {
        "verify_s": statistics.median(plain),
        "deep_verify_s": statistics.median(deep),
        "deep_extra_s": statistics.median(deep) - statistics.median(plain),
        "samples_plain_s": plain,
        "samples_deep_s": deep,
    }


CASES = {
    "analyze": case_analyze,
    "migrate": case_migrate,
    "deep": case_deep,
    "floor": case_floor,
    "rebuild": case_rebuild,
    "original": case_original,
    "startup": case_startup,
    "idle": case_idle,
    "catchup": case_catchup,
    "drift": case_drift,
}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=sorted(CASES))
    ap.add_argument("--db", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--n", type=int, default=0)
    ap.add_argument("--changes", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=200)
    args = ap.parse_args()
    Path(args.data_dir).mkdir(parents=True, exist_ok=True)
    load_before = Path("/proc/loadavg").read_text().split()[0]
    result = CASES[args.case](args)
    import docqa

    result.update(
        case=args.case,
        n=args.n,
        code=str(Path(docqa.__file__).parent),
        loadavg_before=float(load_before),
        loadavg_after=float(Path("/proc/loadavg").read_text().split()[0]),
    )
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
