"""Replicas on one PostgreSQL, started by deploy/run-local.sh behind haproxy: convergence and search scaling.

1. Convergence (3 replicas): `--writes` documents written one after another, each through a replica drawn
   at random (its own port, so the writer is known). A watcher thread per replica polls `/health`
   (`index.applied_seq`, no database work) every `--watch-ms`; a write has converged on a replica when
   its applied seq reaches the write's seq. Reported: from the moment the write's response arrived to
   the moment the last replica applied it, p50 / p99 / max (resolution: the watch interval).
2. Search throughput through haproxy with 1 and with 3 replicas: `--clients` threads, each an httpx
   client in a closed loop of `POST /api/v1/search/` (limit 10, rotating queries) for `--seconds`.
   Reported: requests/s, p50 / p99 latency, and CPU per request of the replicas, of haproxy and of this
   load generator and of the PostgreSQL backends serving the bench database (utime + stime from /proc), so throughput on more cores can be computed:
   max req/s ~= cores / (replica + haproxy + PostgreSQL CPU per request).

3. Ingest with 1 and with 2 standalone workers (`DOCQA_RUN_WORKERS`, once `docqa worker` exists): one
   replica that runs no job itself (`DOCQA_JOB_WORKERS=0`), `--ingest-files` text files of ~10 chunks
   submitted as jobs through haproxy, each worker embedding on one thread (`--ingest-embedder`,
   minilm-int8 by default). Reported: chunks/s from the first submit to the last job done, and CPU
   per chunk of the workers and of PostgreSQL.

The hash embedder (default for 1-2) leaves the model out: the figures are the service's own cost; a
MiniLM query embedding adds its own CPU per request (docs/benchmarks.md).

    .venv/bin/python bench/bench_replicas.py                      # ~2-3 min on 2 busy cores
    .venv/bin/python bench/bench_replicas.py --writes 400 --seconds 30

Needs PostgreSQL (DOCQA_BENCH_PG_DSN, default postgresql://postgres@127.0.0.1:5432/postgres: a throw-away
database is created and dropped) and haproxy. Results: bench/results/replicas.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
RUN_LOCAL = ROOT / "deploy" / "run-local.sh"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def backend_pids(admin: str, database: str) -> set[int]:
    """The PostgreSQL backends serving `database` (the replicas' pooled connections)."""
    with psycopg.connect(admin, autocommit=True) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (database,)).fetchall()
    return {int(r[0]) for r in rows}


def backend_cpu(pids: set[int]) -> dict[int, float]:
    out = {}
    for pid in pids:
        try:
            out[pid] = cpu_s(pid)
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            pass
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Fleet:
    """deploy/run-local.sh start/stop, with its endpoints and pids."""

    def __init__(self, db_url: str, run_dir: Path, embedder: str) -> None:
        base = random.randint(20_000, 50_000)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("DOCQA_")}
        self.env.update(
            RUN_DIR=str(run_dir),
            DOCQA_DATABASE_URL=db_url,
            DOCQA_EMBEDDER=embedder,
            DOCQA_LB_PORT=str(base),
            DOCQA_REPLICA_PORT=str(base + 1),
            DOCQA_CMD=f"{sys.executable} -m docqa.cli.main",
            DOCQA_LOG_LEVEL="WARNING",
            PYTHONPATH=f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
            OMP_NUM_THREADS="1",
        )
        self.run_dir = run_dir

    def start(self, replicas: int, **extra: str) -> dict[str, str]:
        env = {**self.env, **{f"DOCQA_{k.upper()}": v for k, v in extra.items()}}
        subprocess.run(["bash", str(RUN_LOCAL), "start", str(replicas)], env=env, check=True)
        lines = (self.run_dir / "endpoints").read_text().split()
        return dict(line.split("=", 1) for line in lines)

    def pids(self, prefix: str) -> list[int]:
        return [int(p.read_text()) for p in sorted(self.run_dir.glob(f"{prefix}*.pid"))]

    def stop(self) -> None:
        subprocess.run(["bash", str(RUN_LOCAL), "stop"], env=self.env, check=False)


