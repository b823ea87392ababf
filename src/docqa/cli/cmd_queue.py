"""`docqa ingest --queue`: the files go in as jobs; the command follows them to their end.

Ctrl-C stops following, not the jobs: they stay queued or running, and
`GET /api/v1/jobs` (or this command again: unchanged files are not re-embedded)
shows where they are.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from docqa.app import Docqa, JobRecord
from docqa.cli import progress
from docqa.cli.context import emit_json

FOLLOW_EVERY_S = 0.5


def ingest_queued(
    library: Docqa,
    paths: tuple[Path, ...],
    recursive: bool,
    pattern: str | None,
    exclude: tuple[str, ...],
    metadata: dict[str, Any],
    as_json: bool,
    no_wait: bool,
) -> None:
    submitted, skipped = library.jobs.submit_paths(
        paths, recursive=recursive, pattern=pattern, exclude=exclude, metadata=metadata
    )
    ids = [j.id for j in submitted]
    if no_wait:
        if as_json:
            emit_json({"jobs": [{"job_id": j.id, "file": j.source} for j in submitted], "skipped": skipped})
        else:
            for j in submitted:
                click.echo(f"{j.id}  {j.source}")
        return
    if not as_json:
        click.echo(f"queued {len(ids)} jobs; following them (Ctrl-C stops following, the jobs go on)", err=True)
    try:
        with progress.jobs_progress(progress.wanted(as_json), len(ids)) as show:
            final = _follow(library, ids, show)
    except KeyboardInterrupt:
        click.echo("\nstopped following: the jobs stay queued; see GET /api/v1/jobs", err=True)
        raise SystemExit(130) from None
    # As a local ingest does: the index brought up to date and its snapshot saved here, so `docqa sync --check`
    # passes right after and the next start loads instead of building (the workers write only the database).
    library.sync("auto")
    library.save()
    _report(final, skipped, as_json)


def _follow(library: Docqa, ids: list[str], show: Any) -> list[JobRecord]:
    while True:
        jobs = library.jobs.get_many(ids)
        if show is not None:
            show(jobs)
        if all(j.finished for j in jobs):
            return jobs
        time.sleep(FOLLOW_EVERY_S)


def _report(jobs: list[JobRecord], skipped: list[str], as_json: bool) -> None:
    by_status = {s: sum(j.status == s for j in jobs) for s in ("done", "failed", "cancelled")}
    outcomes = [str((j.result or {}).get("status", "")) for j in jobs if j.status == "done"]
    failures = [{"file": j.source, "job_id": j.id, "error": j.error} for j in jobs if j.status != "done"]
    summary: dict[str, Any] = {
        "jobs": len(jobs),
        **by_status,
        "added": outcomes.count("added"),
        "updated": outcomes.count("updated"),
        "unchanged": outcomes.count("unchanged"),
        "chunks": sum(int((j.result or {}).get("chunks") or 0) for j in jobs if j.status == "done"),
        "skipped": len(skipped),
        "failures": failures,
    }
    if as_json:
        emit_json(summary)
    else:
        click.echo(
            f"{summary['jobs']} jobs: done {summary['done']} (added {summary['added']}, updated "
            f"{summary['updated']}, unchanged {summary['unchanged']}), failed {summary['failed']}, "
            f"cancelled {summary['cancelled']}, skipped {summary['skipped']} ({summary['chunks']} chunks)"
        )
        for failure in failures:
            click.echo(f"  {failure['file']}: {failure['error']}")
    if summary["failed"] or summary["cancelled"]:
        raise SystemExit(1)
