"""HTTP search latency and throughput: POST /api/v1/search/ against a real `docqa serve`.

For each N: fill a database with N synthetic 384-d chunks (bench/datagen.py:
binary COPY on PostgreSQL), build and save the index once (`store.sync()`),
start `docqa serve` as a separate process, then drive `POST /api/v1/search/`
(`limit` 10, a rotating set of queries, so the query embedding is part of
every request) with `wrk` over loopback at several concurrency levels, and
report p50 / p90 / p99 latency and requests/s. Non-2xx responses count as
errors and are reported.

    .venv/bin/python bench/bench_http.py --n 100000 --n 1000000
    .venv/bin/python bench/bench_http.py --n 100000 --embedder minilm

The `hash` embedder (default) keeps the model out of the measurement: it
measures the service (HTTP, validation, embedding call, FAISS flat search,
SQL hydration of the hits, JSON). Results go to bench/results/http-*.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "src"))

import datagen  # noqa: E402  (bench/datagen.py)
from docqa.app import Docqa  # noqa: E402
from docqa.config import Settings  # noqa: E402

WORDS = [
    "patient",
    "intake",
    "insurance",
    "card",
    "vaccine",
    "storage",
    "temperature",
    "espresso",
    "descaling",
    "bicycle",
    "chain",
    "audit",
    "retention",
    "policy",
    "incident",
    "timeline",
    "discharge",
    "medication",
    "follow",
    "up",
    "library",
    "history",
    "garden",
    "soil",
    "travel",
    "expense",
    "receipt",
    "refrigerator",
    "sourdough",
    "starter",
]

LUA = """
local bodies = {BODIES}
local i = 0
request = function()
  i = i % #bodies + 1
  return wrk.format("POST", "/api/v1/search/", {["Content-Type"] = "application/json"}, bodies[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, '
    .. '"max_us": %d, "mean_us": %.1f, "errors": %d, "non_2xx": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def queries(count: int = 200, limit: int = 10) -> list[str]:
    bodies = []
    for i in range(count):
        words = [WORDS[(i * 7 + j * 3) % len(WORDS)] for j in range(3 + i % 5)]
        bodies.append(json.dumps({"query": " ".join(words), "limit": limit}))
    return bodies


def prepare_database(db: str, n: int, embedder: str, work: Path) -> str:
    """A filled database for (n, embedder), reused across runs when already complete."""
    model_tag = "" if embedder == "hash" else f"_{embedder.replace('-', '_')}"
    if db == "sqlite":
        path = work / f"http-{n}{model_tag}.db"
        url = f"sqlite:///{path}"
        if datagen.marker(url) != datagen.mark_for(n, 0, 0):
            path.unlink(missing_ok=True)
            datagen.fill([datagen.SqliteSink(path)], n, 0)
    else:
        name = f"docqa_bench_http_{n}{model_tag}"
        url = datagen.pg_dsn(name)
        if not datagen.pg_exists(name) or datagen.marker(url) != datagen.mark_for(n, 0, 0):
            datagen.fill([datagen.PgSink(datagen.pg_create(name))], n, 0)
    if embedder != "hash":
        rebind(url, embedder)
    return url


def rebind(url: str, embedder: str) -> None:
    """Bind the synthetic vectors to another 384-d model id (the vectors stay random)."""
    from docqa.embedders import get_embedder
    from docqa.storage import repo
    from docqa.storage.db import Database

    model = get_embedder(Settings(embedder=embedder)).model_id
    db = Database(url)
    with db.connection() as conn, conn.transaction():
        if repo.get_collection(conn, datagen.COLLECTION) != (model, datagen.DIM):
            conn.execute("UPDATE chunks SET model = ? WHERE model <> ?", (model, model))
            repo.set_collection_model(conn, datagen.COLLECTION, model, datagen.DIM)
    db.close()


def build_index(url: str, data_dir: Path, embedder: str) -> dict:
    """Build and save the snapshot the server will load; also time the FAISS scan alone (the floor)."""
    import faiss
    import numpy as np

    settings = Settings(data_dir=data_dir, database_url=url, embedder=embedder)
    start = time.perf_counter()
    store = Docqa.open(settings)
    report = store.sync()
    seconds = round(time.perf_counter() - start, 2)
    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(1)
    times = []
    for _ in range(50):
        q = rng.standard_normal((1, datagen.DIM), dtype=np.float32)
        t = time.perf_counter()
        store.engine.search(q / np.linalg.norm(q), 10)
        times.append((time.perf_counter() - t) * 1000)
    store.close()
    return {
        "status": report.status,
        "vectors": report.index_count,
        "seconds": seconds,
        "faiss_search_p50_ms": round(statistics.median(times), 2),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(url: str, data_dir: Path, embedder: str, log_path: Path) -> tuple[subprocess.Popen, str, float]:
    port = free_port()
    env = {
        **os.environ,
        "DOCQA_DATABASE_URL": url,
        "DOCQA_DATA_DIR": str(data_dir),
        "DOCQA_EMBEDDER": embedder,
        "DOCQA_LOG_LEVEL": "WARNING",
        "DOCQA_VERIFY_INTERVAL_S": "86400",
    }
    cmd = [sys.executable, "-m", "docqa.cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)]
    start = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}; see {log_path}")
        try:
            if httpx.get(f"{base}/health", timeout=2).json().get("ready"):  # healthy and the model loaded
                return proc, base, round(time.perf_counter() - start, 2)
        except httpx.TransportError:
            pass
        time.sleep(0.2)


def stop_server(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all threads): robust to a noisy machine, unlike wall time."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_wrk(base: str, script: Path, connections: int, seconds: int) -> dict:
    threads = max(1, min(2, connections))
    cmd = [
        "wrk",
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        base,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    raw = json.loads(line[len("RESULT ") :])
    ms = {k.replace("_us", "_ms"): round(v / 1000, 2) for k, v in raw.items() if k.endswith("_us")}
    return {
        "connections": connections,
        "requests": raw["requests"],
        "req_per_s": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
        **ms,
        "errors": raw["errors"],
        "non_2xx": raw["non_2xx"],
        "command": " ".join(cmd),
    }


def breakdown(base: str, bodies: list[str], count: int = 200) -> dict:
    """Sequential requests: client-side latency vs the server's own `execution_time_ms` (search incl.
    embedding, FAISS and SQL hydration). The difference is HTTP + validation + serialization."""
    client_ms, server_ms = [], []
    with httpx.Client(base_url=base, timeout=30) as client:
        for i in range(count):
            start = time.perf_counter()
            response = client.post(
                "/api/v1/search/", content=bodies[i % len(bodies)], headers={"content-type": "application/json"}
            )
            client_ms.append((time.perf_counter() - start) * 1000)
            response.raise_for_status()
            data = response.json()
            assert data["total_results"] == 10, data
            server_ms.append(data["execution_time_ms"])
    p50 = statistics.median
    return {
        "requests": count,
        "client_p50_ms": round(p50(client_ms), 2),
        "server_search_p50_ms": round(p50(server_ms), 2),
        "http_overhead_p50_ms": round(p50([c - s for c, s in zip(client_ms, server_ms)]), 2),
    }


def bench_one(args: argparse.Namespace, n: int, work: Path, script: Path) -> dict:
    t = time.perf_counter()
    url = prepare_database(args.db, n, args.embedder, work)
    prepared_s = round(time.perf_counter() - t, 1)
    data_dir = work / f"http-{n}-{args.db}-{args.embedder}"
    shutil.rmtree(data_dir, ignore_errors=True)
    index = build_index(url, data_dir, args.embedder)
    print(f"N={n:,}: database ready in {prepared_s}s, index {index}", flush=True)
    proc, base, startup_s = start_server(url, data_dir, args.embedder, work / f"server-{n}.log")
    try:
        run_wrk(base, script, 2, args.warmup)  # warm-up: caches, thread pool, model
        split = breakdown(base, queries(limit=args.limit))
        print(
            f"  sequential: client p50 {split['client_p50_ms']} ms = server search {split['server_search_p50_ms']} ms"
            f" + HTTP {split['http_overhead_p50_ms']} ms",
            flush=True,
        )
        runs = []
        for c in args.connections:
            load_before, cpu_before = os.getloadavg()[0], cpu_seconds(proc.pid)
            run = run_wrk(base, script, c, args.seconds)
            run["server_cpu_ms_per_request"] = round(
                (cpu_seconds(proc.pid) - cpu_before) * 1000 / max(1, run["requests"]), 2
            )
            run["loadavg_1m"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
            runs.append(run)
            print(
                f"  c={c:<3} p50 {run['p50_ms']:7.2f} ms  p90 {run['p90_ms']:7.2f} ms  p99 {run['p99_ms']:7.2f} ms  "
                f"{run['req_per_s']:7.1f} req/s  errors {run['errors'] + run['non_2xx']}  "
                f"server CPU {run['server_cpu_ms_per_request']} ms/req  load {run['loadavg_1m']}",
                flush=True,
            )
    finally:
        stop_server(proc)
    return {
        "n": n,
        "db": args.db,
        "embedder": args.embedder,
        "limit": args.limit,
        "index": index,
        "server_startup_s": startup_s,
        "sequential": split,
        "runs": runs,
    }


def machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            "?",
        )
        if Path("/proc/cpuinfo").exists()
        else "?",
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, action="append", help="vectors (repeatable); default 100000 and 1000000")
    ap.add_argument("--db", choices=["pg", "sqlite"], default="pg")
    ap.add_argument("--embedder", default="hash", help="hash (default: measures the service) or minilm")
    ap.add_argument("--connections", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--seconds", type=int, default=20, help="duration of each wrk run")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--limit", type=int, default=10)
    args = ap.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")
    work = ROOT / "bench" / "results" / "work"
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(LUA.replace("{BODIES}", "{" + ",".join(json.dumps(b) for b in queries(limit=args.limit)) + "}"))
        script = Path(f.name)
    results = [bench_one(args, n, work, script) for n in (args.n or [100_000, 1_000_000])]
    script.unlink()
    out = ROOT / "bench" / "results" / f"http-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(
        json.dumps(
            {"machine": machine(), "command": " ".join([Path(sys.executable).name, *sys.argv]), "results": results},
            indent=2,
        )
    )
    print(f"results: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