def convergence(replicas: list[str], writes: int, watch_ms: float) -> dict[str, object]:
    applied: dict[str, list[tuple[float, int]]] = {r: [] for r in replicas}  # (time, applied seq) changes
    stop = threading.Event()

    def watch(base: str) -> None:
        with httpx.Client(base_url=base, timeout=5) as http:
            last = -1
            while not stop.is_set():
                seq = http.get("/health").json()["index"]["applied_seq"]
                if seq != last:
                    applied[base].append((time.perf_counter(), seq))
                    last = seq
                time.sleep(watch_ms / 1000)

    watchers = [threading.Thread(target=watch, args=(r,), daemon=True) for r in replicas]
    for w in watchers:
        w.start()
    clients = {r: httpx.Client(base_url=r, timeout=30) for r in replicas}
    done: list[tuple[float, int, float]] = []  # (response time, seq, write latency)
    rng = random.Random(7)
    for i in range(writes):
        target = rng.choice(replicas)
        chunks = [{"index": j, "content": f"convergence doc {i} part {j} {uuid.uuid4().hex}"} for j in range(5)]
        t0 = time.perf_counter()
        resp = clients[target].post("/api/v1/index/", json={"document_id": f"conv-{i}", "chunks": chunks})
        resp.raise_for_status()
        t1 = time.perf_counter()
        done.append((t1, resp.json()["seq"], t1 - t0))
    last_seq = done[-1][1]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(not a or a[-1][1] < last_seq for a in applied.values()):
        time.sleep(0.05)
    stop.set()
    for w in watchers:
        w.join()
    lags = []
    for t_written, seq, _ in done:
        seen = [next((t for t, s in applied[r] if s >= seq), None) for r in replicas]
        if any(t is None for t in seen):
            raise SystemExit(f"write seq {seq} never reached every replica")
        lags.append(max(0.0, max(t for t in seen if t is not None) - t_written))
    ms = [x * 1000 for x in lags]
    return {
        "writes": writes,
        "chunks_per_write": 5,
        "watch_interval_ms": watch_ms,
        "converged_ms": {"p50": round(pct(ms, 0.5), 1), "p99": round(pct(ms, 0.99), 1), "max": round(max(ms), 1)},
        "within_1s": sum(1 for x in lags if x <= 1.0),
        "write_latency_ms_p50": round(statistics.median(d[2] for d in done) * 1000, 1),
    }


def search_load(
    lb: str, server_pids: list[int], lb_pid: int, clients: int, seconds: float, db: tuple[str, str]
) -> dict[str, object]:
    queries = [f"convergence doc {i} part {i % 5}" for i in range(200)]
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def client(n: int) -> None:
        local, bad = [], 0
        with httpx.Client(base_url=lb, timeout=30) as http:
            i = n
            while time.perf_counter() < stop_at:
                t0 = time.perf_counter()
                resp = http.post("/api/v1/search/", json={"query": queries[i % len(queries)], "limit": 10})
                local.append(time.perf_counter() - t0)
                bad += resp.status_code != 200
                i += clients
        with lock:
            latencies.extend(local)
            errors[0] += bad

    before = {p: cpu_s(p) for p in [*server_pids, lb_pid]}
    pg_before = backend_cpu(backend_pids(*db))
    self_before = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    self_after = resource.getrusage(resource.RUSAGE_SELF)
    used = {p: cpu_s(p) - before[p] for p in before}
    # backends opened during the run count from 0 (their whole life is in it); ones closed during it are lost
    pg_after = backend_cpu(backend_pids(*db))
    pg_cpu = sum(t - pg_before.get(pid, 0.0) for pid, t in pg_after.items())
    n = len(latencies)
    server_cpu = sum(used[p] for p in server_pids)
    client_cpu = (self_after.ru_utime + self_after.ru_stime) - (self_before.ru_utime + self_before.ru_stime)
    ms = [x * 1000 for x in latencies]
    return {
        "replicas": len(server_pids),
        "clients": clients,
        "requests": n,
        "errors": errors[0],
        "req_per_s": round(n / wall, 1),
        "latency_ms": {"p50": round(pct(ms, 0.5), 2), "p99": round(pct(ms, 0.99), 2)},
        "cpu_ms_per_request": {
            "replicas": round(server_cpu / n * 1000, 3),
            "haproxy": round(used[lb_pid] / n * 1000, 3),
            "postgresql": round(pg_cpu / n * 1000, 3),
            "load_generator": round(client_cpu / n * 1000, 3),
        },
        "replica_cpu_share": [round(used[p] / server_cpu, 3) for p in server_pids],
    }


WORDS = [
    "patient",
    "follow",
    "visit",
    "dose",
    "tablet",
    "morning",
    "evening",
    "blood",
    "pressure",
    "kidney",
    "liver",
    "heart",
    "test",
    "result",
    "normal",
    "review",
    "plan",
    "week",
    "month",
    "pain",
    "sleep",
    "diet",
    "walk",
    "water",
    "fridge",
    "storage",
    "label",
    "warning",
    "allergy",
    "reaction",
    "nurse",
]


