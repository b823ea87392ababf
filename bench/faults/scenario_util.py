"""Shared steps of the scenarios: seed a database through the CLI, phase counts of request logs."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from bench.faults import corpus, procs
from bench.faults.client import seed_acks


def seed_samples(db_url: str, data: Path, index: str, work: Path, extra_docs: int = 0, seed: int = 1) -> list[dict]:
    """Ingest samples/ (and `extra_docs` generated documents) with the CLI, then `docqa sync`; returns acks."""
    src = work / "seed-corpus"
    if not src.exists():
        corpus.copy_samples(src / "samples")
        if extra_docs:
            corpus.generate(src / "generated", extra_docs, seed)
    env = procs.env_for(db_url, data, index)
    ran = procs.run(["ingest", str(src), "--recursive", "--json"], env, timeout=600)
    if ran.rc != 0:
        raise RuntimeError(f"seeding ingest failed: {ran.stderr[-1000:]}")
    ran_sync = procs.run(["sync"], env)
    if ran_sync.rc != 0:
        raise RuntimeError(f"seeding sync failed: {ran_sync.stderr[-1000:]}")
    return seed_acks(json.loads(ran.stdout)["documents"])


def phase_counts(log: list[tuple[float, str, int]], edges: list[tuple[str, float]]) -> dict[str, dict[str, int]]:
    """Status counts per phase; `edges` are (phase name, start time) in order, each phase up to the next."""
    out: dict[str, Counter] = {name: Counter() for name, _ in edges}
    for t, _, code in log:
        phase = None
        for name, start in edges:
            if t >= start:
                phase = name
        if phase is not None:
            out[phase][str(code)] += 1
    return {k: dict(v) for k, v in out.items()}


def count_status(log: list[tuple[float, str, int]], predicate) -> int:
    return sum(1 for _, _, code in log if predicate(code))


def stored_despite_error(db_url: str, acks: list[dict], min_status: int = 500) -> list[dict]:
    """Writes answered with an error (status >= min_status) whose effect is in the database anyway: a client
    was told the write failed, yet it was committed. Only the last operation on each document is judged."""
    from bench.faults.checker import DbReader

    last: dict[str, dict] = {}
    for rec in acks:
        if rec.get("phase") in ("acked", "failed"):
            last[rec["document_id"]] = rec
    failed = [r for r in last.values() if r.get("phase") == "failed" and int(r.get("status", 0)) >= min_status]
    if not failed:
        return []
    db = DbReader(db_url)
    try:
        out = []
        for rec in failed:
            status = db.scalar("SELECT status FROM documents WHERE id = ?", (rec["document_id"],))
            if rec["op"] == "delete":
                if status in (None, "deleted"):
                    out.append(rec)
                continue
            texts = [r[0] for r in db.rows("SELECT text FROM chunks WHERE document_id = ?", (rec["document_id"],))]
            if status == "indexed" and rec.get("marker") and any(rec["marker"] in t for t in texts):
                out.append(rec)
        return out
    finally:
        db.close()
