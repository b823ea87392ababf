"""Split a ParsedDocument into chunks that fit the embedding model.

1. Sections (headings, paragraphs, lists, code, tables) are the units; a
   section over `max_tokens` is cut into sentences (lines for lists, code and
   tables), a sentence over it into runs of words, a word into characters.
2. Units are packed greedily up to `max_tokens`. A new heading always starts
   a new chunk; a chunk that fills up inside a section backs off to the last
   section boundary when that keeps it at least half full.
3. A chunk that continues the previous one (no heading in between) starts
   with about `overlap_tokens` of its tail: whole sentences where possible,
   else whole words.

4. A document with a title of its own (an HTML page's <title>, a PDF's or DOCX's metadata) puts it at the
   root of every heading path that does not start with it: a reference page's "Description" is
   "VACUUM > Description" to the model and the keyword index (`under_title`).

Invariants: `chunk.text == doc.text[chunk.char_start:chunk.char_end]`,
`count_tokens(chunk.text) <= max_tokens` (checked on the final text), no
blank chunk, nothing dropped. count_tokens is called O(n) times in all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from docqa.errors import InvalidInput
from docqa.ingest.document import ParsedDocument, Section
from docqa.ingest.parse_text import iter_blocks
from docqa.ingest.segment import (
    TokenCounter,
    largest_fit,
    line_spans,
    pack_words,
    sentence_spans,
    trim,
    word_spans,
)
from docqa.types import ChunkInput

_LINE_KINDS = {"list", "code", "table"}
Splitter = Callable[[str, int, int], list[tuple[int, int]]]
_SURELY_OVER = 12  # characters per token beyond which a span is split before it is counted
_HEADING_MARKS = re.compile(r"^\s*#{1,6}\s*|\s*#+\s*$|\n[=\-\s]*$")
_SPACES = re.compile(r"\s+")


@dataclass
class _Unit:
    start: int
    end: int
    tokens: int
    path: str  # heading path in effect here (a heading's own path includes itself)
    heading: bool
    opens_section: bool


def normalized_sections(doc: ParsedDocument) -> list[Section]:
    """Sections sorted, trimmed, non-overlapping, and covering every non-blank character."""
    text = doc.text
    ordered = sorted(doc.sections, key=lambda s: (s.start, -s.end))
    result: list[Section] = []
    covered = 0
    for section in ordered:
        start, end = max(section.start, covered, 0), min(section.end, len(text))
        span = trim(text, start, end) if start < end else None
        if span is None:
            continue
        _fill_gap(text, covered, span[0], result)
        result.append(Section(span[0], span[1], section.kind, section.level, section.page, section.title))
        covered = span[1]
    _fill_gap(text, covered, len(text), result)
    return result


def _fill_gap(text: str, start: int, end: int, into: list[Section]) -> None:
    if start < end and text[start:end].strip():
        into.extend(Section(s, e, "paragraph") for s, e in iter_blocks(text[start:end], base=start))


def _heading_title(text: str, section: Section) -> str:
    raw = section.title or _HEADING_MARKS.sub("", text[section.start : section.end])
    return _SPACES.sub(" ", raw).strip()[:200]


def _split(text: str, section: Section, count: TokenCounter, limit: int, overlap: int) -> list[tuple[int, int, int]]:
    """Pieces of one section, each at most `limit` tokens: the whole section if it fits, else
    sentences (lines for lists, code and tables), then lines, then runs of words. Runs of
    words leave room for the overlap, so that the chunks made of them can overlap."""
    splitters = [line_spans] if section.kind in _LINE_KINDS else [sentence_spans, line_spans]
    return _split_span(text, section.start, section.end, None, splitters, count, (limit, max(1, limit - overlap)))


def _split_span(
    text: str,
    start: int,
    end: int,
    tokens: int | None,
    splitters: Sequence[Splitter],
    count: TokenCounter,
    limits: tuple[int, int],
) -> list[tuple[int, int, int]]:
    """`tokens` is None when not counted yet: a span far longer than the limit in characters is
    split without being counted whole, which spares the counter a pass over long text."""
    if tokens is None and (end - start <= _SURELY_OVER * limits[0] or not splitters):
        tokens = count(text[start:end])
    if tokens is not None and tokens <= limits[0]:
        return [(start, end, tokens)]
    if not splitters:
        assert tokens is not None
        return pack_words(text, start, end, count, limits[1], tokens)
    spans = splitters[0](text, start, end)
    if len(spans) <= 1:
        return _split_span(text, start, end, tokens, splitters[1:], count, limits)
    pieces: list[tuple[int, int, int]] = []
    for s, e in spans:
        pieces.extend(_split_span(text, s, e, None, splitters[1:], count, limits))
    return pieces


def _units(
    doc: ParsedDocument, count: TokenCounter, limit: int, overlap: int, stack: list[tuple[int, str]]
) -> list[_Unit]:
    units: list[_Unit] = []
    for section in normalized_sections(doc):
        is_heading = section.kind == "heading"
        if is_heading:
            level = max(section.level, 1)
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, _heading_title(doc.text, section)))
        path = " > ".join(title for _, title in stack if title)
        for k, (start, end, tokens) in enumerate(_split(doc.text, section, count, limit, overlap)):
            units.append(_Unit(start, end, tokens, path, is_heading, k == 0))
    return units


class _Packer:
    def __init__(self, text: str, units: list[_Unit], count: TokenCounter, limit: int, overlap: int) -> None:
        self.text, self.units, self.count, self.limit, self.overlap = text, units, count, limit, overlap

    def starts_new_topic(self, i: int) -> bool:
        return self.units[i].heading and self.units[i].opens_section

    def overlap_start(self, prev_first: int, i: int) -> int | None:
        """Where the overlap before unit i starts, or None for no overlap."""
        units, text = self.units, self.text
        budget = min(self.overlap, self.limit - units[i].tokens)
        if budget <= 0 or i == 0 or self.starts_new_topic(i):
            return None
        used, start, k = 0, None, i - 1
        while k >= prev_first and used + units[k].tokens <= budget:
            used, start, k = used + units[k].tokens, units[k].start, k - 1
        if k >= prev_first:  # part of unit k: trailing sentences, else trailing words
            for s, e in reversed(sentence_spans(text, units[k].start, units[k].end)):
                tokens = self.count(text[s:e])
                if used + tokens > budget:
                    break
                used, start = used + tokens, s
            if start is None:
                start = self.word_tail(units[k].start, units[k].end, units[k].tokens, budget - used)
        if start is None or start <= units[prev_first].start:
            return None
        return start

    def word_tail(self, start: int, end: int, tokens: int, budget: int) -> int | None:
        """Start of the longest run of whole words ending at `end` (of a unit of `tokens`) within `budget`."""
        words = word_spans(self.text, start, end)
        if not words or self.count(self.text[words[-1][0] : end]) > budget:
            return None
        taken = largest_fit(
            lambda m: self.count(self.text[words[-m][0] : end]) <= budget,
            1,
            len(words),
            max(1, budget * len(words) // max(tokens, 1)),
        )
        return words[-taken][0]

    def fill(self, i: int, used: int) -> int:
        """End (exclusive) of the run of units starting at i that fits beside `used` overlap tokens.

        A heading that opens a section ends the run once the run holds any
        text besides headings; a run cut inside a section backs off to the
        last section start when that keeps it at least half full.
        """
        units, n = self.units, len(self.units)
        j, tokens = i + 1, used + units[i].tokens
        has_text = not units[i].heading
        while j < n and not (has_text and self.starts_new_topic(j)) and tokens + units[j].tokens <= self.limit:
            tokens += units[j].tokens
            has_text = has_text or not units[j].heading
            j += 1
        if j < n and not units[j].opens_section:
            running = tokens
            for k in range(j - 1, i, -1):
                running -= units[k].tokens
                if units[k].opens_section:
                    if running >= self.limit // 2:
                        j = k
                    break
        return j

    def spans(self) -> list[tuple[int, int, int, int, int]]:
        """(char_start, char_end, tokens, first_unit, end_unit) for every chunk."""
        out: list[tuple[int, int, int, int, int]] = []
        i, prev_first = 0, 0
        while i < len(self.units):
            start = self.overlap_start(prev_first, i) if out else None
            used = self.count(self.text[start : self.units[i].start]) if start is not None else 0
            j = self.fill(i, used)
            while True:
                chunk_start = self.units[i].start if start is None else start
                end = self.units[j - 1].end
                tokens = self.count(self.text[chunk_start:end])
                if tokens <= self.limit:
                    break
                if j > i + 1:
                    j -= 1
                elif start is not None:
                    start = None
                else:  # a single unit was measured on its own text, so this cannot happen
                    raise AssertionError("unit over the token limit")
            out.append((chunk_start, end, tokens, i, j))
            prev_first, i = i, j
        return out


def chunk_document(
    doc: ParsedDocument,
    count_tokens: TokenCounter,
    max_tokens: int = 200,
    overlap_tokens: int = 30,
    heading_stack: list[tuple[int, str]] | None = None,
) -> list[ChunkInput]:
    """Chunks of `doc`, each within `max_tokens` by `count_tokens`, in document order.

    `heading_stack`: the (level, title) headings in effect where `doc` starts, updated in place to
    those in effect where it ends, so a document chunked window by window (ingest/windows.py)
    keeps its heading paths across windows."""
    if max_tokens < 1:
        raise InvalidInput(f"max_tokens must be at least 1, got {max_tokens}")
    if not 0 <= overlap_tokens < max_tokens:
        raise InvalidInput(f"overlap_tokens must be in [0, max_tokens), got {overlap_tokens}")
    units = _units(doc, count_tokens, max_tokens, overlap_tokens, [] if heading_stack is None else heading_stack)
    packer = _Packer(doc.text, units, count_tokens, max_tokens, overlap_tokens)
    chunks: list[ChunkInput] = []
    for ordinal, (start, end, tokens, first, stop) in enumerate(packer.spans()):
        content = next((u for u in units[first:stop] if not u.heading), units[stop - 1])
        chunks.append(
            ChunkInput(
                text=doc.text[start:end],
                ordinal=ordinal,
                char_start=start,
                char_end=end,
                page=doc.page_at(start),
                token_count=tokens,
                heading=content.path,
            )
        )
    return chunks


_SITE_SUFFIX = re.compile(r"\s+[|\u2013\u2014]\s+.*$")  # "Install | Acme Docs", "Install \u2014 Acme"


def under_title(chunks: Sequence[ChunkInput], doc: ParsedDocument) -> None:
    """Root each chunk's heading path at the title the document declares (an HTML page's <title>, a PDF's
    or DOCX's metadata; never a file name or a first line), where the path does not start with it already
    (documentation generators put a reference page's name beside its sections, not above them). A site's
    name after " | ", " \u2013 " or " \u2014 " is left out."""
    title = _SITE_SUFFIX.sub("", " ".join(doc.declared_title.split())).replace(" > ", " \u203a ").strip()
    if not title:
        return
    key = title.casefold()
    for chunk in chunks:
        root = " ".join(chunk.heading.split(" > ", 1)[0].split()).casefold()
        if root != key:
            chunk.heading = f"{title} > {chunk.heading}" if chunk.heading else title
