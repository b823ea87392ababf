"""Soak: mixed traffic against a live `docqa serve` for N minutes, watching the server's RSS for leaks.

A writer keeps the corpus near a steady size (uploads, JSON posts, updates, deletes), a reader runs
vector/keyword/hybrid searches, QA, suggestions, stats and health. RSS is read from /proc every 5 s; the
slope is a least-squares fit after the warm-up (the first 10%), and over the second half alone. At the end
the service is stopped and the independent checker runs. Bounded by time and by request count.

    .venv/bin/python -m bench.faults.soak --minutes 30 --db postgres --out /tmp/soak.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench.faults import procs
from bench.faults.checker import check
from bench.faults.client import AckLog, Reader, Writer, percentile
from bench.faults.dbs import create_pg, drop_pg, pg_url_for
from bench.faults.scenario_util import count_status, seed_samples


def slope_mb_per_min(samples: list[tuple[float, int]]) -> float:
    if len(samples) < 3:
        return 0.0
    t = np.array([s[0] for s in samples]) / 60.0
    mb = np.array([s[1] for s in samples]) / 1024.0
    return float(np.polyfit(t - t[0], mb, 1)[0])


def run_soak(work: Path, minutes: float = 30.0, db: str = "sqlite", index: str = "flat", seed: int = 1) -> dict:
    result: dict = {"scenario": "soak", "commit": procs.commit(), "db": db, "index": index, "minutes": minutes}
    data = work / "soak-data"
    pg_name = create_pg() if db == "postgres" else None
    url = pg_url_for(pg_name) if pg_name else f"sqlite:///{data / 'docqa.db'}"
    proc = None
    try:
        acks = AckLog(work / "soak-acks.jsonl", seed_samples(url, data, index, work, extra_docs=100, seed=seed))
        proc, base = procs.serve(url, data, index, work / "soak-serve.log")
        if procs.wait_healthy(base, proc, 90) is None:
            raise RuntimeError("service did not become healthy")
        t0 = time.monotonic()
        end = t0 + minutes * 60
        present = [a["document_id"] for a in acks.records]
        writer = Writer(
            base,
            acks,
            seed,
            "k",
            present,
            max_ops=int(minutes * 60 * 40),
            deadline=end,
            stop_on_error=False,
            pause_s=0.1,
            target_docs=len(present) + 40,
        )
        reader = Reader(base, seed + 1, max_ops=int(minutes * 60 * 200), deadline=end, pause_s=0.1)
        rss: list[tuple[float, int]] = [(0.0, procs.rss_kb(proc.pid))]
        writer.start()
        reader.start()
        while time.monotonic() < end and proc.poll() is None:
            time.sleep(min(5.0, max(0.0, end - time.monotonic())))
            if proc.poll() is None:
                rss.append((time.monotonic() - t0, procs.rss_kb(proc.pid)))
        writer.stop.set()
        reader.stop.set()
        writer.join(60)
        reader.join(60)
        warm = [s for s in rss if s[0] >= 0.1 * minutes * 60]
        half = [s for s in rss if s[0] >= 0.5 * minutes * 60]
        both = writer.log + reader.log
        result.update(
            seconds=round(time.monotonic() - t0, 1),
            server_alive=proc.poll() is None,
            rss_start_mb=round(rss[0][1] / 1024, 1),
            rss_after_warmup_mb=round(warm[0][1] / 1024, 1) if warm else None,
            rss_end_mb=round(rss[-1][1] / 1024, 1),
            rss_max_mb=round(max(s[1] for s in rss) / 1024, 1),
            rss_slope_mb_per_min=round(slope_mb_per_min(warm), 3),
            rss_slope_second_half_mb_per_min=round(slope_mb_per_min(half), 3),
            rss_samples=[(round(t, 1), round(kb / 1024, 1)) for t, kb in rss],
            writes=writer.ops,
            writes_acked=sum(1 for r in acks.records if r.get("phase") == "acked" and "seq" in r),
            reads=len(reader.log),
            write_codes={str(k): v for k, v in sorted(writer.codes.items())},
            read_codes={str(k): v for k, v in sorted(reader.codes.items())},
            http_500=count_status(both, lambda c: c == 500),
            http_5xx=count_status(both, lambda c: c >= 500),
            no_answer=count_status(both, lambda c: c == 0),
            write_p50_ms=round(1000 * percentile(writer.latencies, 0.5), 1),
            write_p99_ms=round(1000 * percentile(writer.latencies, 0.99), 1),
            read_p50_ms=round(1000 * percentile(reader.latencies, 0.5), 1),
            read_p99_ms=round(1000 * percentile(reader.latencies, 0.99), 1),
            final_documents=len(writer.present),
        )
        result["stop_rc"] = procs.stop(proc, timeout=60)
        proc = None
        verdict = check(url, data, acks=acks.records)
        acks.close()
        result.update(
            consistent=verdict.consistent,
            lost_acked=len(verdict.lost_acked),
            acked_documents=verdict.acked_documents,
            db_members=verdict.db_members,
            problems=verdict.problems[:10],
        )
    finally:
        if proc is not None:
            procs.kill9(proc)
        if pg_name:
            drop_pg(pg_name)
    result["leak_suspected"] = bool((result.get("rss_slope_second_half_mb_per_min") or 0) > 1.0)
    result["ok"] = bool(
        result.get("consistent")
        and result.get("http_500") == 0
        and result.get("server_alive")
        and not result["leak_suspected"]
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--index", choices=["flat", "hnsw"], default="flat")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--work", type=Path, help="keep logs and data in this folder (default: a temporary one)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="docqa-soak-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        result = run_soak(work, args.minutes, args.db, args.index, args.seed)
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
