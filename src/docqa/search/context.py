"""The context of a cited passage: its chunk with the neighbours around it, as one text, and what to highlight.

Chunks of an ingested file keep `text == document[char_start:char_end]`, and neighbours overlap (the
chunker repeats a tail of each chunk at the head of the next) or leave whitespace between them. The window
is stitched back from those offsets: an overlap is shown once, a gap as whitespace. Chunks whose offsets do
not describe their texts (written by a program that did not set them) are joined by blank lines instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from docqa.errors import InvalidInput, NotFound
from docqa.limits import MAX_CONTEXT_CHUNKS
from docqa.storage import repo
from docqa.storage.chunk_window import ChunkWindow, chunk_window
from docqa.storage.db import Database
from docqa.types import ChunkRecord, ContextChunk, PassageContext

JOINER = "\n\n"


@dataclass(frozen=True)
class _Segment:
    """Document characters [doc_start, doc_end) are text characters from text_start on."""

    doc_start: int
    doc_end: int
    text_start: int


def passage_context(
    db: Database,
    collection: str,
    document_id: str,
    chunk_id: int,
    before: int = 1,
    after: int = 1,
    span: tuple[int, int] | None = None,
) -> PassageContext:
    """Chunk `chunk_id` of `document_id` with up to `before` / `after` neighbours; `span`: document offsets to
    highlight (a source's char_start, char_end), within the chunk; by default the whole chunk."""
    for name, value in (("before", before), ("after", after)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_CONTEXT_CHUNKS:
            raise InvalidInput(f"{name} must be an integer from 0 to {MAX_CONTEXT_CHUNKS}", field=name)
    if span is not None and not 0 <= span[0] <= span[1]:
        raise InvalidInput("the span to highlight needs 0 <= start <= end", field="start", start=span[0], end=span[1])
    with db.connection() as conn:
        doc = repo.get_document(conn, document_id)
        if doc is None or doc.collection != collection:
            raise NotFound(f"document {document_id!r} not found", document_id=document_id)
        window = chunk_window(conn, collection, document_id, chunk_id, before, after)
    if window is None:
        raise NotFound(
            f"chunk {chunk_id} is not a chunk of document {document_id!r}", document_id=document_id, chunk_id=chunk_id
        )
    return assemble(window, doc.id, doc.filename, span)


def assemble(window: ChunkWindow, document_id: str, filename: str, span: tuple[int, int] | None) -> PassageContext:
    """The window as one text (pure)."""
    chunks, anchor = window.chunks, window.anchor
    if span is not None and (span[1] < anchor.char_start or span[0] > anchor.char_end):
        raise InvalidInput(
            f"the span [{span[0]}, {span[1]}) is outside chunk {anchor.id} "
            f"(characters {anchor.char_start} to {anchor.char_end} of its document)",
            field="start",
        )
    if _describes_texts(chunks):
        text, segments = _stitch(chunks)
        doc_start, doc_end = chunks[0].char_start, max(c.char_end for c in chunks)
        placed = [(_to_text(segments, c.char_start, True), _to_text(segments, c.char_end, False)) for c in chunks]
        lo, hi = span or (anchor.char_start, anchor.char_end)
        lo, hi = max(lo, anchor.char_start), min(hi, anchor.char_end)
        highlight = (_to_text(segments, lo, True), _to_text(segments, hi, False))
    else:
        text, placed = _joined(chunks)
        doc_start, doc_end = min(c.char_start for c in chunks), max(c.char_end for c in chunks)
        highlight = placed[chunks.index(anchor)]
    return PassageContext(
        document_id=document_id,
        filename=filename,
        chunk_id=anchor.id,
        text=text,
        highlight_start=highlight[0],
        highlight_end=max(highlight),
        char_start=doc_start,
        char_end=doc_end,
        contiguous=_describes_texts(chunks),
        chunks=[
            ContextChunk(chunk_id=c.id, ordinal=c.ordinal, start=s, end=e, page=c.page, heading=c.heading)
            for c, (s, e) in zip(chunks, placed)
        ],
        more_before=window.more_before,
        more_after=window.more_after,
    )


def _describes_texts(chunks: Sequence[ChunkRecord]) -> bool:
    """Every chunk's offsets span exactly its text, and the chunks go forward through the document."""
    if any(c.char_start < 0 or c.char_end - c.char_start != len(c.text) for c in chunks):
        return False
    return all(a.char_start <= b.char_start and a.char_end <= b.char_end for a, b in zip(chunks, chunks[1:]))


def _stitch(chunks: Sequence[ChunkRecord]) -> tuple[str, list[_Segment]]:
    parts: list[str] = []
    segments: list[_Segment] = []
    length, cursor = 0, chunks[0].char_start
    for c in chunks:
        if c.char_start > cursor:  # whitespace the chunker left out between two chunks
            gap = " " if c.char_start - cursor == 1 else JOINER
            parts.append(gap)
            length += len(gap)
            cursor = c.char_start
        if c.char_end <= cursor:  # wholly inside what is already shown
            continue
        piece = c.text[cursor - c.char_start :]
        segments.append(_Segment(cursor, c.char_end, length))
        parts.append(piece)
        length += len(piece)
        cursor = c.char_end
    return "".join(parts), segments


def _to_text(segments: Sequence[_Segment], pos: int, is_start: bool) -> int:
    """A document offset as an offset in the stitched text; one in a gap moves to the text after it (a start)
    or before it (an end)."""
    previous_end = 0
    for seg in segments:
        if seg.doc_start <= pos <= seg.doc_end:
            return seg.text_start + (pos - seg.doc_start)
        if pos < seg.doc_start:
            return seg.text_start if is_start else previous_end
        previous_end = seg.text_start + (seg.doc_end - seg.doc_start)
    return previous_end


def _joined(chunks: Sequence[ChunkRecord]) -> tuple[str, list[tuple[int, int]]]:
    placed, pos = [], 0
    for c in chunks:
        placed.append((pos, pos + len(c.text)))
        pos += len(c.text) + len(JOINER)
    return JOINER.join(c.text for c in chunks), placed
