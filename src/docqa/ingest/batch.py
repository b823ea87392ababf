"""Ingest files and folders: walk, prepare, embed and write in overlapping stages, prune, report.

Files are prepared (read, parsed, chunked) one at a time on one thread while
the model embeds the previous ones on another and this thread writes the
ones before (ingest/stages.py: bounded queues, so memory stays bounded on a
large folder); the chunks of several files share one embedder call. Each
document commits on its own, so an interrupted run loses nothing already
committed and the next run resumes: unchanged files are skipped by content hash.
"""

from __future__ import annotations

import fnmatch
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docqa.errors import DocqaError, InvalidInput, PayloadTooLarge
from docqa.ingest.identity import document_identity
from docqa.ingest.parsers import DEFAULT_MAX_BYTES
from docqa.ingest.pipeline import (
    IngestContext,
    IngestOutcome,
    embed_prepared,
    prepare,
    write_prepared,
)
from docqa.ingest.sniff import type_from_name
from docqa.ingest.source import ByteSource
from docqa.ingest.stages import run_stages
from docqa.ingest.stream import IngestProgress, ingest_source
from docqa.storage import repo

EMBED_BATCH_CHUNKS = 256
MAX_PENDING_FILES = 64
STREAM_MIN_BYTES = 2 * 1024 * 1024  # bigger files are streamed in batches instead of read whole
_DEFERRED = "deferred"


@dataclass
class Progress:
    """Where a run stands: files and bytes written (or decided), chunks seen and embedded.

    Rates count from the moment the model was ready (`model_ready_at`, else the start), so the
    seconds a lazy model takes to load are not averaged into chunks/s or the ETA."""

    files_total: int
    bytes_total: int
    files_done: int = 0
    bytes_done: int = 0
    chunks: int = 0
    embedded: int = 0
    started: float = field(default_factory=time.monotonic)
    model_ready_at: float | None = None
    bytes_at_ready: int = 0

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def working_s(self) -> float:
        """Seconds since the model was ready (or since the start, when no model had to load)."""
        return time.monotonic() - (self.model_ready_at or self.started)

    @property
    def chunks_per_s(self) -> float:
        return self.embedded / self.working_s if self.embedded and self.working_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        done = self.bytes_done - self.bytes_at_ready
        if done <= 0 or self.bytes_done >= self.bytes_total:
            return None
        return self.working_s * (self.bytes_total - self.bytes_done) / done

    def model_ready(self) -> None:
        self.model_ready_at, self.bytes_at_ready = time.monotonic(), self.bytes_done


@dataclass
class IngestSummary:
    outcomes: list[IngestOutcome] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    sync: dict[str, Any] | None = None  # the index sync that followed (the app layer runs it)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    def to_dict(self) -> dict[str, Any]:
        embedded = sum(o.embedded for o in self.outcomes)
        return {
            "added": self.count("added"),
            "updated": self.count("updated"),
            "unchanged": self.count("unchanged"),
            "failed": self.count("failed"),
            "pruned": len(self.pruned),
            "skipped": len(self.skipped),
            "chunks_embedded": embedded,
            "seconds": round(self.seconds, 3),
            "chunks_per_s": round(embedded / self.seconds, 1) if self.seconds > 0 else 0.0,
            "failures": [
                {"file": o.source or o.filename, "error": o.error} for o in self.outcomes if o.status == "failed"
            ],
            "documents": [o.to_dict() for o in self.outcomes],
            "pruned_sources": self.pruned,
            "sync": self.sync,
        }


def discover(
    paths: Iterable[Path], recursive: bool, pattern: str | None, exclude: Iterable[str] = ()
) -> tuple[list[Path], list[str]]:
    """Files to ingest (sorted, de-duplicated) and files skipped as not a supported type.

    `exclude`: glob patterns matched, like `pattern`, against a file's path relative to the
    scanned folder or its name; files named on the command line are never excluded.
    """
    exclude = list(exclude)
    found: dict[str, Path] = {}
    skipped: list[str] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise InvalidInput(f"{path}: no such file or directory")
        if path.is_file():
            found[str(path.resolve())] = path.resolve()
            continue
        for file in _walk(path, recursive):
            rel = file.relative_to(path).as_posix()
            if any(fnmatch.fnmatch(rel, x) or fnmatch.fnmatch(file.name, x) for x in exclude):
                continue
            if pattern and not (fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(file.name, pattern)):
                continue
            if pattern is None and type_from_name(file.name) is None:
                skipped.append(str(file))
                continue
            found[str(file.resolve())] = file.resolve()
    return [found[k] for k in sorted(found)], skipped


def _walk(root: Path, recursive: bool) -> Iterator[Path]:
    if not recursive:
        yield from sorted(p for p in root.iterdir() if p.is_file() and not p.name.startswith("."))
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith("."):
                yield Path(dirpath) / name


