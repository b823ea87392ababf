"""The text around the retrieved chunks: each hit with its neighbours, merged by document position.

Chunks overlap (a chunk that continues the previous one repeats its tail, sometimes from the middle of a
sentence), and an answer often runs past the end of the chunk that was found (a lead-in ending in ":" whose
code block is the next chunk). So the retrieved chunks and their neighbours in the same document (the
chunks just before and after) are merged into `Region`s: one stretch of document text per run of
consecutive chunks, each character once, with the chunks that cover it. Sentences are then cut from the
region, never from a chunk alone, so the half sentence a chunk starts with is never offered or quoted on
its own, and nothing is quoted twice. Every offset maps back exactly: region text is document text, and
`chunk_for` finds a chunk holding a span, so a cited span is always inside its chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from docqa.search.corpus import Corpus
from docqa.search.vector import hits_from_ids
from docqa.types import SearchHit

NEIGHBOURS = 1  # chunks fetched on each side of a retrieved one


@dataclass
class Region:
    """`text` is the document's text from offset `start`; `chunks` (by position) cover all of it."""

    document_id: str
    filename: str
    start: int
    text: str
    chunks: list[SearchHit]
    ranks: dict[int, int] = field(default_factory=dict)  # chunk id -> its rank in the hit list (retrieved ones)

    @property
    def end(self) -> int:
        return self.start + len(self.text)

    def chunk_for(self, start: int, end: int, prefer: int | None = None) -> SearchHit | None:
        """A chunk holding region offsets [start, end): `prefer` (a chunk id) if it does, else the best ranked."""
        a, b = self.start + start, self.start + end
        holding = [c for c in self.chunks if c.char_start <= a and b <= c.char_end]
        if not holding:
            return None
        for chunk in holding:
            if chunk.chunk_id == prefer:
                return chunk
        return min(holding, key=lambda c: (self.ranks.get(c.chunk_id, len(self.ranks) + 1), c.char_start))

    def heading_at(self, offset: int) -> str:
        """The heading path of the last chunk starting at or before region offset `offset`."""
        at = self.start + offset
        heading = self.chunks[0].heading
        for chunk in self.chunks:
            if chunk.char_start <= at:
                heading = chunk.heading
        return heading

    def retrieved_spans(self) -> list[tuple[int, int, int]]:
        """(start, end, rank) in region offsets of the retrieved chunks."""
        return [
            (c.char_start - self.start, c.char_end - self.start, self.ranks[c.chunk_id])
            for c in self.chunks
            if c.chunk_id in self.ranks
        ]


def neighbour_ids(corpus: Corpus, hits: Sequence[SearchHit], reach: int = NEIGHBOURS) -> list[int]:
    """Ids of the chunks within `reach` positions of each hit in its document (the hits themselves excluded)."""
    have = {h.chunk_id for h in hits}
    wanted: list[int] = []
    with corpus.db.connection() as conn:
        for hit in hits:
            rows = conn.fetchall(
                "SELECT id FROM chunks WHERE document_id = ? AND ordinal BETWEEN ? AND ? ORDER BY ordinal",
                (hit.document_id, hit.chunk_index - reach, hit.chunk_index + reach),
            )
            wanted.extend(int(r[0]) for r in rows if int(r[0]) not in have)
    return list(dict.fromkeys(wanted))


def build_regions(hits: Sequence[SearchHit], neighbours: Sequence[SearchHit]) -> list[Region]:
    """The regions covering `hits` and `neighbours`, in the order of each region's best ranked hit."""
    ranks: dict[int, int] = {}
    for rank, hit in enumerate(hits):
        ranks.setdefault(hit.chunk_id, rank)
    by_document: dict[str, dict[int, SearchHit]] = {}
    for chunk in [*hits, *neighbours]:
        by_document.setdefault(chunk.document_id, {}).setdefault(chunk.chunk_id, chunk)
    regions: list[Region] = []
    for chunks in by_document.values():
        ordered = sorted(chunks.values(), key=lambda c: (c.chunk_index, c.char_start))
        run: list[SearchHit] = []
        for chunk in ordered:
            if run and not _continues(run, chunk):
                regions.append(_region(run, ranks))
                run = []
            run.append(chunk)
        if run:
            regions.append(_region(run, ranks))
    regions = [r for r in regions if r.ranks]
    return sorted(regions, key=lambda r: min(r.ranks.values()))


def _continues(run: Sequence[SearchHit], chunk: SearchHit) -> bool:
    """Whether `chunk` is the next chunk of the run's document and its offsets agree with the run's text
    (chunks written by other programs may carry offsets that do not: each is then a region of its own)."""
    last = run[-1]
    if chunk.chunk_index != last.chunk_index + 1 or not last.char_start < chunk.char_start <= last.char_end + 64:
        return False
    if len(chunk.content) != chunk.char_end - chunk.char_start or len(last.content) != last.char_end - last.char_start:
        return False
    shared = max(0, min(last.char_end, chunk.char_end) - chunk.char_start)
    offset = chunk.char_start - last.char_start
    return last.content[offset : offset + shared] == chunk.content[:shared]


def _region(run: Sequence[SearchHit], ranks: dict[int, int]) -> Region:
    """One stretch of text from consecutive chunks: each chunk adds what lies past the text so far
    (a gap between two chunks is whitespace the chunker trimmed, written back as a line break)."""
    start = run[0].char_start
    text = ""
    for chunk in run:
        end = start + len(text)
        if chunk.char_start > end:
            text += "\n" * (chunk.char_start - end)
            end = chunk.char_start
        if chunk.char_end > end:
            text += chunk.content[end - chunk.char_start :]
    first = run[0]
    return Region(
        document_id=first.document_id,
        filename=first.filename,
        start=start,
        text=text,
        chunks=list(run),
        ranks={c.chunk_id: ranks[c.chunk_id] for c in run if c.chunk_id in ranks},
    )


def regions_for(corpus: Corpus, hits: Sequence[SearchHit]) -> list[Region]:
    """The retrieved chunks with their neighbours, merged into regions."""
    if not hits:
        return []
    ids = neighbour_ids(corpus, hits)
    return build_regions(hits, hits_from_ids(corpus.db, ids, [0.0] * len(ids)) if ids else [])
