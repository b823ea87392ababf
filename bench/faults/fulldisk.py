"""Full disk: a live `docqa serve` whose data directory is a small tmpfs (mounted here, unmounted after),
written to until the disk is full.

- sqlite: the database file and the snapshots on the tmpfs; uploads until the writes fail.
- postgres: the database on the shared server (a throw-away database), the snapshots on the tmpfs, most of
  it taken by a ballast file, so the service's snapshot saves fail while its database writes succeed.

Then the operator's one manual step (a ballast file removed: disk space freed), a restart, and the
independent checker. Wanted: no 500 at any point, every acknowledged write kept, consistent after restart.

    .venv/bin/python -m bench.faults.fulldisk --db sqlite --size-mb 20 --out /tmp/disk.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.faults import procs
from bench.faults.checker import check
from bench.faults.client import AckLog, Reader, Writer
from bench.faults.dbs import create_pg, drop_pg, pg_url_for
from bench.faults.scenario_util import count_status, seed_samples, stored_despite_error


def _ballast(path: Path, mb: float) -> None:
    with open(path, "wb") as fh:
        fh.write(b"\0" * int(mb * 1024 * 1024))


def _free_mb(path: Path) -> float:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize / 1024 / 1024


def _fill(base: str, acks: AckLog, present: list[str], seed: int, max_s: float, stop_after_failures: int):
    writer = Writer(base, acks, seed, "d", present, max_ops=20_000, deadline=time.monotonic() + max_s)
    writer.WEIGHTS = (("upload", 60), ("index", 30), ("update", 10), ("delete", 0))
    writer.stop_on_error = False
    reader = Reader(base, seed + 1, deadline=time.monotonic() + max_s, pause_s=0.05)
    reader.start()
    health: list[dict] = []
    with __import__("httpx").Client(timeout=15) as client:
        failures = 0
        while writer.ops < writer.max_ops and time.monotonic() < writer.deadline and failures < stop_after_failures:
            writer._n += 1
            before = len(writer.log)
            writer.one(client)
            code = writer.log[-1][2] if len(writer.log) > before else 0
            failures = failures + 1 if code != 200 else 0
            if code != 200 and failures in (1, stop_after_failures):
                health.append(procs.get_json(base + "/health")[1])
    reader.stop.set()
    reader.join(30)
    return writer, reader, health


def run_fulldisk(work: Path, db: str = "sqlite", size_mb: int = 20, index: str = "flat", seed: int = 1) -> dict:
    result: dict = {"scenario": "full-disk", "commit": procs.commit(), "db": db, "tmpfs_mb": size_mb, "index": index}
    mount = work / "tmpfs"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(mount)], check=True)
    pg_name = None
    proc = None
    try:
        data = mount / "data"
        data.mkdir()
        if db == "postgres":
            pg_name = create_pg()
            url = pg_url_for(pg_name)
        else:
            url = f"sqlite:///{data / 'docqa.db'}"
        acks = AckLog(work / "disk-acks.jsonl", seed_samples(url, data, index, work))
        _ballast(mount / "ballast-release", max(6, size_mb // 3))  # freed by the "operator" at the end
        if db == "postgres":  # leave ~1.5 MB: the snapshots outgrow it as the index grows
            _ballast(mount / "ballast-fill", max(0.0, _free_mb(mount) - 1.5))
        result["free_mb_at_start"] = round(_free_mb(mount), 2)
        proc, base = procs.serve(url, data, index, work / "disk-serve.log", snapshot_interval_s=1.0)
        if procs.wait_healthy(base, proc, 90) is None:
            raise RuntimeError("service did not become healthy")
        present = [a["document_id"] for a in acks.records]
        writer, reader, health = _fill(base, acks, present, seed, 120 if db == "sqlite" else 45, 25)
        both = writer.log + reader.log
        result.update(
            writes=writer.ops,
            writes_acked=sum(1 for r in acks.records if r.get("phase") == "acked" and "seq" in r),
            write_codes=dict(sorted((str(k), v) for k, v in writer.codes.items())),
            read_codes=dict(sorted((str(k), v) for k, v in reader.codes.items())),
            http_500=count_status(both, lambda c: c == 500),
            no_answer=count_status(both, lambda c: c == 0),
            free_mb_when_full=round(_free_mb(mount), 2),
            health_when_writes_failed=[{k: h.get(k) for k in ("status", "reason", "ready")} for h in health],
            error_sample=[x[2] for x in writer.five_xx[:2]],
        )
        result["stop_rc_while_full"] = procs.stop(proc)
        proc = None
        full = check(url, data, acks=acks.records)  # the snapshot may be stale here (its save failed): is it honest?
        result["check_while_full"] = {
            "consistent": full.consistent,
            "stale_changes": full.stale_changes,
            "differing_ids": full.differing_ids,
            "explained_by_log": full.explained_by_log,
            "lost_acked_in_db_or_index": len(full.lost_acked),
        }
        os.unlink(mount / "ballast-release")  # the manual step: free disk space
        if db == "postgres":
            os.unlink(mount / "ballast-fill")
        proc, base = procs.serve(url, data, index, work / "disk-serve.log")
        t0 = time.perf_counter()
        result["restart_s"] = None if procs.wait_healthy(base, proc, 90) is None else round(time.perf_counter() - t0, 3)
        result["stop_rc"] = procs.stop(proc)
        proc = None
        verdict = check(url, data, acks=acks.records)
        acks.close()
        stored = stored_despite_error(url, acks.records)
        result["errors_but_stored"] = len(stored)  # answered 5xx, committed anyway
        result["errors_but_stored_sample"] = [
            {k: r.get(k) for k in ("op", "document_id", "status")} for r in stored[:3]
        ]
        result.update(
            consistent=verdict.consistent,
            lost_acked=len(verdict.lost_acked),
            acked_documents=verdict.acked_documents,
            db_members=verdict.db_members,
            problems=verdict.problems[:10],
            manual_steps=1,
        )
    finally:
        if proc is not None:
            procs.kill9(proc)
        if not result.get("consistent"):
            shutil.copytree(mount / "data", work / "data-after", dirs_exist_ok=True)
        subprocess.run(["umount", str(mount)], check=False)
        if pg_name:
            drop_pg(pg_name)
    result["ok"] = bool(
        result.get("consistent") and result.get("http_500") == 0 and result.get("restart_s") is not None
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--size-mb", type=int, default=20)
    parser.add_argument("--index", choices=["flat", "hnsw"], default="flat")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--work", type=Path, help="keep logs and data in this folder (default: a temporary one)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="docqa-disk-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        result = run_fulldisk(work, args.db, args.size_mb, args.index, args.seed)
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
