"""The library's one-document ingest: bytes, a file or an open stream, in bounded memory, cancellable.

    outcome = docqa.ingest_file(Path("big.txt"), cancel=job.cancelled, on_progress=job.report)
    outcome.status   # added | updated | unchanged | failed | cancelled

At most `settings.max_concurrent_ingests` of these run at once in a process (parsing, embedding
and writing: what costs memory and cores); the others wait for a slot, and a waiting call whose
`cancel` answers True returns `cancelled` without starting. See ingest/stream.py for the pipeline.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from docqa.config import Settings
from docqa.ingest.pipeline import IngestContext, IngestOutcome
from docqa.ingest.source import ByteSource
from docqa.ingest.stream import IngestProgress, check_supported_source, ingest_source
from docqa.sync.engine import SyncEngine

_WAIT_POLL_S = 0.1


class IngestSlots:
    """A bound on the ingests running at once; the rest wait (never refused)."""

    def __init__(self, slots: int) -> None:
        self.slots = max(1, slots)
        self._free = threading.BoundedSemaphore(self.slots)

    @contextmanager
    def held(self, cancel: Callable[[], bool] | None = None) -> Iterator[bool]:
        """Hold a slot for the block; yields False (holding none) if `cancel` said so while waiting."""
        while not self._free.acquire(timeout=_WAIT_POLL_S):
            if cancel and cancel():
                yield False
                return
        try:
            yield True
        finally:
            self._free.release()


class FileIngest:
    """Mixed into Docqa: what it provides is below; what it needs, declared here."""

    settings: Settings
    engine: SyncEngine
    ingest_slots: IngestSlots

    def _ingest_context(self) -> IngestContext:
        raise NotImplementedError

    def writing(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    def ingest_bytes(
        self,
        data: bytes,
        filename: str,
        *,
        source: str = "",
        document_id: str | None = None,
        content_type_hint: str | None = None,
        metadata: dict[str, Any] | None = None,
        sync: bool = True,
        refuse_unsupported: bool = False,
        cancel: Callable[[], bool] | None = None,
        on_progress: Callable[[IngestProgress], None] | None = None,
    ) -> IngestOutcome:
        """Parse, chunk, embed and store one file held in memory; see `ingest_file` (same arguments)."""
        return self._ingest(
            ByteSource.from_bytes(data),
            filename,
            source,
            document_id,
            content_type_hint,
            metadata,
            sync,
            refuse_unsupported,
            cancel,
            on_progress,
        )

    def ingest_file(
        self,
        file: Path | BinaryIO,
        filename: str = "",
        *,
        source: str = "",
        document_id: str | None = None,
        content_type_hint: str | None = None,
        metadata: dict[str, Any] | None = None,
        sync: bool = True,
        refuse_unsupported: bool = False,
        cancel: Callable[[], bool] | None = None,
        on_progress: Callable[[IngestProgress], None] | None = None,
    ) -> IngestOutcome:
        """Parse, chunk, embed and store one document from a path or a seekable binary stream (e.g. a
        spooled upload; read from its start, not closed), in memory bounded whatever its size.
        A path is the document's `source` unless one is given (the same document as `docqa ingest`'s).

        A document bigger than one batch is written batch by batch and becomes visible (status
        `indexed`, searchable) only when whole, in one transaction; until then a stored version stays
        the one searched. A bad file is an outcome `failed` with the reason.
        `refuse_unsupported`: content of no supported type raises UnsupportedType (415) instead, and
        nothing is recorded (an upload of a PNG is the client's mistake, not a failed document).
        `cancel`: asked while waiting for an ingest slot and between batches; True stops the ingest,
        removes what it staged, and returns status `cancelled` (the stored version, if any, stays).
        `on_progress(IngestProgress)`: after each batch, chunks written so far (`chunks_done`), chunks
        made so far (`chunks_seen`; the total is known at the end), the source's size (`bytes_total`).
        `sync`: catch the index up after a write. The returned `seq` can be passed as `min_seq`."""
        if isinstance(file, (str, Path)):  # a path is its own source, as for `docqa ingest` and Client.ingest_file
            path = Path(file).resolve()
            src, name, source = ByteSource.from_path(path), filename or path.name, source or str(path)
        else:
            src, name = ByteSource.from_file(file), filename or "upload"
        return self._ingest(
            src, name, source, document_id, content_type_hint, metadata, sync, refuse_unsupported, cancel, on_progress
        )

    def _ingest(
        self,
        src: ByteSource,
        filename: str,
        source: str,
        document_id: str | None,
        hint: str | None,
        metadata: dict[str, Any] | None,
        sync: bool,
        refuse_unsupported: bool,
        cancel: Callable[[], bool] | None,
        on_progress: Callable[[IngestProgress], None] | None,
    ) -> IngestOutcome:
        if refuse_unsupported:
            check_supported_source(src, filename, hint)
        with self.ingest_slots.held(cancel) as running:
            if not running:
                return IngestOutcome("", filename, "cancelled", source=source)
            with self.writing():
                outcome = ingest_source(
                    self._ingest_context(),
                    src,
                    filename,
                    source_name=source,
                    document_id=document_id,
                    content_type_hint=hint,
                    metadata=metadata,
                    cancel=cancel,
                    on_progress=on_progress,
                )
        if sync and outcome.status in ("added", "updated"):
            self.engine.sync("catch_up")
        return outcome
