"""The kill -9 campaign: random kills of ingest, forced rebuild and a live service, checked independently.

    .venv/bin/python -m bench.faults.campaign --trials 30 --db both --index both --seed 1 --out /tmp/kills.json

Trials are spread round-robin over (database, index type, kind) so every combination gets its share; the
kill moment of each is drawn from its seed. Prints one line per trial and a summary; writes every trial's
record to --out. Exit 1 when any trial was inconsistent or lost an acknowledged write.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from bench.faults import procs
from bench.faults.dbs import Dropper
from bench.faults.kills import KINDS, Fixture, Trial, build_fixture, run_trial


def _choices(value: str, allowed: tuple[str, ...]) -> list[str]:
    return list(allowed) if value == "both" else [value]


def summarise(trials: list[Trial]) -> dict:
    groups: dict[str, list[Trial]] = defaultdict(list)
    for t in trials:
        groups[t.kind].append(t)
        groups[f"{t.kind}/{t.db}/{t.index}"].append(t)
        groups["all"].append(t)
    out = {}
    for key, ts in sorted(groups.items()):
        out[key] = {
            "trials": len(ts),
            "consistent": sum(t.consistent for t in ts),
            "lost_acked_writes": sum(t.lost_acked for t in ts),
            "acked_writes_checked": sum(t.acked_documents for t in ts),
            "manual_steps": sum(t.manual_steps for t in ts),
            "worst_restart_s": max((t.restart_s for t in ts), default=0.0),
            "killed": sum(t.killed for t in ts),
            "killed_in_save": sum(t.killed_in_save for t in ts),
            "left_temporaries": sum(t.left_temporaries > 0 for t in ts),
            "stuck_documents": sum(t.stuck_documents for t in ts),
            "http_5xx": sum(t.http_5xx for t in ts),
            "writes_acked": sum(t.writes_acked for t in ts),
            "median_restart_s": sorted(t.restart_s for t in ts)[len(ts) // 2],
            "load1_mean": round(sum(t.load1 for t in ts) / len(ts), 2),
        }
    return out


def run_campaign(
    trials: int,
    dbs: list[str],
    indexes: list[str],
    kinds: list[str],
    seed: int,
    work: Path,
    docs: int = 150,
    out: Path | None = None,
    deadline: float | None = None,
    echo=print,
    pairs: list[tuple[str, str]] | None = None,
    **fixture_options,
) -> dict:
    """`pairs` (database, index type) default to every combination of `dbs` and `indexes`."""
    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    code = {"commit": procs.commit(), "command": " ".join(procs.docqa_cmd())}
    fixtures: dict[tuple[str, str], Fixture] = {}
    pairs = pairs or list(itertools.product(dbs, indexes))
    combos = [(db, index, kind) for db, index in pairs for kind in kinds]
    for db, index in pairs:
        t0 = time.perf_counter()
        fixtures[(db, index)] = build_fixture(work, db, index, docs, seed, **fixture_options)
        fx = fixtures[(db, index)]
        echo(
            f"fixture {db}/{index}: {len(fx.acks)} documents, sync --force {fx.sync_s:.2f} s (save {fx.save_s:.3f} s), "
            f"ingest batches {fx.ingest_s:.2f} s (built in {time.perf_counter() - t0:.1f} s)"
        )
    dropper = Dropper()
    done: list[Trial] = []
    report: dict = {}
    try:
        for n in range(trials):
            if deadline is not None and time.time() > deadline:
                echo(f"deadline reached after {n} trials")
                break
            db, index, kind = combos[n % len(combos)]
            trial = run_trial(fixtures[(db, index)], kind, work, seed * 100_000 + n, dropper)
            done.append(trial)
            echo(
                f"[{n + 1}/{trials}] {kind:6} {db:8} {index:4} kill@{trial.kill_at_s:5.2f}/{trial.window_s:4.2f}s "
                f"{'ok ' if trial.consistent else 'BAD'} restart {trial.restart_s:.2f}s ({trial.restart_status}) "
                f"members {trial.db_members} acked {trial.acked_documents} lost {trial.lost_acked}"
                + (" save-kill" if trial.killed_in_save else "")
                + ("" if trial.killed else " (exited before the kill)")
                + ("" if trial.consistent else f" :: {trial.problems[:2]}")
            )
            report = _report(code, started, trials, dbs, indexes, kinds, seed, docs, fixtures, done)
            if out:
                out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    finally:
        dropper.wait()
        for fx in fixtures.values():
            fx.template.drop()
    return report or _report(code, started, trials, dbs, indexes, kinds, seed, docs, fixtures, done)


def _report(code, started, trials, dbs, indexes, kinds, seed, docs, fixtures, done) -> dict:
    return {
        **code,
        "started": started,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "args": {"trials": trials, "db": dbs, "index": indexes, "kinds": kinds, "seed": seed, "docs": docs},
        "fixtures": {
            f"{db}/{index}": {
                "documents": len(fx.acks),
                "sync_force_s": fx.sync_s,
                "save_s": fx.save_s,
                "ingest_batches_s": fx.ingest_s,
            }
            for (db, index), fx in fixtures.items()
        },
        "summary": summarise(done),
        "trials": [t.to_dict() for t in done],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--index", choices=["flat", "hnsw", "both"], default="both")
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated subset of ingest,sync,serve")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--docs", type=int, default=150, help="generated documents in the template (plus samples/)")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--work", type=Path, help="working folder (default: a new temporary one)")
    parser.add_argument("--deadline", help="stop starting trials after this local time, HH:MM")
    args = parser.parse_args(argv)
    kinds = [k for k in args.kinds.split(",") if k]
    if not set(kinds) <= set(KINDS):
        parser.error(f"--kinds: unknown {sorted(set(kinds) - set(KINDS))}")
    deadline = None
    if args.deadline:
        hh, mm = (int(x) for x in args.deadline.split(":"))
        now = time.localtime()
        deadline = time.mktime((*now[:3], hh, mm, 0, *now[6:]))
    with tempfile.TemporaryDirectory(prefix="docqa-faults-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        report = run_campaign(
            args.trials,
            _choices(args.db, ("sqlite", "postgres")),
            _choices(args.index, ("flat", "hnsw")),
            kinds,
            args.seed,
            work,
            docs=args.docs,
            out=args.out,
            deadline=deadline,
        )
    total = report["summary"].get("all", {})
    print(json.dumps(total))
    ok = total.get("trials", 0) > 0 and total["consistent"] == total["trials"] and total["lost_acked_writes"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
