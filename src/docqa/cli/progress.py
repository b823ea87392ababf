"""Progress bars for long commands (`ingest`, `reembed`), drawn by rich on stderr.

Only on a terminal, and never with --json: piped or redirected output stays
clean. Rates exclude model load: ingest counts from the moment the model was
ready (`Progress.working_s`); reembed from its first finished page, which
carries the load.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from docqa.app import Progress


def wanted(as_json: bool) -> bool:
    return not as_json and sys.stderr.isatty()


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(seconds)
    return (
        f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        if seconds >= 3600
        else f"{seconds // 60}:{seconds % 60:02d}"
    )


def _bar(description: str) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn(description),
        BarColumn(),
        TextColumn("{task.fields[counts]}"),
        TextColumn("{task.fields[rate]} chunks/s"),
        TextColumn("ETA {task.fields[eta]}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    )


@contextmanager
def ingest_progress(enabled: bool) -> Iterator[Callable[[Progress], None] | None]:
    """A callback for `Docqa.ingest_paths(on_progress=...)`: files, chunks, chunks/s, ETA (by bytes)."""
    if not enabled:
        yield None
        return
    with _bar("ingesting") as bar:
        task = bar.add_task("ingest", total=None, counts="", rate="-", eta=_clock(None))

        def show(p: Progress) -> None:
            bar.update(
                task,
                total=p.bytes_total,
                completed=p.bytes_done,
                counts=f"files {p.files_done}/{p.files_total} · chunks {p.chunks}",
                rate=f"{p.chunks_per_s:.1f}" if p.embedded else "-",
                eta=_clock(p.eta_s),
            )

        yield show


@contextmanager
def reembed_progress(enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A callback for `reembed(on_progress=...)`: chunks done/total, chunks/s and ETA after the first page."""
    if not enabled:
        yield None
        return
    with _bar("re-embedding") as bar:
        task = bar.add_task("reembed", total=None, counts="", rate="-", eta=_clock(None))
        first: list[tuple[int, float]] = []

        def show(done: int, total: int) -> None:
            now = time.monotonic()
            if not first:
                first.append((done, now))  # the first page paid for the model load: rates start here
            start_done, start_t = first[0]
            rate = (done - start_done) / (now - start_t) if done > start_done and now > start_t else 0.0
            bar.update(
                task,
                total=total,
                completed=done,
                counts=f"chunks {done}/{total}",
                rate=f"{rate:.1f}" if rate else "-",
                eta=_clock((total - done) / rate if rate else None),
            )

        yield show


@contextmanager
def jobs_progress(enabled: bool, total: int) -> Iterator[Callable[[list[Any]], None] | None]:
    """A callback for following queued jobs: jobs finished / total, chunks done / known, by status."""
    if not enabled:
        yield None
        return
    with _bar("jobs") as bar:
        task = bar.add_task("jobs", total=total, counts="", rate="-", eta=_clock(None))
        started = time.monotonic()

        def show(jobs: list[Any]) -> None:
            finished = sum(j.finished for j in jobs)
            done = sum(j.chunks_done for j in jobs)
            known = sum(j.chunks_total for j in jobs)
            running = sum(j.status == "running" for j in jobs)
            elapsed = time.monotonic() - started
            rate = done / elapsed if done and elapsed > 0 else 0.0
            bar.update(
                task,
                completed=finished,
                counts=f"jobs {finished}/{total} ({running} running) · chunks {done}/{known}",
                rate=f"{rate:.1f}" if rate else "-",
                eta=_clock((known - done) / rate if rate and known > done else None),
            )

        yield show
