"""Pure parts of the passage context and of the sync history: stitching chunks, mapping the highlight, counting drift."""

from __future__ import annotations

import pytest

from docqa.app.sync_history import SyncHistoryRecorder
from docqa.errors import InvalidInput
from docqa.search.context import assemble
from docqa.storage.chunk_window import ChunkWindow
from docqa.types import ChunkRecord, SyncReport

DOC = "Alpha beta gamma.\n\nDelta epsilon zeta eta. Theta iota."


def chunk(cid: int, ordinal: int, start: int, end: int, text: str | None = None) -> ChunkRecord:
    return ChunkRecord(
        id=cid,
        document_id="d",
        collection="default",
        ordinal=ordinal,
        text=DOC[start:end] if text is None else text,
        char_start=start,
        char_end=end,
        page=None,
        token_count=0,
        heading="",
        content_hash="",
        model="m",
        dim=1,
        metadata={},
    )


def window(chunks: list[ChunkRecord], anchor: int) -> ChunkWindow:
    return ChunkWindow(chunks=chunks, anchor=chunks[anchor], more_before=False, more_after=False)


def test_overlapping_chunks_are_shown_once_and_a_section_gap_as_a_blank_line():
    a, b, c = chunk(1, 0, 0, 17), chunk(2, 1, 19, 42), chunk(3, 2, 33, 54)  # b and c overlap by "zeta eta."
    ctx = assemble(window([a, b, c], 1), "d", "f.txt", None)
    assert ctx.text == DOC and ctx.contiguous and (ctx.char_start, ctx.char_end) == (0, 54)
    assert ctx.highlighted == DOC[19:42]
    assert [ctx.text[p.start : p.end] for p in ctx.chunks] == [a.text, b.text, c.text]


def test_a_span_is_mapped_through_gaps_and_clipped_to_its_chunk():
    a, b = chunk(1, 0, 0, 5), chunk(2, 1, 19, 42)  # "Alpha" ... a 14-character gap ... "Delta ..."
    ctx = assemble(window([a, b], 1), "d", "f.txt", (25, 32))
    assert ctx.text == "Alpha\n\n" + DOC[19:42] and ctx.highlighted == "epsilon"
    assert assemble(window([a, b], 1), "d", "f.txt", (10, 24)).highlighted == "Delta"  # clipped at the chunk
    with pytest.raises(InvalidInput, match="outside chunk 2"):
        assemble(window([a, b], 1), "d", "f.txt", (0, 5))


def test_chunks_whose_offsets_do_not_describe_their_texts_are_joined_by_blank_lines():
    """Written by a program that left the offsets at 0 (ChunkInput's defaults)."""
    a, b = chunk(1, 0, 0, 0, "first text"), chunk(2, 1, 0, 0, "second text")
    ctx = assemble(window([a, b], 1), "d", "f.txt", None)
    assert ctx.text == "first text\n\nsecond text" and not ctx.contiguous
    assert ctx.highlighted == "second text"
    assert [(p.start, p.end) for p in ctx.chunks] == [(0, 10), (12, 23)]


def test_the_sync_history_counts_drift_but_not_forced_rebuilds():
    history = SyncHistoryRecorder()
    assert history.snapshot().last_sync_at is None
    history.on_sync(SyncReport("in_sync", False, 10, 10, 5))
    first = history.snapshot()
    assert first.syncs == 1 and first.last_verified_at and first.last_change_at is None and first.drift_found == 0
    history.on_sync(SyncReport("repaired", True, 10, 10, 5, added=2, removed=1, repaired=3, cause="drift"))
    history.on_sync(SyncReport("rebuilt", True, 10, 10, 5, added=10, cause="forced"))
    history.on_sync(SyncReport("caught_up", True, 11, 11, 6, added=1))
    h = history.snapshot()
    assert (h.syncs, h.drift_found, h.drift_repaired_ids, h.last_drift_action, h.last_drift_cause) == (
        4,
        1,
        3,
        "repaired",
        "drift",
    )
    assert h.last_change_at and h.last_drift_at
