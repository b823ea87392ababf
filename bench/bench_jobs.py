"""What a file costs as an ingest job instead of a direct ingest, and how fast an idle worker picks one up.

    .venv/bin/python bench/bench_jobs.py                      # SQLite and PostgreSQL, 200 files
    .venv/bin/python bench/bench_jobs.py --backends pg --files 500

Per backend, on fresh databases, the hash embedder (so the figures are the queue's, not a model's):

  direct          `Docqa.ingest_bytes` of every file, one after the other
  jobs, 1 worker  every file submitted, then one in-process worker runs them all: total, per-job overhead
  jobs, 2 workers the same with a pool of 2 threads (one process: the GIL and SQLite's one writer share it)
  pick-up         one job at a time into an idle worker (polling every 0.25 s, woken by the submit):
                  submit -> done latency, p50 / p99

PostgreSQL uses a throw-away database (`docqa_bench_jobs_*`), dropped at the end.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from docqa.app import Docqa
from docqa.config import Settings

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
WORDS = [
    "the",
    "vaccine",
    "fridge",
    "is",
    "checked",
    "twice",
    "a",
    "day",
    "and",
    "its",
    "temperature",
    "is",
    "logged",
    "by",
    "the",
    "nurse",
    "on",
    "duty",
]


def files(n: int, salt: str) -> list[bytes]:
    return [
        "\n\n".join(" ".join(WORDS[(i + j) % len(WORDS) :] + WORDS[: (i + j) % len(WORDS)]) for j in range(12)).encode()
        + f"\n{salt}-{i}\n".encode()
        for i in range(n)
    ]


def open_library(url: str, data_dir: Path) -> Docqa:
    return Docqa.open(Settings(data_dir=data_dir, database_url=url, embedder="hash", job_workers=0))


def run_jobs(library: Docqa, payload: list[bytes], concurrency: int) -> tuple[float, list[float]]:
    ids = [library.jobs.submit(data, f"f{i}.txt").id for i, data in enumerate(payload)]
    pool = library.jobs.pool(concurrency, name=f"bench{concurrency}")
    start = time.perf_counter()
    pool.start()
    while not all(j.finished for j in library.jobs.get_many(ids)):
        time.sleep(0.01)
    total = time.perf_counter() - start
    pool.stop()
    jobs = library.jobs.get_many(ids)
    assert all(j.status == "done" for j in jobs), [j.error for j in jobs if j.status != "done"][:3]
    return total, [j.finished_at - j.started_at for j in jobs if j.finished_at and j.started_at]


def pick_up(library: Docqa, payload: list[bytes]) -> list[float]:
    pool = library.jobs.pool(1, name="pickup")
    pool.start()
    time.sleep(0.5)  # idle
    waits = []
    for i, data in enumerate(payload):
        start = time.perf_counter()
        job = library.jobs.submit(data, f"p{i}.txt")
        done = library.jobs.wait(job.id, 30)
        waits.append(time.perf_counter() - start)
        assert done.status == "done", done.error
        time.sleep(0.3)  # let the worker go idle again
    pool.stop()
    return waits


def bench(url_for, label: str, n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        direct_lib = open_library(url_for("direct"), Path(tmp) / "direct")
        payload = files(n, "d")
        start = time.perf_counter()
        for i, data in enumerate(payload):
            assert direct_lib.ingest_bytes(data, f"f{i}.txt", sync=False).status == "added"
        direct = time.perf_counter() - start
        direct_lib.close()
        print(f"{label}: direct         {n} files in {direct:.2f} s ({direct / n * 1000:.1f} ms/file)")
        for concurrency in (1, 2):
            library = open_library(url_for(f"jobs{concurrency}"), Path(tmp) / f"jobs{concurrency}")
            total, runs = run_jobs(library, files(n, f"j{concurrency}"), concurrency)
            over = (total - direct) / n * 1000
            print(
                f"{label}: jobs, {concurrency} worker{'s' if concurrency > 1 else ' '} {n} files in {total:.2f} s "
                f"({total / n * 1000:.1f} ms/file, {over:+.1f} ms/file vs direct; "
                f"run p50 {statistics.median(runs) * 1000:.1f} ms)"
            )
            if concurrency == 1:
                waits = sorted(pick_up(library, files(30, "p")))
                p99 = waits[min(len(waits) - 1, int(len(waits) * 0.99))]
                print(
                    f"{label}: pick-up        submit -> done p50 {statistics.median(waits) * 1000:.1f} ms, "
                    f"p99 {p99 * 1000:.1f} ms (30 jobs into an idle worker)"
                )
            library.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backends", default="sqlite,pg")
    parser.add_argument("--files", type=int, default=200)
    args = parser.parse_args()
    backends = args.backends.split(",")
    if "sqlite" in backends:
        with tempfile.TemporaryDirectory() as tmp:
            bench(lambda name: f"sqlite:///{tmp}/{name}.db", "sqlite", args.files)
    if "pg" in backends:
        import psycopg

        database = f"docqa_bench_jobs_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{database}"')
        base = PG_ADMIN.rsplit("/", 1)[0] + f"/{database}"
        try:
            with psycopg.connect(base, autocommit=True) as conn:
                for name in ("direct", "jobs1", "jobs2"):
                    conn.execute(f"CREATE SCHEMA {name}")
            bench(lambda name: f"{base}?options=-csearch_path%3D{name}", "pg", args.files)
        finally:
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
