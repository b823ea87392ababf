"""`make bench`: the sync benchmarks, then every other bench/bench_*.py with its defaults.

    .venv/bin/python bench/run_all.py            # ~10 minutes: sync at 100k + 1M on PostgreSQL, 100k on SQLite
    .venv/bin/python bench/run_all.py --full     # 1M everywhere, original approach at 100k and 300k
    .venv/bin/python bench/run_all.py --only sync,query

A benchmark that fails is reported and the others still run; the exit status
is non-zero if any failed. Results land in bench/results/ (gitignored).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Default sync run: the figures of issue 3 at the sizes that matter on the
# production database, and the SQLite path at 100k; --full adds 1M on SQLite
# and the original approach at 300k. Rebuilds run 3 times (median reported: the machine is noisy).
SYNC_DEFAULT = [
    "--sizes",
    "100000,1000000",
    "--original",
    "100000",
    "--backends",
    "pg,sqlite",
    "--sqlite-sizes",
    "100000",
    "--repeat",
    "3",
]
SYNC_FULL = ["--sizes", "100000,1000000", "--original", "100000,300000", "--backends", "pg,sqlite", "--repeat", "3"]


def benches() -> list[Path]:
    return sorted(p for p in HERE.glob("bench_*.py") if p.name != "bench_sync.py")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="1M rows everywhere (and the original approach at 300k)")
    ap.add_argument("--only", default="", help="comma-separated names: sync, and the X of any bench/bench_X.py")
    ap.add_argument("--sync-args", default="", help="extra arguments for bench_sync.py, e.g. '--reuse --keep'")
    args = ap.parse_args(argv)
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    plan: list[tuple[str, list[str]]] = []
    if not only or "sync" in only:
        plan.append(
            (
                "sync",
                [str(HERE / "bench_sync.py"), *(SYNC_FULL if args.full else SYNC_DEFAULT), *args.sync_args.split()],
            )
        )
    for path in benches():
        name = path.stem.removeprefix("bench_")
        if not only or name in only:
            plan.append((name, [str(path)]))
    outcomes = []
    for name, cmd in plan:
        print(f"\n=== bench {name}: {' '.join(cmd)}", flush=True)
        t = time.perf_counter()
        try:
            code = subprocess.run([sys.executable, *cmd], cwd=HERE.parent).returncode
        except Exception as exc:  # keep going: one broken bench must not hide the others
            print(f"could not run {name}: {exc}", flush=True)
            code = -1
        outcomes.append((name, code, time.perf_counter() - t))
    print("\n=== summary")
    for name, code, secs in outcomes:
        print(f"{name:12s} {'ok' if code == 0 else f'FAILED (exit {code})':18s} {secs:7.0f}s")
    return 0 if all(code == 0 for _, code, _ in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
