"""Ingest one document of any size in bounded memory: parse -> chunk -> embed -> write, batch by batch.

    outcome = ingest_source(ctx, ByteSource.from_path(path), "big.txt", cancel=stop.is_set, on_progress=show)

1. The content hash is computed in one streamed pass; unchanged content stops there.
2. Plain text and Markdown are decoded and parsed window by window from the source
   (ingest/source.py); PDF, DOCX and HTML parsers need the whole file, which is read once,
   parsed, and let go; the parsed text is then cut into windows (ingest/windows.py).
3. Chunks are taken `batch_chunks` at a time. A document that fits in one batch is written the
   ordinary way (ingest/writer.py: one transaction, unchanged rows reused). A bigger one is staged
   (ingest/staged.py): each batch is embedded and committed under a staging row no search or
   listing sees, and the last step makes it the document in one transaction. So memory holds
   one window and one batch whatever the document's size, and a failure, a cancel or a kill
   midway leaves the stored version (if any) as it was and nothing half-written in sight.

`cancel` is asked between batches (and before the first); when it answers True the staged rows
are removed and the outcome's status is `cancelled`. `on_progress` gets an IngestProgress after
every batch. A file that cannot be parsed is recorded `failed` with its reason, as in
ingest/pipeline.py; any other error (the embedder's, the database's) is raised after the staged
rows are removed.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from docqa.errors import DocqaError, ParseError, PayloadTooLarge, UnsupportedType
from docqa.ingest.document import CT_MARKDOWN, CT_TEXT, PARSER_VERSION
from docqa.ingest.identity import document_identity
from docqa.ingest.parsers import parse_bytes
from docqa.ingest.pipeline import IngestContext, IngestOutcome, chunk_parsed
from docqa.ingest.prefetch import batched, prefetched
from docqa.ingest.sniff import sniff
from docqa.ingest.source import HEAD_BYTES, ByteSource, decoded_windows
from docqa.ingest.staged import Incoming, StagedWrite
from docqa.ingest.windows import Title, chunk_windows, parsed_windows, text_windows
from docqa.ingest.writer import same_document
from docqa.types import ChunkInput

BATCH_CHUNKS = 512  # chunks embedded and committed together (~0.5 MB of text, ~0.8 MB of vectors at 384-d)


@dataclass(frozen=True)
class IngestProgress:
    """Where one document's ingest stands: chunks written so far, of the chunks made so far (the
    total is known only at the end), and the bytes of the source."""

    chunks_done: int
    chunks_seen: int
    bytes_total: int


Cancel = Callable[[], bool]
OnProgress = Callable[[IngestProgress], None]


def check_supported_source(source: ByteSource, filename: str, content_type_hint: str | None = None) -> None:
    """Raise UnsupportedType when the content is of no type docqa reads (an empty file is left to ingest)."""
    head = source.head(HEAD_BYTES)
    try:
        sniff(source.read_all() if head.startswith(b"PK") else head, filename, content_type_hint)
    except ParseError:
        pass


def _chunks(ctx: IngestContext, source: ByteSource, filename: str, hint: str | None, title: Title):
    """(content type, the document's chunks as a lazy stream). Parse errors surface as DocqaError."""
    head = source.head(HEAD_BYTES)
    streamable = source.size > HEAD_BYTES and not head.startswith(b"PK") and head.strip(b" \t\r\n\f\x00")
    content_type = sniff(head, filename, hint, ctx.limits) if streamable else ""
    chunk = lambda window, headings: chunk_parsed(ctx, window, headings)  # noqa: E731
    if content_type in (CT_TEXT, CT_MARKDOWN):
        pieces = decoded_windows(source, filename, ctx.limits, markdown=content_type == CT_MARKDOWN)
        return content_type, chunk_windows(text_windows(pieces, content_type, title), chunk)
    data = source.read_all()
    content_type = sniff(data, filename, hint, ctx.limits)
    parsed = parse_bytes(data, filename, content_type, ctx.limits)
    del data
    title.value = parsed.title
    return parsed.content_type, chunk_windows(parsed_windows(parsed), chunk)


def ingest_source(
    ctx: IngestContext,
    source: ByteSource,
    filename: str,
    *,
    source_name: str = "",
    document_id: str | None = None,
    content_type_hint: str | None = None,
    metadata: dict[str, Any] | None = None,
    cancel: Cancel | None = None,
    on_progress: OnProgress | None = None,
    batch_chunks: int | None = None,
) -> IngestOutcome:
    """Ingest one document (see the module's docstring); the outcome's status is added, updated,
    unchanged, failed or cancelled."""
    writer = ctx.writer
    batch_chunks = batch_chunks or BATCH_CHUNKS
    digest = source.content_hash()
    identity = document_identity(document_id=document_id, source=source_name, filename=filename, content_hash=digest)
    existing = writer.find_document(document_id, identity)
    meta = dict(metadata or {})
    if existing is not None and same_document(existing, digest, meta, PARSER_VERSION):
        return IngestOutcome(existing.id, filename, "unchanged", source=source_name, chunks=existing.chunks_total)
    cancelled = IngestOutcome(existing.id if existing else "", filename, "cancelled", source=source_name)
    if cancel and cancel():
        return cancelled
    doc = Incoming(identity, document_id, filename, source_name, content_type_hint or "", digest, meta)
    title = Title(filename)
    staged: StagedWrite | None = None
    batches: Iterator[list[ChunkInput]] | None = None
    try:
        doc.content_type, stream = _chunks(ctx, source, filename, content_type_hint, title)
        batches = prefetched(batched(stream, batch_chunks))  # the next batch is chunked while this one embeds
        first = next(batches, [])
        if not first:
            raise ParseError(f"{filename}: no text to index")
        second = next(batches, [])
        if not second:  # small: the ordinary one-transaction write
            if cancel and cancel():
                return cancelled
            return _write_whole(ctx, doc, first, title, existing.id if existing else None)
        staged = StagedWrite(writer, doc, existing.id if existing and existing.status == "indexed" else None)
        staged.begin()
        if not _write_batches(staged, itertools.chain([first, second], batches), source.size, cancel, on_progress):
            staged.discard()
            return cancelled
        result = staged.commit(_with_title(meta, title))
    except DocqaError as exc:
        if staged is not None:
            staged.discard()
        if isinstance(exc, (ParseError, UnsupportedType, PayloadTooLarge)):  # the file's fault: recorded
            return _failed(ctx, doc, existing.id if existing else document_id, exc)
        raise
    except BaseException:
        if staged is not None:
            staged.discard()
        raise
    finally:
        if batches is not None:
            batches.close()  # type: ignore[attr-defined]  # stops the chunking thread
    return IngestOutcome(
        result.document_id,
        filename,
        result.outcome,
        source=source_name,
        chunks=staged.chunks,
        embedded=staged.embedded,
        removed=result.removed,
        seq=result.seq,
    )


def _write_batches(
    staged: StagedWrite,
    batches: Iterator[list[ChunkInput]],
    bytes_total: int,
    cancel: Cancel | None,
    on_progress: OnProgress | None,
) -> bool:
    """Stage every batch; False when cancelled."""
    for batch in batches:
        if cancel and cancel():
            return False
        staged.add(batch)
        if on_progress:
            on_progress(IngestProgress(staged.chunks, staged.chunks, bytes_total))
    return not (cancel and cancel())


def _with_title(meta: dict[str, Any], title: Title) -> dict[str, Any]:
    return {**meta, "title": title.value} if title.value and "title" not in meta else meta


def _write_whole(
    ctx: IngestContext, doc: Incoming, chunks: list[ChunkInput], title: Title, existing_id: str | None
) -> IngestOutcome:
    embedded = ctx.writer.embed_new([(existing_id, chunks)])[0]
    result = ctx.writer.write(
        chunks,
        document_id=doc.document_id,
        filename=doc.filename,
        source=doc.source,
        content_type=doc.content_type,
        content_hash=doc.content_hash,
        metadata=_with_title(doc.metadata, title),
        identity=doc.identity,
        parser_version=PARSER_VERSION,
    )
    return IngestOutcome(
        result.document_id,
        doc.filename,
        result.outcome,
        source=doc.source,
        chunks=len(chunks),
        embedded=embedded,
        removed=result.removed,
        seq=result.seq,
    )


def _failed(ctx: IngestContext, doc: Incoming, doc_id: str | None, exc: DocqaError) -> IngestOutcome:
    failed_id = ctx.writer.record_failure(
        document_id=doc_id,
        filename=doc.filename,
        source=doc.source,
        content_type=doc.content_type,
        content_hash=doc.content_hash,
        error=exc.message,
        metadata=doc.metadata,
        identity=doc.identity,
    )
    return IngestOutcome(failed_id, doc.filename, "failed", source=doc.source, error=exc.message, error_code=exc.code)
