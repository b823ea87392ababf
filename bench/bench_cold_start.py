"""Start-up costs: a fresh `docqa search` / `docqa ask` against `import torch`, and a restarted service's
first query against its warm ones.

    apt-get install -y hyperfine
    .venv/bin/python bench/bench_cold_start.py [--runs 10] [--restarts 5] [--embedder NAME] [--src OTHER/src]

1. The sample corpus (samples/ without README.md and tools/, as `make run`
   ingests it) goes into a fresh data folder with the default embedder of a
   new collection (or `--embedder`).
2. CLI: hyperfine, one run, the three commands side by side (`-N`, one
   warm-up run each so the page cache is warm for all three):
   `python -c "import torch"`, `docqa search "..."`, `docqa ask "..."`.
3. Service: `docqa serve` is started `--restarts` times. Each time /health is
   polled every 20 ms from the moment the process starts, recording when each
   state (warming_up, healthy, ...) is first seen; as soon as /health/ready
   answers 200, one search is timed (the first query after start), then
   `--warm` more with other questions (the warm ones). Every query is
   `POST /api/v1/search/` in hybrid mode, limit 10, over loopback.
   Reported: time to each state, first-query latency, warm median, and their
   ratio (median over the restarts).

Results: bench/results/cold-start-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
QUESTIONS = [
    "how is the vaccine fridge monitored",
    "what do I do if the fridge is too warm",
    "how long are patient records kept",
    "how do I adjust the brakes on a bicycle",
    "what is the grind size for espresso",
    "who pays for travel insurance",
    "when was the Millbrook mill built",
    "what caused the search outage",
    "how much compost does a plot get",
    "what must a patient bring to intake",
    "how do I store insulin",
    "how do I re-index documents",
]


def docqa_bin() -> str:
    return str(Path(sys.executable).with_name("docqa"))


def ingest_samples(data: Path, env: dict[str, str], choice: list[str]) -> None:
    cmd = [docqa_bin(), "--data-dir", str(data), *choice, "ingest", str(REPO / "samples"), "-r"]
    subprocess.run([*cmd, "--exclude", "README.md", "--exclude", "tools/*"], check=True, env=env, capture_output=True)


def cli_case(data: Path, env: dict[str, str], runs: int, work: Path) -> dict:
    if not shutil.which("hyperfine"):
        raise SystemExit("hyperfine is needed: apt-get install -y hyperfine")
    commands = [
        f"{sys.executable} -c 'import torch'",
        f"{docqa_bin()} --data-dir {data} search '{QUESTIONS[0]}'",
        f"{docqa_bin()} --data-dir {data} ask '{QUESTIONS[1]}?'",
    ]
    out = work / "hyperfine.json"
    subprocess.run(
        ["hyperfine", "-N", "--warmup", "1", "--runs", str(runs), "--export-json", str(out), *commands],
        check=True,
        env=env,
    )
    results = json.loads(out.read_text())["results"]
    names = ["import torch", "docqa search", "docqa ask"]
    return {
        "commands": commands,
        **{
            name: {
                "mean_s": round(r["mean"], 3),
                "median_s": round(r["median"], 3),
                "stddev_s": round(r["stddev"], 3),
                "user_s": round(r["user"], 3),
                "system_s": round(r["system"], 3),
            }
            for name, r in zip(names, results)
        },
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_case(data: Path, env: dict[str, str], warm: int, log: Path) -> dict:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    start = time.monotonic()
    proc = subprocess.Popen(
        [docqa_bin(), "--data-dir", str(data), "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=open(log, "ab"),  # noqa: SIM115 - the child owns it
        env=env,
    )
    states: dict[str, float] = {}
    try:
        with httpx.Client(timeout=30) as client:
            while time.monotonic() - start < 120:
                try:
                    state = client.get(f"{base}/health").json()["status"]
                    states.setdefault(state, round(time.monotonic() - start, 3))
                    if client.get(f"{base}/health/ready").status_code == 200:
                        break
                except httpx.HTTPError:
                    states.setdefault("not listening", round(time.monotonic() - start, 3))
                time.sleep(0.02)
            else:
                raise SystemExit(f"service never became ready: {states}")
            latencies = []
            for question in [QUESTIONS[2], *QUESTIONS[3 : 3 + warm]]:
                t = time.perf_counter()
                response = client.post(f"{base}/api/v1/search/", json={"query": question, "mode": "hybrid"})
                latencies.append((time.perf_counter() - t) * 1000)
                response.raise_for_status()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    first, rest = latencies[0], latencies[1:]
    return {
        "states_s": states,
        "first_ms": round(first, 2),
        "warm_median_ms": round(statistics.median(rest), 2),
        "ratio": round(first / statistics.median(rest), 2),
        "load": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=10, help="hyperfine runs per command")
    ap.add_argument("--restarts", type=int, default=5, help="service starts")
    ap.add_argument("--warm", type=int, default=9, help="warm queries after the first")
    ap.add_argument("--embedder", default="", help="default: a new collection's default")
    ap.add_argument("--src", type=Path, help="run docqa from another checkout's src/ (A/B)")
    ap.add_argument("--skip-cli", action="store_true")
    args = ap.parse_args(argv)
    env = dict(os.environ)
    if args.src:
        env["PYTHONPATH"] = str(args.src.resolve())
    work = Path(tempfile.mkdtemp(prefix="docqa-bench-cold-"))
    try:
        data = work / "data"
        choice = ["--embedder", args.embedder] if args.embedder else []
        ingest_samples(data, env, choice)
        report: dict = {"embedder": args.embedder or "(default for a new collection)", "load": os.getloadavg()[0]}
        if not args.skip_cli:
            report["cli"] = cli_case(data, env, args.runs, work)
        report["serve"] = [serve_case(data, env, args.warm, work / "serve.log") for _ in range(args.restarts)]
        for run in report["serve"]:
            print(f"serve: {run}", flush=True)
        report["serve_ratio_median"] = statistics.median(r["ratio"] for r in report["serve"])
        RESULTS.mkdir(parents=True, exist_ok=True)
        out = RESULTS / f"cold-start-{time.strftime('%Y%m%d-%H%M%S')}.json"
        out.write_text(json.dumps(report, indent=2))
        if "cli" in report:
            cli = report["cli"]
            print("| command | mean s | median s | user s |\n| --- | --- | --- | --- |")
            for name in ("import torch", "docqa search", "docqa ask"):
                print(f"| {name} | {cli[name]['mean_s']} | {cli[name]['median_s']} | {cli[name]['user_s']} |")
        print(f"first query / warm median after start: {report['serve_ratio_median']} (median of restarts); {out}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
