"""Sync and rebuild benchmarks (issue 3), side by side in one run.

    .venv/bin/python bench/bench_sync.py                       # PG + SQLite, 100k and 1M, original at 100k and 300k
    .venv/bin/python bench/bench_sync.py --sizes 100000 --original 100000 --backends pg
    .venv/bin/python bench/bench_sync.py --reuse --keep        # keep the generated databases for the next run

Datasets are made by bench/datagen.py (real schema, triggers on), one per
backend and size; PostgreSQL databases are throw-away (`docqa_bench_*`,
dropped at the end unless --keep). Every measured case runs in a fresh
subprocess (bench/sync_cases.py) so peak RSS is per case. Cases, per backend:

  original  the original approach (JSON text, json.loads per row) at each --original size
  rebuild   Docqa.sync("force") at each size (repeated --repeat times; median reported)
  startup   Docqa.open + sync("auto") on an in-sync snapshot: load, checksum, digest-verify
  idle      sync("catch_up") with nothing to do (median of 200): must not grow with N
  catchup   10k plain-SQL changes (5k inserts, 3k updates, 2k deletes) -> sync("catch_up"),
            then 10k more -> sync("auto") (catch-up + full digest verification),
            then 10 more -> sync("catch_up") (what the live follower mostly sees)
  drift     one embedding changed with the change-log trigger disabled -> sync("auto") == repaired

Prints a table and writes bench/results/sync-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "src")]

import datagen  # noqa: E402

RESULTS = HERE / "results"
SRC = ""  # --src: the docqa source tree the cases import (default: this checkout's src/)
TARGETS = {"speedup_100k": 25.0, "rebuild_1m_vps": 80_000, "rss_over_raw": 2.0, "startup_s": 3.0, "catchup_s": 1.0}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Dataset:
    def __init__(self, backend: str, n: int, json_rows: int, workdir: Path, reuse: bool) -> None:
        self.backend, self.n, self.json_rows = backend, n, json_rows
        tag = f"{n}" if reuse else f"{os.getpid()}_{n}"
        self.pg_name = f"docqa_bench_{tag}"
        self.sqlite_path = workdir / f"bench_{tag}.db"
        self.url = datagen.pg_dsn(self.pg_name) if backend == "pg" else f"sqlite:///{self.sqlite_path.resolve()}"
        self.data_dir = workdir / f"data_{backend}_{tag}"

    def ready(self, seed: int) -> bool:
        exists = datagen.pg_exists(self.pg_name) if self.backend == "pg" else self.sqlite_path.exists()
        return exists and datagen.marker(self.url) == datagen.mark_for(self.n, self.json_rows, seed)

    def sink(self):
        return (
            datagen.PgSink(datagen.pg_create(self.pg_name))
            if self.backend == "pg"
            else datagen.SqliteSink(self.sqlite_path)
        )

    def drop(self) -> None:
        if self.backend == "pg":
            datagen.pg_drop(self.pg_name)
        else:
            for suffix in ("", "-wal", "-shm"):
                Path(str(self.sqlite_path) + suffix).unlink(missing_ok=True)
        import shutil

        shutil.rmtree(self.data_dir, ignore_errors=True)


def prepare(datasets: list[Dataset], seed: int, reuse: bool) -> dict:
    """Fill every dataset not already filled; datasets of one size share one pass (and its JSON encoding)."""
    made = {}
    for n in sorted({d.n for d in datasets}):
        group = [d for d in datasets if d.n == n and not (reuse and d.ready(seed))]
        if not group:
            log(f"reusing datasets of {n:,} rows")
            continue
        json_rows = max(d.json_rows for d in group)
        for d in group:
            d.json_rows = json_rows
        log(f"generating {n:,} rows ({json_rows:,} also as JSON) for {', '.join(d.backend for d in group)}")
        made[n] = datagen.fill([d.sink() for d in group], n, json_rows, seed, log=lambda m: log(m.strip()))
        log(f"  done in {made[n]['seconds']}s: {made[n]['breakdown_s']}")
    return made


def run_case(case: str, ds: Dataset, n: int = 0, **extra) -> dict:
    n = n or ds.n
    cmd = [
        sys.executable,
        str(HERE / "sync_cases.py"),
        case,
        "--db",
        ds.url,
        "--data-dir",
        str(ds.data_dir),
        "--n",
        str(n),
    ]
    for key, value in extra.items():
        cmd += [f"--{key}", str(value)]
    env = dict(os.environ, **({"DOCQA_BENCH_SRC": str(Path(SRC).resolve())} if SRC else {}))
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        log(f"  {case} {ds.backend} {n:,}: FAILED: {' | '.join(tail)}")
        return {"case": case, "backend": ds.backend, "n": n, "error": "\n".join(tail)}
    result = json.loads(lines[-1][len("RESULT ") :])
    result.update(backend=ds.backend, child_wall_s=round(time.perf_counter() - t, 2))
    log(f"  {case} {ds.backend} {n:,}: {summary(result)}")
    return result


def summary(r: dict) -> str:
    c = r["case"]
    if c == "floor":
        return f"{r['vectors_per_s']:,.0f} vectors/s ({r['tool']})"
    if c in ("rebuild", "original"):
        return f"{r['vectors_per_s']:,.0f} vectors/s, peak RSS +{r['rss_above_baseline_mb']:,.0f} MB ({r['rss_above_over_raw']}x raw)"
    if c == "startup":
        return f"{r['startup_s']:.2f}s -> {r['report']['status']}"
    if c == "idle":
        return f"median {r['median_ms']:.2f} ms over {r['samples']}"
    if c == "catchup":
        return f"catch_up {r['catch_up']['wall_s']:.2f}s ({r['catch_up']['report']['status']}), auto {r['auto']['wall_s']:.2f}s"
    if c == "drift":
        return f"{r['wall_s']:.2f}s -> {r['report']['status']} ({r['report']['repaired']} id)"
    return ""


def median_of(runs: list[dict]) -> dict:
    """The run with the median rebuild rate, carrying every sample's rate."""
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[0]
    ok.sort(key=lambda r: r["vectors_per_s"])
    best = dict(ok[len(ok) // 2])
    best["samples_vectors_per_s"] = [round(r["vectors_per_s"]) for r in ok]
    best["vectors_per_s"] = statistics.median(r["vectors_per_s"] for r in ok)
    return best


def run(args) -> dict:
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    sizes = sorted(args.sizes)
    originals = sorted(args.original)
    datasets: list[Dataset] = []
    for backend in args.backends:
        wanted = originals if backend == "pg" or args.original_sqlite_all else originals[:1]
        mine_sizes = sorted(args.sqlite_sizes) if backend == "sqlite" and args.sqlite_sizes else sizes
        for n in mine_sizes:
            # each original size runs on the smallest dataset that holds it
            mine = [s for s in wanted if n == min([m for m in mine_sizes if m >= s] or [0])]
            datasets.append(Dataset(backend, n, max(mine or [0]), workdir, args.reuse))
    started = time.time()
    info = {"started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "argv": sys.argv, "machine": machine()}
    info["datagen"] = prepare(datasets, args.seed, args.reuse)
    if args.prepare_only:
        return {**info, "results": [], "seconds": round(time.time() - started, 1)}
    results = []
    try:
        for ds in datasets:
            log(f"{ds.backend} {ds.n:,} rows ({ds.url})")
            if ds.json_rows:
                results.append(run_case("original", ds, n=ds.json_rows))
            results.append(run_case("floor", ds))
            results.append(median_of([run_case("rebuild", ds) for _ in range(args.repeat)]))
            for case in ("startup", "idle", "catchup", "drift"):
                if case in args.cases:
                    results.append(run_case(case, ds, **({"changes": args.changes} if case == "catchup" else {})))
    finally:
        if not args.keep:
            for ds in datasets:
                ds.drop()
    info.update(results=results, seconds=round(time.time() - started, 1), targets=TARGETS)
    return info


def machine() -> dict:
    mem_kb = int(
        next(ln for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal")).split()[1]
    )
    try:
        import psycopg

        with psycopg.connect(datagen.PG_ADMIN_DSN) as conn:
            pg = conn.execute("SHOW server_version").fetchone()[0]
    except Exception:
        pg = "unreachable"
    import faiss
    import numpy

    return {
        "cpus": os.cpu_count(),
        "mem_gib": round(mem_kb / 2**20, 1),
        "python": platform.python_version(),
        "postgresql": pg,
        "faiss": faiss.__version__,
        "numpy": numpy.__version__,
        "kernel": platform.release(),
        "loadavg_start": Path("/proc/loadavg").read_text().split()[:3],
    }


# --- the table ------------------------------------------------------------------


def table(info: dict) -> str:
    res = info["results"]

    def pick(case, backend, n=None):
        for r in res:
            if r["case"] == case and r["backend"] == backend and (n is None or r["n"] == n) and "error" not in r:
                return r
        return None

    rows = [("figure", "backend", "N", "measured", "target", "verdict")]
    for backend in sorted({r["backend"] for r in res}):
        for r in [x for x in res if x["backend"] == backend and x["case"] == "floor" and "error" not in x]:
            rows.append(
                (
                    "DB-only floor (shell to /dev/null)",
                    backend,
                    f"{r['vectors']:,}",
                    f"{r['vectors_per_s']:,.0f} vec/s ({r['floor_s']:.2f} s)",
                    "-",
                    "",
                )
            )
        for r in [x for x in res if x["backend"] == backend and x["case"] == "original" and "error" not in x]:
            rows.append(
                (
                    "rebuild, original approach",
                    backend,
                    f"{r['n']:,}",
                    f"{r['vectors_per_s']:,.0f} vec/s, "
                    f"RSS +{r['rss_above_baseline_mb']:,.0f} MB = {r['rss_above_over_raw']}x raw",
                    "-",
                    "baseline",
                )
            )
        for r in [x for x in res if x["backend"] == backend and x["case"] == "rebuild" and "error" not in x]:
            tgt = ">= 80,000 vec/s" if r["n"] >= 1_000_000 else "-"
            floor = pick("floor", backend, r["n"])
            vs_floor = f" ({r['rebuild_s'] / floor['floor_s']:.1f}x the DB-only floor)" if floor else ""
            rows.append(
                (
                    "rebuild, docqa",
                    backend,
                    f"{r['n']:,}",
                    f"{r['vectors_per_s']:,.0f} vec/s{vs_floor}{cpu_note(r)}",
                    tgt,
                    ok(r["vectors_per_s"] >= TARGETS["rebuild_1m_vps"]) if tgt != "-" else "",
                )
            )
            rows.append(
                (
                    "  peak RSS above baseline",
                    backend,
                    f"{r['n']:,}",
                    f"{r['rss_above_baseline_mb']:,.0f} MB = {r['rss_above_over_raw']}x raw (total {r['rss_total_over_raw']}x)",
                    "<= 2x raw",
                    ok(r["rss_above_over_raw"] <= TARGETS["rss_over_raw"]),
                )
            )
        for o in [x for x in res if x["backend"] == backend and x["case"] == "original" and "error" not in x]:
            same = pick("rebuild", backend, o["n"])
            r = same or min(
                [
                    x
                    for x in res
                    if x["backend"] == backend and x["case"] == "rebuild" and "error" not in x and x["n"] > o["n"]
                ]
                or [None],
                key=lambda x: x["n"] if x else 0,
            )
            if r is None:
                continue
            ratio = r["vectors_per_s"] / o["vectors_per_s"]
            label = f"{o['n']:,}" if same else f"{r['n']:,} vs {o['n']:,}"
            rows.append(
                (
                    "  speed-up over original",
                    backend,
                    label,
                    f"{ratio:.1f}x",
                    ">= 25x" if same else "-",
                    ok(ratio >= TARGETS["speedup_100k"]) if same else "",
                )
            )
        for r in [x for x in res if x["backend"] == backend and x["case"] == "startup" and "error" not in x]:
            rows.append(
                (
                    "startup, in-sync snapshot",
                    backend,
                    f"{r['n']:,}",
                    f"{r['startup_s']:.2f} s ({r['report']['status']}){cpu_note(r)}",
                    "<= 3 s" if r["n"] >= 1_000_000 else "-",
                    ok(r["startup_s"] <= TARGETS["startup_s"]) if r["n"] >= 1_000_000 else "",
                )
            )
        for r in [x for x in res if x["backend"] == backend and x["case"] == "catchup" and "error" not in x]:
            cu, au = r["catch_up"], r["auto"]
            rows.append(
                (
                    f"{r['changes']:,} changes, sync(catch_up)",
                    backend,
                    f"{r['n']:,}",
                    f"{cu['wall_s']:.2f} s ({cu['report']['status']}){cpu_note(cu)}",
                    "<= 1 s",
                    ok(cu["wall_s"] <= TARGETS["catchup_s"]),
                )
            )
            rows.append(
                (
                    f"{r['changes']:,} changes, sync(auto)",
                    backend,
                    f"{r['n']:,}",
                    f"{au['wall_s']:.2f} s ({au['report']['status']}){cpu_note(au)}",
                    "-",
                    "",
                )
            )
            if "catch_up_10" in r:
                small = r["catch_up_10"]
                rows.append(
                    (
                        "10 changes, sync(catch_up)",
                        backend,
                        f"{r['n']:,}",
                        f"{small['wall_s'] * 1000:.0f} ms ({small['report']['status']}){cpu_note(small)}",
                        "-",
                        "",
                    )
                )
        idle = [x for x in res if x["backend"] == backend and x["case"] == "idle" and "error" not in x]
        for r in idle:
            rows.append(
                (
                    "periodic check, 0 changes",
                    backend,
                    f"{r['n']:,}",
                    f"{r['median_ms']:.2f} ms (median)",
                    "O(changes)",
                    "",
                )
            )
        if len(idle) >= 2:
            lo, hi = min(idle, key=lambda x: x["n"]), max(idle, key=lambda x: x["n"])
            growth = hi["median_ms"] / lo["median_ms"]
            rows.append(
                (
                    "  ratio largest/smallest N",
                    backend,
                    f"{hi['n'] // lo['n']}x N",
                    f"{growth:.2f}x time",
                    "~1x",
                    ok(growth < 2.0),
                )
            )
        for r in [x for x in res if x["backend"] == backend and x["case"] == "drift" and "error" not in x]:
            rows.append(
                (
                    "drift repair (1 id, unlogged)",
                    backend,
                    f"{r['n']:,}",
                    f"{r['wall_s']:.2f} s ({r['report']['status']}, {r['report']['repaired']} id; {r['repair_s']:.2f} s before save)",
                    "-",
                    "",
                )
            )
    for r in res:
        if "error" in r:
            rows.append(
                (f"{r['case']} FAILED", r["backend"], f"{r['n']:,}", r["error"].splitlines()[-1][:60], "", "ERROR")
            )
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def cpu_note(r: dict) -> str:
    if "client_cpu_s" not in r:
        return ""
    server = f" + server {r['server_cpu_s']:.2f}" if "server_cpu_s" in r else ""
    return f"; CPU: client {r['client_cpu_s']:.2f}{server} s"


def ok(flag: bool) -> str:
    return "ok" if flag else "MISSED"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ints = lambda s: [int(float(x)) for x in s.split(",") if x]  # noqa: E731
    ap.add_argument("--sizes", type=ints, default=[100_000, 1_000_000], help="dataset sizes (default 100000,1000000)")
    ap.add_argument(
        "--original", type=ints, default=[100_000, 300_000], help="original-approach sizes (default 100000,300000)"
    )
    ap.add_argument("--sqlite-sizes", type=ints, default=None, help="SQLite dataset sizes (default: --sizes)")
    ap.add_argument("--original-sqlite-all", action="store_true", help="also run the original's larger sizes on SQLite")
    ap.add_argument("--backends", type=lambda s: s.split(","), default=["pg", "sqlite"])
    ap.add_argument("--cases", type=lambda s: s.split(","), default=["startup", "idle", "catchup", "drift"])
    ap.add_argument("--repeat", type=int, default=1, help="rebuild runs per dataset (median reported)")
    ap.add_argument("--changes", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", default=str(RESULTS / "work"))
    ap.add_argument("--reuse", action="store_true", help="reuse datasets left by a previous --keep run")
    ap.add_argument("--keep", action="store_true", help="keep the datasets (PG databases, SQLite files) afterwards")
    ap.add_argument("--prepare-only", action="store_true", help="only generate the datasets (implies --keep)")
    ap.add_argument("--src", default="", help="measure the docqa package in this src/ directory instead (A/B runs)")
    ap.add_argument("--out", default="")
    args = ap.parse_args(argv)
    args.keep = args.keep or args.prepare_only
    global SRC
    SRC = args.src
    info = run(args)
    text = table(info)
    print("\n" + text)
    info["table"] = text
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = Path(args.out) if args.out else RESULTS / f"sync-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(info, indent=2))
    log(f"results: {out} ({info['seconds']:.0f}s)")
    return 1 if any("error" in r for r in info["results"]) else 0


if __name__ == "__main__":
    sys.exit(main())