def ingest_load(fleet: Fleet, workers: int, files: int, embedder: str, db: tuple[str, str]) -> dict[str, object]:
    """`files` text files (~10 chunks each) submitted as jobs through haproxy to 1 replica that runs no job
    itself; `workers` standalone `docqa worker` processes (one embedding thread each) run them."""
    ends = fleet.start(
        1,
        run_workers=str(workers),
        job_workers="0",
        collection=f"ingest_{workers}",
        embedder=embedder,
        embed_threads="1",
        job_poll_s="0.05",
    )
    rng = random.Random(workers)
    bodies = [
        "\n\n".join(" ".join(rng.choice(WORDS) for _ in range(180)) + f" file{i}p{p}." for p in range(10)).encode()
        for i in range(files)
    ]
    time.sleep(3.0)  # the workers load their model before the clock starts
    pids = fleet.pids("worker-")
    before, pg_before = {p: cpu_s(p) for p in pids}, backend_cpu(backend_pids(*db))
    with httpx.Client(base_url=ends["lb"], timeout=60) as http:
        t0 = time.perf_counter()
        ids = []
        for i, body in enumerate(bodies):
            resp = http.post("/api/v1/jobs", files={"file": (f"f{i}.txt", body, "text/plain")})
            resp.raise_for_status()
            ids.append(resp.json()["job_id"])
        chunks = 0
        for job_id in ids:
            while (job := http.get(f"/api/v1/jobs/{job_id}").json())["status"] not in ("done", "failed", "cancelled"):
                time.sleep(0.05)
            if job["status"] != "done":
                raise SystemExit(f"job {job_id} ended {job['status']}: {job['error']}")
            chunks += job["progress"]["chunks_total"]
        wall = time.perf_counter() - t0
    used = sum(cpu_s(p) - before[p] for p in pids)
    pg_cpu = sum(t - pg_before.get(pid, 0.0) for pid, t in backend_cpu(backend_pids(*db)).items())
    fleet.stop()
    return {
        "workers": workers,
        "embedder": embedder,
        "files": files,
        "chunks": chunks,
        "chunks_per_s": round(chunks / wall, 1),
        "cpu_ms_per_chunk": {"workers": round(used / chunks * 1000, 2), "postgresql": round(pg_cpu / chunks * 1000, 2)},
        "load_avg": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--watch-ms", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--embedder", default="hash")
    parser.add_argument("--ingest-files", type=int, default=30)
    parser.add_argument("--ingest-embedder", default="minilm-int8")
    parser.add_argument("--run-dir", type=Path, default=Path("/tmp") / f"docqa-bench-replicas-{os.getpid()}")
    args = parser.parse_args()
    admin = os.environ.get("DOCQA_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"docqa_bench_replicas_{os.getpid()}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db = (admin, name)
    fleet = Fleet(admin.rsplit("/", 1)[0] + f"/{name}", args.run_dir, args.embedder)
    result: dict[str, object] = {"cores": os.cpu_count(), "load_avg_start": os.getloadavg()}
    try:
        ends = fleet.start(3)
        replicas = [ends[k] for k in sorted(ends) if k.startswith("replica-")]
        result["convergence"] = convergence(replicas, args.writes, args.watch_ms)
        print(json.dumps(result["convergence"]), flush=True)
        loads = []
        for count in (3, 1):
            if count != 3:
                fleet.stop()
                ends = fleet.start(count)
            time.sleep(1.0)  # haproxy's first health checks
            search_load(ends["lb"], fleet.pids("replica-"), fleet.pids("haproxy")[0], args.clients, 2.0, db)  # warm-up
            load = search_load(
                ends["lb"], fleet.pids("replica-"), fleet.pids("haproxy")[0], args.clients, args.seconds, db
            )
            load["load_avg"] = os.getloadavg()
            print(json.dumps(load), flush=True)
            loads.append(load)
        result["search"] = loads
        fleet.stop()
        if not (ROOT / "src" / "docqa" / "cli" / "cmd_worker.py").exists():
            result["ingest_workers"] = "not measured: needs `docqa worker` (issue 14 items 1-2)"
        else:
            result["ingest_workers"] = []
            for workers in (1, 2):
                ingest = ingest_load(fleet, workers, args.ingest_files, args.ingest_embedder, db)
                print(json.dumps(ingest), flush=True)
                result["ingest_workers"].append(ingest)  # type: ignore[attr-defined]
    finally:
        fleet.stop()
        shutil.rmtree(args.run_dir, ignore_errors=True)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    out = ROOT / "bench" / "results" / "replicas.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