def ingest_paths(
    ctx: IngestContext,
    paths: Iterable[Path],
    *,
    recursive: bool = False,
    pattern: str | None = None,
    exclude: Iterable[str] = (),
    prune: bool = False,
    metadata: dict[str, Any] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> IngestSummary:
    paths = [Path(p) for p in paths]
    files, skipped = discover(paths, recursive, pattern, exclude)
    summary = IngestSummary(skipped=skipped)
    progress = Progress(files_total=len(files), bytes_total=sum(_size(f) for f in files) or 1)
    started = time.monotonic()

    def load_model() -> None:
        ctx.writer.embedder.load()
        progress.model_ready()

    staged = run_stages(
        files,
        lambda file: _prepare_file(ctx, file, metadata, max_bytes),
        lambda docs: embed_prepared(ctx, docs),
        load_model=load_model,
        window_chunks=EMBED_BATCH_CHUNKS,
        window_files=MAX_PENDING_FILES,
    )
    deferred: list[tuple[int, Path]] = []
    for item in staged:
        if item.outcome is not None and item.outcome.status == _DEFERRED:
            deferred.append((len(summary.outcomes), item.path))
            summary.outcomes.append(item.outcome)
            continue
        if item.prepared is not None:
            outcome = write_prepared(ctx, item.prepared, item.embedded)
            progress.chunks += len(item.prepared.chunks)
            progress.embedded += outcome.embedded
        else:
            assert item.outcome is not None
            outcome = item.outcome
        summary.outcomes.append(outcome)
        progress.files_done += 1
        progress.bytes_done += _size(item.path)
        if on_progress:
            on_progress(progress)
    for position, path in deferred:
        summary.outcomes[position] = _stream_file(ctx, path, metadata, progress, on_progress)
    if on_progress:
        on_progress(progress)
    if prune:
        summary.pruned = prune_missing(ctx, paths, {str(f) for f in files})
    summary.seconds = time.monotonic() - started
    return summary


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _stream_file(
    ctx: IngestContext,
    path: Path,
    metadata: dict[str, Any] | None,
    progress: Progress,
    on_progress: Callable[[Progress], None] | None,
) -> IngestOutcome:
    chunks, embedded = progress.chunks, progress.embedded

    def batch_done(step: IngestProgress) -> None:
        progress.chunks = progress.embedded = chunks + step.chunks_done
        if on_progress:
            on_progress(progress)

    try:
        outcome = ingest_source(
            ctx, ByteSource.from_path(path), path.name, source_name=str(path), metadata=metadata, on_progress=batch_done
        )
    except OSError as exc:  # the file went away or became unreadable since it was listed
        message = f"{path.name}: cannot read file ({exc.strerror or exc})"
        return _record_unreadable(ctx, path, metadata, message)
    progress.chunks, progress.embedded = chunks + outcome.chunks, embedded + outcome.embedded
    progress.files_done += 1
    progress.bytes_done += _size(path)
    return outcome


def _prepare_file(ctx: IngestContext, file: Path, metadata: dict[str, Any] | None, max_bytes: int):
    source = str(file)
    size = _size(file)
    try:
        if size > max_bytes:
            raise PayloadTooLarge(
                f"{file.name}: file is {size} bytes, over the {max_bytes}-byte limit", limit=max_bytes
            )
        if size > STREAM_MIN_BYTES:
            return IngestOutcome(document_id="", filename=file.name, source=source, status=_DEFERRED)
        data = file.read_bytes()
    except (OSError, DocqaError) as exc:
        message = (
            exc.message if isinstance(exc, DocqaError) else f"{file.name}: cannot read file ({exc.strerror or exc})"
        )
        return _record_unreadable(ctx, file, metadata, message)
    return prepare(ctx, data, file.name, source=source, metadata=metadata)


def _record_unreadable(ctx: IngestContext, file: Path, metadata: dict[str, Any] | None, message: str) -> IngestOutcome:
    source = str(file)
    doc_id = ctx.writer.record_failure(
        identity=document_identity(source=source),
        document_id=None,
        filename=file.name,
        source=source,
        content_type="",
        content_hash="",
        error=message,
        metadata=metadata,
    )
    return IngestOutcome(document_id=doc_id, filename=file.name, source=source, status="failed", error=message)


def prune_missing(ctx: IngestContext, roots: list[Path], seen: set[str]) -> list[str]:
    """Delete documents whose source file lay under a scanned folder and no longer exists."""
    folders = [str(p.resolve()) + os.sep for p in roots if p.is_dir()]
    pruned = []
    for doc in list(_all_documents(ctx)):
        src = doc.source
        if src and src not in seen and any(src.startswith(f) for f in folders) and not Path(src).exists():
            ctx.writer.delete(doc.id)
            pruned.append(src)
    return pruned


def _all_documents(ctx: IngestContext):
    offset = 0
    while True:
        with ctx.writer.db.connection() as conn:
            page = repo.list_documents(conn, ctx.writer.collection, limit=1000, offset=offset)
        if not page:
            return
        yield from page
        offset += len(page)
