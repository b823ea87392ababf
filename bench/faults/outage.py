"""PostgreSQL outage: a live `docqa serve` on a PRIVATE cluster (started here with initdb/pg_ctl on a free
port) takes reads and writes; the cluster is stopped for --outage-s seconds and started again.

Measured: answers by status before, during and after the outage (500s must be 0; 503 is the documented
answer while degraded), the seconds from the database accepting connections again to /health `healthy`,
to the first successful search and to the first acknowledged write; then the service is stopped and the
independent checker proves the snapshot equals the database and every acknowledged write is there.

    .venv/bin/python -m bench.faults.outage --outage-s 20 --mode fast --out /tmp/outage.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from bench.faults import procs
from bench.faults.checker import check
from bench.faults.client import AckLog, Reader, Writer
from bench.faults.pgcluster import PrivateCluster
from bench.faults.scenario_util import count_status, phase_counts, seed_samples, stored_despite_error


def _first_after(log, t: float, route: str | None, code: int = 200) -> float | None:
    times = [ts for ts, r, c in log if ts >= t and c == code and (route is None or r == route)]
    return min(times) - t if times else None


def run_outage(work: Path, outage_s: float = 10.0, mode: str = "fast", index: str = "flat", seed: int = 1) -> dict:
    result: dict = {
        "scenario": "pg-outage",
        "commit": procs.commit(),
        "outage_s": outage_s,
        "stop_mode": mode,
        "index": index,
    }
    with PrivateCluster() as pg:
        url = pg.create_database("docqa")
        data = work / "outage-data"
        acks = AckLog(work / "outage-acks.jsonl", seed_samples(url, data, index, work))
        proc, base = procs.serve(url, data, index, work / "outage-serve.log")
        try:
            if procs.wait_healthy(base, proc, 90) is None:
                raise RuntimeError("service did not become healthy")
            horizon = time.monotonic() + outage_s + 90
            present = [a["document_id"] for a in acks.records]
            writer = Writer(base, acks, seed, "o", present, max_ops=5_000, deadline=horizon, stop_on_error=False)
            writer.pause_s = 0.05
            reader = Reader(base, seed + 1, deadline=horizon, pause_s=0.02)
            writer.start()
            reader.start()
            time.sleep(3)
            t_down = time.monotonic()
            pg.stop(mode)
            time.sleep(outage_s)
            t_start = time.monotonic()
            result["pg_restart_s"] = round(pg.start(), 3)
            t_up = time.monotonic()
            healthy = procs.wait_healthy(base, proc, 60)
            t_healthy = time.monotonic()
            time.sleep(3)
            writer.stop.set()
            reader.stop.set()
            writer.join(30)
            reader.join(30)
            result["healthy_after_db_up_s"] = None if healthy is None else round(t_healthy - t_up, 3)
            both = sorted(writer.log + reader.log)
            result["first_search_ok_after_db_up_s"] = _first_after(reader.log, t_up, "search")
            result["first_write_ok_after_db_up_s"] = _first_after(writer.log, t_up, None)
            edges = [
                ("before", 0.0),
                ("outage", t_down),
                ("db_starting", t_start),
                ("db_up", t_up),
                ("healthy", t_healthy),
            ]
            result["answers"] = phase_counts(both, edges)
            result["http_500"] = count_status(both, lambda c: c == 500)
            result["http_5xx"] = count_status(both, lambda c: c >= 500)
            result["http_5xx_with_db_up"] = count_status([x for x in both if x[0] >= t_up], lambda c: c >= 500)
            result["no_answer"] = count_status(both, lambda c: c == 0)
            result["writes_acked"] = sum(1 for r in acks.records if r.get("phase") == "acked" and "seq" in r)
            result["requests"] = len(both)
            result["server_errors_sample"] = [x[2] for x in writer.five_xx[:3]]
        finally:
            procs.stop(proc)
        verdict = check(url, data, acks=acks.records)
        acks.close()
        result["errors_but_stored"] = len(stored_despite_error(url, acks.records))
    result.update(
        consistent=verdict.consistent,
        lost_acked=len(verdict.lost_acked),
        acked_documents=verdict.acked_documents,
        problems=verdict.problems[:10],
        db_members=verdict.db_members,
    )
    result["ok"] = bool(
        verdict.consistent and not result.get("http_500") and result.get("healthy_after_db_up_s") is not None
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outage-s", type=float, default=10.0)
    parser.add_argument("--mode", choices=["fast", "immediate"], default="fast", help="pg_ctl stop mode")
    parser.add_argument("--index", choices=["flat", "hnsw"], default="flat")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--work", type=Path, help="keep logs and data in this folder (default: a temporary one)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="docqa-outage-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        result = run_outage(work, args.outage_s, args.mode, args.index, args.seed)
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
