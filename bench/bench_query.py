"""Query latency: MiniLM query embedding + vector search + keyword search + fusion, at 100k chunks.

Fills a fresh database with N synthetic chunks (prose-like text drawn from a
Zipf-distributed vocabulary, so the keyword side does real work; random unit
embeddings stored under model `minilm`, so vectors need no model time to
create), builds the flat FAISS index through the sync engine, then times
single queries the way `search_mode(..., mode="hybrid")` runs them:

    embed    MiniLM query embedding (the real model)
    vector   FAISS flat inner-product top-max(50, 4k) (one OpenMP thread, as the service runs it)
    keyword  full-text top-max(50, 4k) (SQLite FTS5 bm25 / PostgreSQL ts_rank_cd; PostgreSQL is
             VACUUM ANALYZEd after the load, as autovacuum would do: without statistics the planner
             can pick a plan that is 100x slower)
    fuse     reciprocal rank fusion down to k
    hydrate  reading the k result rows
    total    store.search(q, "hybrid", k) end to end (includes all of the above)

    .venv/bin/python bench/bench_query.py                       # SQLite, 100k chunks
    .venv/bin/python bench/bench_query.py --db postgresql://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/bench_query.py --n 20000 --queries 100 --embedder hash

Each stage is timed in wall-clock time and in CPU time of this process
(`time.process_time`, all threads): on a machine shared with other work the
wall time includes waiting for a core, the CPU time is what the query costs
on an idle one (every stage runs one thread). Results are printed and written
to bench/results/query-<db>-<n>.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from docqa.app import Docqa  # noqa: E402
from docqa.config import Settings  # noqa: E402
from docqa.search.dispatch import keyword_ids  # noqa: E402
from docqa.search.hybrid import candidate_depth, rrf_fuse  # noqa: E402
from docqa.search.vector import hits_from_ids, vector_ranking  # noqa: E402
from docqa.storage import repo  # noqa: E402
from docqa.storage.db import Database  # noqa: E402
from docqa.storage.migrate import migrate  # noqa: E402
from docqa.types import SearchFilters  # noqa: E402

COMMON = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "for",
    "on",
    "with",
    "that",
    "by",
    "as",
    "at",
    "be",
    "are",
    "from",
    "this",
    "or",
    "it",
    "an",
    "was",
    "which",
    "has",
    "have",
    "not",
    "will",
    "can",
    "should",
    "must",
    "may",
    "each",
    "after",
    "before",
    "when",
    "all",
    "any",
    "more",
    "other",
    "their",
]
TOPICAL = [
    "patient",
    "intake",
    "insurance",
    "card",
    "vaccine",
    "storage",
    "temperature",
    "fridge",
    "espresso",
    "descaling",
    "bicycle",
    "chain",
    "tyre",
    "pressure",
    "brake",
    "audit",
    "retention",
    "policy",
    "incident",
    "timeline",
    "outage",
    "discharge",
    "medication",
    "follow",
    "library",
    "history",
    "garden",
    "soil",
    "compost",
    "travel",
    "expense",
    "receipt",
    "hotel",
    "sourdough",
    "starter",
    "flour",
    "index",
    "database",
    "rebuild",
    "snapshot",
    "query",
    "search",
    "embedding",
    "keyword",
    "ranking",
    "fusion",
]
CHUNK_WORDS = (40, 90)


def vocabulary(size: int, rng: np.random.Generator) -> list[str]:
    """Function words first (the Zipf head), then made-up content words with the topical words spread
    over ranks 150..~2500, as content words are in real prose."""
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    made = sorted({"".join(rng.choice(letters, rng.integers(4, 11))) for _ in range(size * 2)} - set(TOPICAL))
    made = [made[i] for i in rng.permutation(len(made))][: size - len(COMMON) - len(TOPICAL)]
    for i, word in enumerate(TOPICAL):
        made.insert(100 + i * 40, word)
    return COMMON + made


def zipf_texts(n: int, vocab: list[str], rng: np.random.Generator) -> list[str]:
    weights = 1.0 / np.arange(1, len(vocab) + 1) ** 1.07
    weights /= weights.sum()
    lengths = rng.integers(*CHUNK_WORDS, size=n)
    picks = rng.choice(len(vocab), size=int(lengths.sum()), p=weights)
    words = np.array(vocab)[picks]
    out, pos = [], 0
    for length in lengths:
        out.append(" ".join(words[pos : pos + length]) + ".")
        pos += length
    return out


def fill(url: str, n: int, model: str, dim: int, seed: int) -> None:
    """Documents of 10 chunks each, written in large transactions through the real schema and triggers."""
    rng = np.random.default_rng(seed)
    texts = zipf_texts(n, vocabulary(20_000, rng), rng)
    db = Database(url)
    with db.connection() as conn:
        migrate(conn)
        repo.set_collection_model(conn, "default", model, dim)
        batch = 10_000
        for start in range(0, n, batch):
            with conn.transaction():
                docs = [
                    (f"bench-{d:08d}", f"doc{d}.txt") for d in range(start // 10, (min(n, start + batch) + 9) // 10)
                ]
                conn.executemany(
                    "INSERT INTO documents (id, collection, filename, content_type, status) "
                    "VALUES (?, 'default', ?, 'text/plain', 'indexed')",
                    docs,
                )
                vecs = rng.standard_normal((min(batch, n - start), dim), dtype=np.float32)
                vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
                rows = [
                    (
                        f"bench-{(start + i) // 10:08d}",
                        (start + i) % 10,
                        texts[start + i],
                        f"h{start + i}",
                        vecs[i].astype("<f4").tobytes(),
                        model,
                        dim,
                    )
                    for i in range(len(vecs))
                ]
                conn.executemany(
                    "INSERT INTO chunks (document_id, collection, ordinal, text, content_hash, embedding, "
                    "model, dim) VALUES (?, 'default', ?, ?, ?, ?, ?, ?)",
                    rows,
                )
        if conn.is_pg:  # what autovacuum does soon after a bulk load: planner statistics, GIN pending list flushed
            conn.execute("VACUUM ANALYZE chunks")
            conn.execute("VACUUM ANALYZE documents")
    db.close()


def queries(count: int, seed: int) -> list[str]:
    """Questions of 2-5 content words: topical ones plus words of log-uniform rank (common to rare)."""
    rng = np.random.default_rng(seed + 1)
    vocab = vocabulary(20_000, np.random.default_rng(seed))
    out = []
    for _ in range(count):
        ranks = np.exp(rng.uniform(np.log(100), np.log(len(vocab)), rng.integers(1, 3))).astype(int)
        words = list(rng.choice(TOPICAL, rng.integers(1, 4))) + [vocab[r] for r in ranks]
        out.append("how do I " + " ".join(words))
    return out


def pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 2)


def measure(store: Docqa, texts: list[str], k: int) -> dict[str, dict[str, dict[str, float]]]:
    """Per stage: wall-clock ms, and CPU ms of this process (what the stage costs on an idle core)."""
    names = ("embed", "vector", "keyword", "fuse", "hydrate", "total")
    wall: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    depth, filters, s = candidate_depth(k), SearchFilters(), store.settings
    for text in texts:
        marks = [(time.perf_counter(), time.process_time())]
        vector = store.embedder.embed_query(text)
        marks.append((time.perf_counter(), time.process_time()))
        vec_ids, _ = vector_ranking(store.corpus, vector, depth, filters)
        marks.append((time.perf_counter(), time.process_time()))
        kw_ids, _ = keyword_ids(store.corpus, text, depth, filters)
        marks.append((time.perf_counter(), time.process_time()))
        ids, scores = rrf_fuse([vec_ids, kw_ids], [s.hybrid_vector_weight, s.hybrid_keyword_weight], s.rrf_k, limit=k)
        marks.append((time.perf_counter(), time.process_time()))
        hits_from_ids(store.db, ids, scores)
        marks.append((time.perf_counter(), time.process_time()))
        store.search(text, mode="hybrid", k=k)
        marks.append((time.perf_counter(), time.process_time()))
        for i, name in enumerate(names):
            wall[name].append((marks[i + 1][0] - marks[i][0]) * 1000)
            cpu[name].append((marks[i + 1][1] - marks[i][1]) * 1000)

    def stats(values: list[float]) -> dict[str, float]:
        return {"p50": pct(values, 50), "p95": pct(values, 95), "mean": round(statistics.fmean(values), 2)}

    return {name: {"wall": stats(wall[name]), "cpu": stats(cpu[name])} for name in names}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000, help="chunks (default 100000)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--embedder", default="minilm")
    parser.add_argument("--db", default="", help="PostgreSQL admin URL (a throw-away database is made); default SQLite")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--embed-threads",
        type=int,
        default=1,
        help="torch threads for the MiniLM query embedding (default 1: one short query gains nothing "
        "from more, and on a busy 2-core machine 2 threads were 30x slower); 0: the embedder's default",
    )
    args = parser.parse_args()

    import faiss

    faiss.omp_set_num_threads(1)  # single queries: one OpenMP thread, as the service runs them
    work = Path(tempfile.mkdtemp(prefix="docqa-bench-query-"))
    pg_name = None
    if args.db:
        import psycopg

        pg_name = f"docqa_bench_query_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(args.db, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{pg_name}"')
        url = args.db.rpartition("/")[0] + "/" + pg_name
    else:
        url = f"sqlite:///{work / 'bench.db'}"
    settings = Settings(data_dir=work, database_url=url, embedder=args.embedder, snapshot_interval_s=3600)
    try:
        from docqa.embedders import get_embedder

        embedder = get_embedder(settings)
        if args.embed_threads and hasattr(embedder, "threads"):
            embedder.threads = args.embed_threads  # read when the model loads (first query)
        started = time.perf_counter()
        fill(url, args.n, embedder.model_id, embedder.dim, args.seed)
        fill_s = time.perf_counter() - started
        store = Docqa.open(settings, embedder=embedder)
        started = time.perf_counter()
        store.sync()
        sync_s = time.perf_counter() - started
        texts = queries(args.queries, args.seed)
        for text in texts[:10]:  # warm-up: model load, first FAISS/SQL calls
            store.search(text, mode="hybrid", k=args.k)
        results = measure(store, texts, args.k)
        store.close()
    finally:
        if pg_name:
            import psycopg

            with psycopg.connect(args.db, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
    report = {
        "n": args.n,
        "queries": args.queries,
        "k": args.k,
        "candidate_depth": candidate_depth(args.k),
        "embedder": args.embedder,
        "embed_threads": getattr(embedder, "threads", None),
        "load_average": __import__("os").getloadavg(),
        "database": "postgresql" if args.db else "sqlite",
        "fill_s": round(fill_s, 1),
        "sync_s": round(sync_s, 1),
        "machine": platform.platform(),
        "cpus": __import__("os").cpu_count(),
        "latency_ms": results,
    }
    print(
        f"{report['database']}, {args.n} chunks, {args.embedder}, k={args.k} (fill {fill_s:.1f} s, index {sync_s:.1f} s, "
        f"load average {report['load_average'][0]:.1f})"
    )
    print(f"{'stage':8} {'wall p50':>9} {'wall p95':>9} {'cpu p50':>9} {'cpu p95':>9}   (ms)")
    for name, row in results.items():
        w, c = row["wall"], row["cpu"]
        print(f"{name:8} {w['p50']:>9.2f} {w['p95']:>9.2f} {c['p50']:>9.2f} {c['p95']:>9.2f}")
    out = ROOT / "bench" / "results" / f"query-{report['database']}-{args.n}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
