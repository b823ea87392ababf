"""Sync, rebuild, verify, repair and start-up benchmarks on realistic rows, side by side in one run.

    .venv/bin/python bench/bench_sync.py                       # PG + SQLite, 100k and 1M realistic rows
    .venv/bin/python bench/bench_sync.py --sizes 100000 --backends pg --restored --doc-variants 1000,10000
    .venv/bin/python bench/bench_sync.py --reuse --keep        # keep the generated databases for the next run

Datasets are made by bench/datagen.py (real schema, triggers on): realistic rows by default (text
lengths, headings, words and document sizes from bench/corpus_profile.json, metadata, the tsvector),
left as a bulk ingest leaves them -- no ANALYZE, no VACUUM. `--restored` also makes, for every
PostgreSQL dataset, a copy by pg_dump | pg_restore (no statistics at all) and measures on it too;
`--doc-variants` adds datasets of the smallest size in exactly that many documents; `--thin-sizes`
adds thin synthetic rows (the old datasets) as a labelled floor. Every measured case runs in a
fresh subprocess (bench/sync_cases.py), so peak RSS is per case, and the load average is recorded
with each. Cases, per dataset:

  original  the original approach (JSON text, json.loads per row) at each --original size
  floor     the database alone handing over the member vectors (psql / sqlite3 to /dev/null)
  rebuild   sync("force"), --repeat times (the first right after the ingest or the restore); median
  startup   open + sync("auto") on an in-sync snapshot: load, checksum, digest-verify; --repeat times
  idle      sync("catch_up") with nothing to do (median of 200)
  catchup   10k plain-SQL changes -> sync("catch_up"), 10k more -> sync("auto"), 10 more -> catch_up
  drift     one embedding changed with the change-log trigger off -> sync("auto") == repaired
  analyze   the background statistics refresh (then the statistics are removed again)
  migrate   (--migrate N) a dataset made at schema N: the upgrade, the first sync, close

Prints a table and writes bench/results/sync-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "src")]

import datagen  # noqa: E402

RESULTS = HERE / "results"
SRC = ""  # --src: the docqa source tree the cases import (default: this checkout's src/)
TARGETS = {"speedup_100k": 25.0, "rebuild_1m_vps": 150_000, "startup_1m_s": 1.5, "catchup_1m_s": 0.3}
BASE_CASES = [
    "rebuild",
    "floor",
    "startup",
    "idle",
    "catchup",
    "drift",
    "analyze",
]  # rebuild first: right after the ingest
COPY_CASES = ["rebuild", "startup", "catchup", "analyze"]  # restored copies and document variants


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


@dataclass
class Dataset:
    backend: str
    n: int
    shape: datagen.Shape
    workdir: Path
    json_rows: int = 0
    restored: bool = False  # a pg_dump | pg_restore copy of the dataset of the same shape
    cases: list[str] = field(default_factory=lambda: list(BASE_CASES))

    @property
    def tag(self) -> str:
        s = self.shape
        kind = "thin" if s.thin else "real"
        return f"{self.n}_{kind}" + (f"_d{s.docs}" if s.docs else "") + (f"_v{s.schema}" if s.schema else "")

    @property
    def label(self) -> str:
        s = self.shape
        what = "thin rows (floor)" if s.thin else "realistic"
        if s.docs:
            what += f", {s.docs:,} docs"
        if s.schema:
            what += f", made at schema {s.schema}"
        return what + (", restored" if self.restored else "")

    @property
    def pg_name(self) -> str:
        return f"docqa_bench_{self.tag}" + ("_restored" if self.restored else "")

    @property
    def sqlite_path(self) -> Path:
        return self.workdir / f"bench_{self.tag}.db"

    @property
    def url(self) -> str:
        return datagen.pg_dsn(self.pg_name) if self.backend == "pg" else f"sqlite:///{self.sqlite_path.resolve()}"

    @property
    def data_dir(self) -> Path:
        return self.workdir / (f"data_{self.backend}_{self.tag}" + ("_restored" if self.restored else ""))

    def ready(self, seed: int) -> bool:
        exists = datagen.pg_exists(self.pg_name) if self.backend == "pg" else self.sqlite_path.exists()
        return exists and datagen.marker(self.url) == datagen.mark_for(self.n, self.json_rows, seed, self.shape)

    def sink(self):
        if self.backend == "pg":
            return datagen.PgSink(datagen.pg_create(self.pg_name))
        return datagen.SqliteSink(self.sqlite_path)

    def drop(self) -> None:
        import shutil

        if self.backend == "pg":
            datagen.pg_drop(self.pg_name)
        else:
            for suffix in ("", "-wal", "-shm"):
                Path(str(self.sqlite_path) + suffix).unlink(missing_ok=True)
        shutil.rmtree(self.data_dir, ignore_errors=True)


def prepare(datasets: list[Dataset], seed: int, reuse: bool) -> dict:
    """Fill every dataset not already filled (one pass per size and shape, shared by the backends);
    then make the restored copies from their freshly filled source."""
    made: dict[str, dict] = {}
    bases = [d for d in datasets if not d.restored]
    for key in sorted({(d.n, d.shape) for d in bases}, key=lambda k: (k[0], k[1].tag)):
        n, shape = key
        group = [d for d in bases if (d.n, d.shape) == key and not (reuse and d.ready(seed))]
        if not group:
            log(f"reusing datasets of {n:,} rows{shape.tag}")
            continue
        json_rows = max(d.json_rows for d in group)
        for d in group:
            d.json_rows = json_rows
        log(f"generating {n:,} rows{shape.tag} ({json_rows:,} also as JSON) for {', '.join(d.backend for d in group)}")
        info = datagen.fill([d.sink() for d in group], n, json_rows, seed, log=lambda m: log(m.strip()), shape=shape)
        made[f"{n}{shape.tag}"] = info
        log(f"  done in {info['seconds']}s: {info['breakdown_s']}")
    for r in [d for d in datasets if d.restored]:
        if reuse and r.ready(seed):
            log(f"reusing restored copy {r.pg_name}")
            continue
        source = next(d for d in bases if (d.n, d.shape, d.backend) == (r.n, r.shape, "pg"))
        log(f"restoring {source.pg_name} into {r.pg_name} (pg_dump -Fc | pg_restore)")
        made[r.pg_name] = datagen.pg_restore_copy(source.pg_name, r.pg_name)
        log(f"  {made[r.pg_name]}")
    return made


def run_case(case: str, ds: Dataset, n: int = 0, **extra) -> dict:
    n = n or ds.n
    cmd = [sys.executable, str(HERE / "sync_cases.py"), case, "--db", ds.url, "--data-dir", str(ds.data_dir)]
    cmd += ["--n", str(n)]
    for key, value in extra.items():
        cmd += [f"--{key}", str(value)]
    env = dict(os.environ, **({"DOCQA_BENCH_SRC": str(Path(SRC).resolve())} if SRC else {}))
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        log(f"  {case} {ds.backend} {ds.label} {n:,}: FAILED: {' | '.join(tail)}")
        return {"case": case, "backend": ds.backend, "dataset": ds.tag, "n": n, "error": "\n".join(tail)}
    result = json.loads(lines[-1][len("RESULT ") :])
    result.update(
        backend=ds.backend,
        dataset=ds.tag + ("_restored" if ds.restored else ""),
        label=ds.label,
        child_wall_s=round(time.perf_counter() - t, 2),
    )
    log(f"  {case} {ds.backend} {ds.label} {n:,}: {summary(result)} (load {result['loadavg_before']})")
    return result


KEY = {"rebuild": "vectors_per_s", "startup": "startup_s", "catchup": None, "original": "vectors_per_s"}


def summary(r: dict) -> str:
    c = r["case"]
    if c == "floor":
        return f"{r['vectors_per_s']:,.0f} vectors/s ({r['floor_s']:.2f} s, {r['tool']})"
    if c in ("rebuild", "original"):
        return f"{r['vectors_per_s']:,.0f} vectors/s, peak RSS +{r['rss_above_baseline_mb']:,.0f} MB"
    if c == "startup":
        return f"{r['startup_s']:.2f}s -> {r['report']['status']}"
    if c == "idle":
        return f"median {r['median_ms']:.2f} ms over {r['samples']}"
    if c == "catchup":
        cu, au = r["catch_up"], r["auto"]
        return f"catch_up {cu['wall_s']:.2f}s ({cu['report']['status']}), auto {au['wall_s']:.2f}s"
    if c == "drift":
        return f"{r['wall_s']:.2f}s -> {r['report']['status']} ({r['report']['repaired']} id)"
    if c == "analyze":
        return f"{r['analyze_s']:.2f}s ({', '.join(r['analysed']) or 'nothing stale'})"
    if c == "migrate":
        return f"migration {r['migrate_s']:.2f}s, first sync {r['first_sync_s']:.2f}s, close {r['close_s']:.2f}s"
    return ""


def repeated(case: str, ds: Dataset, times: int, **extra) -> dict:
    """`times` runs of a case; the median run carries every sample (and the first one, e.g. right after ingest)."""
    runs = [run_case(case, ds, **extra) for _ in range(times)]
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[0]
    value = {
        "rebuild": lambda r: r["vectors_per_s"],
        "startup": lambda r: -r["startup_s"],
        "catchup": lambda r: -r["catch_up"]["wall_s"],
    }[case]
    ordered = sorted(ok, key=value)
    best = dict(ordered[len(ordered) // 2])
    best["samples"] = [round(abs(value(r)), 3) for r in ok]  # in run order
    best["first"] = round(abs(value(ok[0])), 3)
    best["loadavg_runs"] = [r["loadavg_before"] for r in ok]
    return best


def reset_statistics(ds: Dataset) -> None:
    """Remove what the analyze case made, so the dataset stays as the ingest left it (superuser)."""
    if ds.backend != "pg":
        return
    import psycopg

    with psycopg.connect(ds.url, autocommit=True) as conn:
        conn.execute(
            "DELETE FROM pg_statistic WHERE starelid IN "
            "('chunks'::regclass, 'documents'::regclass, 'index_changes'::regclass)"
        )


def run(args) -> dict:
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    datasets: list[Dataset] = []
    real = datagen.Shape(thin=False)
    for backend in args.backends:
        sizes = sorted(args.sqlite_sizes) if backend == "sqlite" and args.sqlite_sizes else sorted(args.sizes)
        for n in sizes:
            json_rows = max([o for o in args.original if o <= n and n == min(s for s in sizes if s >= o)] or [0])
            base = Dataset(backend, n, real, workdir, json_rows=json_rows, cases=list(args.cases))
            datasets.append(base)
            if backend == "pg" and args.restored:  # the marker (and so json_rows) is the source's
                datasets.append(Dataset(backend, n, real, workdir, json_rows, restored=True, cases=list(COPY_CASES)))
        for docs in args.doc_variants:
            shape = datagen.Shape(thin=False, docs=docs)
            datasets.append(Dataset(backend, min(sizes), shape, workdir, cases=list(COPY_CASES)))
            if backend == "pg" and args.restored:
                datasets.append(Dataset(backend, min(sizes), shape, workdir, restored=True, cases=list(COPY_CASES)))
        for n in args.thin_sizes:
            datasets.append(Dataset(backend, n, datagen.Shape(thin=True), workdir, cases=["rebuild", "startup"]))
        if args.migrate:
            for n in args.migrate_sizes or sizes[-1:]:
                shape = datagen.Shape(thin=False, schema=args.migrate)
                datasets.append(Dataset(backend, n, shape, workdir, cases=["migrate"]))
    started = time.time()
    info = {"started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "argv": sys.argv, "machine": machine()}
    info["datagen"] = prepare(datasets, args.seed, args.reuse)
    if args.prepare_only:
        return {**info, "results": [], "seconds": round(time.time() - started, 1)}
    results: list[dict] = []
    try:
        for ds in datasets:
            log(f"{ds.backend} {ds.n:,} {ds.label} ({ds.url})")
            if ds.json_rows and not ds.restored:
                results.append(run_case("original", ds, n=ds.json_rows))
            for case in ds.cases:
                if case in ("rebuild", "startup", "catchup"):
                    extra = {"changes": args.changes} if case == "catchup" else {}
                    results.append(repeated(case, ds, args.repeat, **extra))
                elif case == "analyze":
                    results.append(run_case("analyze", ds))
                    reset_statistics(ds)
                else:
                    results.append(run_case(case, ds))
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
            autovacuum = conn.execute("SHOW autovacuum").fetchone()[0]
            shared = conn.execute("SHOW shared_buffers").fetchone()[0]
    except Exception:
        pg, autovacuum, shared = "unreachable", "", ""
    import faiss
    import numpy

    return {
        "cpus": os.cpu_count(),
        "mem_gib": round(mem_kb / 2**20, 1),
        "python": platform.python_version(),
        "postgresql": pg,
        "autovacuum": autovacuum,
        "shared_buffers": shared,
        "faiss": faiss.__version__,
        "numpy": numpy.__version__,
        "kernel": platform.release(),
        "loadavg_start": Path("/proc/loadavg").read_text().split()[:3],
    }


# --- the table ------------------------------------------------------------------


def table(info: dict) -> str:
    res = [r for r in info["results"] if "error" not in r]
    rows = [("figure", "backend", "dataset", "measured", "target")]

    def add(figure: str, r: dict, measured: str, target: str = "") -> None:
        rows.append((figure, r["backend"], f"{r['n']:,} {r['label']}", measured, target))

    def samples(r: dict, unit: str = "") -> str:
        return f" (runs {', '.join(f'{x:,.3g}' for x in r.get('samples', []))}{unit}; load {r.get('loadavg_runs')})"

    originals = {(r["backend"], r["n"]): r for r in res if r["case"] == "original"}
    for r in res:
        c, big = r["case"], r["n"] >= 1_000_000
        if c == "original":
            add("rebuild, original approach", r, f"{r['vectors_per_s']:,.0f} v/s ({r['rebuild_s']:.1f} s)")
        elif c == "floor":
            add("DB-only floor", r, f"{r['vectors_per_s']:,.0f} v/s ({r['floor_s']:.2f} s)")
        elif c == "rebuild":
            o = originals.get((r["backend"], r["n"]))
            ratio = f", {r['vectors_per_s'] / o['vectors_per_s']:.1f}x the original" if o else ""
            target = ">= 150,000 v/s" if big else (">= 25x original" if r["n"] == 100_000 else "")
            add("rebuild sync(force)", r, f"{r['vectors_per_s']:,.0f} v/s{ratio}" + samples(r), target)
            add(
                "  peak RSS above baseline", r, f"{r['rss_above_baseline_mb']:,.0f} MB = {r['rss_above_over_raw']}x raw"
            )
        elif c == "startup":
            target = "<= 1.5 s" if big else ""
            add(
                "start-up, in-sync snapshot",
                r,
                f"{r['startup_s']:.2f} s ({r['report']['status']})" + samples(r, " s"),
                target,
            )
        elif c == "idle":
            add("periodic check, 0 changes", r, f"{r['median_ms']:.2f} ms")
        elif c == "catchup":
            cu, au, small = r["catch_up"], r["auto"], r["catch_up_10"]
            add(
                f"{r['changes']:,} changes, catch_up",
                r,
                f"{cu['wall_s']:.2f} s" + samples(r, " s"),
                "<= 0.3 s" if big else "",
            )
            add(f"{r['changes']:,} changes, auto", r, f"{au['wall_s']:.2f} s ({au['report']['status']})")
            add("10 changes, catch_up", r, f"{small['wall_s'] * 1000:.0f} ms")
        elif c == "drift":
            add("drift repair, 1 id", r, f"{r['wall_s']:.2f} s ({r['report']['status']})")
        elif c == "analyze":
            add("statistics refresh (background)", r, f"{r['analyze_s']:.2f} s: {', '.join(r['analysed']) or '-'}")
        elif c == "migrate":
            add("upgrade: migration", r, f"{r['migrate_s']:.2f} s (schema {r['from_version']} -> {r['to_version']})")
            add(
                "upgrade: first sync, close",
                r,
                f"{r['first_sync_s']:.2f} s ({r['first_sync']['status']}), close {r['close_s']:.2f} s",
            )
    for r in info["results"]:
        if "error" in r:
            rows.append(
                (f"{r['case']} FAILED", r["backend"], r.get("dataset", ""), r["error"].splitlines()[-1][:60], "")
            )
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ints = lambda s: [int(float(x)) for x in s.split(",") if x]  # noqa: E731
    ap.add_argument("--sizes", type=ints, default=[100_000, 1_000_000], help="dataset sizes (default 100000,1000000)")
    ap.add_argument("--original", type=ints, default=[100_000], help="original-approach sizes (default 100000)")
    ap.add_argument("--sqlite-sizes", type=ints, default=None, help="SQLite dataset sizes (default: --sizes)")
    ap.add_argument("--backends", type=lambda s: s.split(","), default=["pg", "sqlite"])
    ap.add_argument("--cases", type=lambda s: s.split(","), default=BASE_CASES)
    ap.add_argument("--restored", action="store_true", help="also measure pg_dump | pg_restore copies (PostgreSQL)")
    ap.add_argument("--doc-variants", type=ints, default=[], help="smallest size again in exactly N documents")
    ap.add_argument("--thin-sizes", type=ints, default=[], help="thin synthetic rows at these sizes (the floor)")
    ap.add_argument("--migrate", type=int, default=0, help="also time the upgrade of a dataset made at this schema")
    ap.add_argument("--migrate-sizes", type=ints, default=[], help="sizes for --migrate (default: the largest)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of rebuild / startup / catchup (median reported)")
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
