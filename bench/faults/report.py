"""Merge campaign and scenario JSON outputs into the tables of docs/reliability.md.

.venv/bin/python -m bench.faults.report /tmp/kills-*.json /tmp/outage.json /tmp/disk-*.json ...
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench.faults.campaign import summarise
from bench.faults.kills import Trial


def _trials(reports: list[dict]) -> list[Trial]:
    out = []
    for rep in reports:
        for t in rep.get("trials", []):
            out.append(Trial(**{k: v for k, v in t.items() if k in Trial.__dataclass_fields__}))
    return out


def kill_table(trials: list[Trial]) -> str:
    summary = summarise(trials)
    rows = [
        "| scenario | trials | killed mid-run | consistent | lost acked writes (of checked) | manual steps "
        "| restart median / worst | kills inside a snapshot save | temporaries left | load |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    keys = [k for k in summary if k.count("/") == 2] + [k for k in ("ingest", "sync", "serve", "all") if k in summary]
    for key in keys:
        s = summary[key]
        rows.append(
            f"| {key} | {s['trials']} | {s['killed']} | {s['consistent']} | {s['lost_acked_writes']} "
            f"(of {s['acked_writes_checked']}) | {s['manual_steps']} | {s['median_restart_s']:.2f} / "
            f"{s['worst_restart_s']:.2f} s | {s['killed_in_save']} | {s['left_temporaries']} | {s['load1_mean']} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    paths = [Path(p) for p in (argv if argv is not None else sys.argv[1:])]
    reports = [json.loads(p.read_text(encoding="utf-8")) for p in paths]
    kills = [r for r in reports if "trials" in r]
    scenarios = [r for r in reports if "scenario" in r]
    if kills:
        commits = sorted({r.get("commit", "?") for r in kills})
        print(f"kill trials at {', '.join(commits)}\n")
        print(kill_table(_trials(kills)))
        bad = [t for t in _trials(kills) if not t.consistent or t.lost_acked]
        for t in bad[:20]:
            print(f"\n- BAD {t.kind}/{t.db}/{t.index} seed {t.seed}: {t.problems[:3]}")
    for s in scenarios:
        keep = {k: v for k, v in s.items() if k not in ("rss_samples", "problems") or v}
        print(f"\n{s['scenario']}: " + json.dumps(keep))
    return 0


if __name__ == "__main__":
    sys.exit(main())
