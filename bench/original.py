"""A faithful re-implementation of the original service's sync fix, for comparison.

What `indexer-semantique` did (see shared/reference/original-sync-fix.md):

    db_count = SELECT COUNT(*) FROM document_embeddings WHERE status='indexed'
    faiss_count = index.ntotal
    if db_count != faiss_count: rebuild:
        rows = SELECT chunk_id, embedding FROM document_embeddings WHERE status='indexed'   (all fetched)
        vectors = [json.loads(row.embedding) for row in rows]                               (one per row)
        matrix = np.array(vectors, dtype=float32)                                           (stack)
        index = IndexIDMap(IndexFlatIP(dim)); index.add_with_ids(matrix, ids)
        faiss.write_index(index, path)                                                      (saved)

Embeddings are JSON text (`json.dumps(vector.tolist())`, ~8.4 kB per 384-d
vector), written by bench/datagen.py with the same vectors as `chunks`. The
chunk id is fetched too (the original needed a position -> chunk mapping);
that costs it nothing measurable. Run as a script it prints one JSON line:

    .venv/bin/python bench/original.py --db postgresql://postgres@127.0.0.1:5432/docqa_bench_100000
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

COUNT_SQL = "SELECT COUNT(*) FROM document_embeddings WHERE status = 'indexed'"
FETCH_SQL = "SELECT chunk_id, embedding FROM document_embeddings WHERE status = 'indexed'"


def _connect(url: str):
    if url.startswith("sqlite"):
        path = url.split("://", 1)[1]
        path = path[1:] if path.startswith("//") else path
        return sqlite3.connect(path)
    import psycopg

    return psycopg.connect(url)


def sync_index_with_database(url: str, index: faiss.Index | None, save_to: Path | None = None) -> dict:
    """The original startup check + rebuild. Returns its timings (seconds) and result."""
    t0 = time.perf_counter()
    conn = _connect(url)
    try:
        db_count = conn.execute(COUNT_SQL).fetchone()[0]
        faiss_count = index.ntotal if index is not None else 0
        t_count = time.perf_counter()
        if db_count == faiss_count and not (faiss_count == 0 and db_count > 0):
            return {"status": "in_sync", "sync_performed": False, "vectors": faiss_count, "count_s": t_count - t0}
        rows = conn.execute(FETCH_SQL).fetchall()
    finally:
        conn.close()
    t_fetch = time.perf_counter()
    ids = [row[0] for row in rows]
    embeddings = [json.loads(row[1]) for row in rows]
    t_parse = time.perf_counter()
    matrix = np.array(embeddings, dtype=np.float32)
    t_stack = time.perf_counter()
    dim = matrix.shape[1] if len(matrix) else 384
    fresh = faiss.IndexIDMap(faiss.IndexFlatIP(dim))
    if len(matrix):
        fresh.add_with_ids(matrix, np.asarray(ids, dtype=np.int64))
    t_add = time.perf_counter()
    result = {
        "status": "synced",
        "sync_performed": True,
        "vectors": int(fresh.ntotal),
        "count_s": t_count - t0,
        "fetch_s": t_fetch - t_count,
        "parse_s": t_parse - t_fetch,
        "stack_s": t_stack - t_parse,
        "add_s": t_add - t_stack,
        "rebuild_s": t_add - t0,
    }
    if save_to is not None:
        faiss.write_index(fresh, str(save_to))
        result["save_s"] = time.perf_counter() - t_add
    result["total_s"] = time.perf_counter() - t0
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", required=True, help="database URL filled by bench/datagen.py")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        result = sync_index_with_database(args.db, None, Path(tmp) / "faiss_index.idx")
    result["vectors_per_s"] = result["vectors"] / result["rebuild_s"] if result.get("rebuild_s") else None
    from resource import RUSAGE_SELF, getrusage

    result["peak_rss_mb"] = getrusage(RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
