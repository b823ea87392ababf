"""HNSW single-query latency: docqa's wrapper and engine against raw FAISS on the same graph, in one run.

Builds one FAISS IndexHNSWFlat (inner product) over N clustered unit vectors,
then times single queries (one OpenMP thread, as the service runs them) the
ways a search can reach that same graph:

    raw      faiss index.search(q, k, params=SearchParametersHNSW(efSearch=ef))
    index    docqa HnswIndex.search(q, k)             (the wrapper: params, id mapping)
    engine   docqa SyncEngine.search(q, k)            (plus the readers-writer lock)

and, with 1% of the rows tombstoned, `raw` with a bitmap IDSelector against
the wrapper (which must filter them); and a search allowed 10% of the ids
(a metadata filter: the wrapper maps ids to positions per call, raw FAISS gets
the bitmap ready-made). Variants are interleaved in rounds so
machine load hits them alike; p50/mean per query in microseconds, the
docqa/raw ratio, and recall@k against brute force are printed and written
to bench/results/hnsw-query-<n>.json.

    .venv/bin/python bench/bench_hnsw_query.py                        # 50k x 384, ef 16,32,64,128
    .venv/bin/python bench/bench_hnsw_query.py --n 100000 --ef 32,128
    .venv/bin/python bench/bench_hnsw_query.py --src /tmp/before/src   # another checkout (A/B)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def clustered(n: int, dim: int, seed: int, centers: int = 200, rank: int = 24) -> np.ndarray:
    """Unit vectors around `centers` cluster centres, each spread over a random `rank`-dimensional subspace
    (text embeddings have a low intrinsic dimension: isotropic 384-d noise would make every neighbour alike)."""
    rng = np.random.default_rng(0)  # the same clusters for the data and the queries
    c = rng.standard_normal((centers, dim)).astype(np.float32)
    basis = rng.standard_normal((centers, rank, dim)).astype(np.float32)
    rng = np.random.default_rng(seed)
    which = rng.integers(0, centers, n)
    z = rng.standard_normal((n, rank)).astype(np.float32)
    v = c[which] + np.einsum("nr,nrd->nd", z, basis[which]) * 0.25
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def wrap(hnsw_cls: Any, raw: Any, ids: np.ndarray, dim: int, m: int, efc: int, ef: int) -> Any:
    n = len(ids)
    return hnsw_cls(
        dim,
        m=m,
        ef_construction=efc,
        ef_search=ef,
        index=raw,
        labels=ids.copy(),
        alive=np.ones(n, dtype=bool),
        hashes=np.zeros(n, dtype=np.uint64),
    )


def engine_over(index: Any, dim: int) -> Any:
    from docqa.storage.db import Database
    from docqa.sync.engine import EngineConfig, SyncEngine

    tmp = Path(tempfile.mkdtemp(prefix="bench-hnsw-"))
    engine = SyncEngine(Database(f"sqlite:///{tmp / 'x.db'}"), EngineConfig("default", "bench", dim, tmp, "hnsw"))
    if hasattr(engine, "_held"):  # this checkout
        engine._held.install(index, "bench", 0, dirty=False)
    else:  # before the engine was split
        engine._index = index
    return engine


def time_queries(fn, queries: np.ndarray) -> list[float]:
    out = []
    for q in queries:
        q1 = q.reshape(1, -1)
        t = time.perf_counter()
        fn(q1)
        out.append(time.perf_counter() - t)
    return out


def recall(fn, queries: np.ndarray, truth: np.ndarray, k: int) -> float:
    got = [fn(q.reshape(1, -1))[1][0] for q in queries]
    return float(np.mean([len(set(t.tolist()) & set(g.tolist())) / k for t, g in zip(truth, got)]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--m", type=int, default=32)
    ap.add_argument("--ef-construction", type=int, default=80)
    ap.add_argument("--ef", default="16,32,64,128")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--src", default=str(ROOT / "src"), help="the docqa checkout to measure")
    args = ap.parse_args()
    sys.path.insert(0, args.src)
    import faiss

    from docqa.index.hnsw import HnswIndex

    dim, k = args.dim, args.k
    vecs = clustered(args.n, dim, seed=1)
    queries = clustered(args.queries, dim, seed=2)
    truth = np.argsort(-(queries @ vecs.T), axis=1)[:, :k]
    ids = np.arange(args.n, dtype=np.int64) * 2 + 3  # chunk ids are not positions (a sequence with gaps)
    truth_ids = ids[truth]

    t0 = time.perf_counter()
    raw = faiss.IndexHNSWFlat(dim, args.m, faiss.METRIC_INNER_PRODUCT)
    raw.hnsw.efConstruction = args.ef_construction
    raw.add(vecs)
    build_s = time.perf_counter() - t0
    faiss.omp_set_num_threads(1)  # single queries: one OpenMP thread, as the service runs them

    results: dict[str, Any] = {
        "src": args.src,
        "n": args.n,
        "dim": dim,
        "m": args.m,
        "ef_construction": args.ef_construction,
        "k": k,
        "build_s": round(build_s, 1),
        "loadavg": os.getloadavg()[0],
        "cases": [],
    }
    print(
        f"built HNSW n={args.n} m={args.m} efC={args.ef_construction} in {build_s:.1f} s; load {os.getloadavg()[0]:.1f}"
    )
    dead = np.arange(0, args.n, 100)  # 1% tombstones
    for ef in [int(x) for x in args.ef.split(",")]:
        index = wrap(HnswIndex, raw, ids, dim, args.m, args.ef_construction, ef)
        engine = engine_over(index, dim)
        params = faiss.SearchParametersHNSW(efSearch=max(ef, k))

        def raw_search(q, params=params):
            scores, pos = raw.search(q, k, params=params)
            return scores, np.where(pos >= 0, ids[np.maximum(pos, 0)], -1)

        variants = {
            "raw": raw_search,
            "index": lambda q, i=index: i.search(q, k),
            "engine": lambda q, e=engine: e.search(q, k),
        }
        # tombstoned (on a copy of the graph: removal zeroes their vectors): the wrapper filters them,
        # raw FAISS is given the same bitmap
        copy = faiss.clone_index(raw)
        tomb = wrap(HnswIndex, copy, ids, dim, args.m, args.ef_construction, ef)
        tomb.remove(ids[dead])
        alive = np.ones(args.n, dtype=bool)
        alive[dead] = False
        bitmap = np.packbits(alive, bitorder="little")
        sel = faiss.IDSelectorBitmap(args.n, faiss.swig_ptr(bitmap))
        tparams = faiss.SearchParametersHNSW(sel=sel, efSearch=max(ef, k))

        def raw_tomb(q, tparams=tparams, copy=copy):
            scores, pos = copy.search(q, k, params=tparams)
            return scores, np.where(pos >= 0, ids[np.maximum(pos, 0)], -1)

        variants |= {"raw_tombstoned": raw_tomb, "index_tombstoned": lambda q, i=tomb: i.search(q, k)}
        # filtered to 10% of the ids (a metadata filter): the wrapper maps the allowed ids to positions per call,
        # raw FAISS is handed the bitmap ready-made
        allowed = ids[::10].copy()
        fmask = np.zeros(args.n, dtype=bool)
        fmask[::10] = True
        fbitmap = np.packbits(fmask, bitorder="little")
        fsel = faiss.IDSelectorBitmap(args.n, faiss.swig_ptr(fbitmap))
        fparams = faiss.SearchParametersHNSW(sel=fsel, efSearch=max(ef, k))

        def raw_filtered(q, fparams=fparams):
            scores, pos = raw.search(q, k, params=fparams)
            return scores, np.where(pos >= 0, ids[np.maximum(pos, 0)], -1)

        variants |= {"raw_filtered": raw_filtered, "index_filtered": lambda q, i=index, a=allowed: i.search(q, k, a)}
        times: dict[str, list[float]] = {name: [] for name in variants}
        for fn in variants.values():  # warm up
            time_queries(fn, queries[:50])
        for _ in range(args.rounds):
            for name, fn in variants.items():
                times[name] += time_queries(fn, queries)
        case: dict[str, Any] = {"ef": ef}
        for name, ts in times.items():
            case[name] = {
                "p50_us": round(statistics.median(ts) * 1e6, 1),
                "mean_us": round(statistics.fmean(ts) * 1e6, 1),
            }
        for name in ("index", "engine"):
            case[f"{name}/raw"] = round(case[name]["p50_us"] / case["raw"]["p50_us"], 3)
        for name in ("tombstoned", "filtered"):
            case[f"index_{name}/raw_{name}"] = round(case[f"index_{name}"]["p50_us"] / case[f"raw_{name}"]["p50_us"], 3)
        case["recall"] = round(recall(variants["engine"], queries, truth_ids, k), 4)
        results["cases"].append(case)
        print(
            f"ef {ef:>4}: raw {case['raw']['p50_us']:>7.1f} us  index {case['index']['p50_us']:>7.1f} "
            f"({case['index/raw']:.2f}x)  engine {case['engine']['p50_us']:>7.1f} ({case['engine/raw']:.2f}x)  "
            f"| 1% tombstoned: raw {case['raw_tombstoned']['p50_us']:>7.1f}  index "
            f"{case['index_tombstoned']['p50_us']:>7.1f} ({case['index_tombstoned/raw_tombstoned']:.2f}x)  "
            f"| 10% filter: raw {case['raw_filtered']['p50_us']:>7.1f}  index {case['index_filtered']['p50_us']:>7.1f} "
            f"({case['index_filtered/raw_filtered']:.2f}x)  "
            f"| recall@{k} {case['recall']:.3f}"
        )
    results["loadavg_end"] = os.getloadavg()[0]
    out = ROOT / "bench" / "results" / f"hnsw-query-{args.n}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
