"""Compose the answer: the answering unit with its neighbours in the same section, cited as [n] (pure).

A window of units grows around the anchor (the unit that answers) inside its section: forward first (the
answer after a restating sentence, the rest of a procedure), then back, while its text stays within
`target` (TARGET_CHARS); it never crosses a heading. A window ending in a lead-in (":") keeps what it
introduces, a code block or a list, up to MAX_CHARS (whole units). Units come from a region, which holds
each character of the document once, so overlapping chunks never make a span appear twice.

Each stretch of the window held by one chunk is a `Source` whose text is exactly that chunk's characters;
the rendered answer puts `[n]` after the stretch that `sources[n-1]` is. Rendering joins the lines of a
paragraph a PDF wrapped and keeps every other line as written (code keeps its indentation and spacing).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from docqa.qa.context import Region
from docqa.qa.passages import Unit, blocks, heading_titles, units_of_blocks
from docqa.qa.types import Source
from docqa.types import SearchHit

TARGET_CHARS = 600  # a window grows while its text stays within this
MAX_CHARS = 900  # never more, markers included (a lead-in's code block or list may use the difference)
MARKER_RESERVE = 16  # room kept for the [n] markers
LEAD_UNITS = 1  # units of the anchor's paragraph taken before it first


@dataclass(frozen=True)
class Piece:
    """A stretch of a window inside one chunk: region offsets [start, end)."""

    chunk: SearchHit
    start: int
    end: int


@dataclass
class Layout:
    """A region cut into units, and which of its lines continue a paragraph wrapped onto them."""

    region: Region
    units: list[Unit]
    wrapped: frozenset[int]  # region offsets where a line continuing the block above starts

    @classmethod
    def of(cls, region: Region, extra_titles: Iterable[str] = ()) -> Layout:
        titles = heading_titles([c.heading for c in region.chunks]) | set(extra_titles)
        spans = blocks(region.text, titles)
        text = region.text
        wrapped: set[int] = set()
        for start, end, _group, _section in spans:
            newline = text.find("\n", start, end)
            while newline >= 0:
                line = newline + 1
                while line < end and text[line] != "\n" and text[line].isspace():  # no-break spaces indent too
                    line += 1
                wrapped.add(line)
                newline = text.find("\n", newline + 1, end)
        return cls(region, units_of_blocks(text, spans), frozenset(wrapped))

    def render(self, start: int, end: int, shared: int | None = None) -> str:
        """Region text [start, end) for reading: wrapped lines joined, other lines kept with their indentation
        less the indentation all of them share (a plain-text document indented as a whole reads flush left,
        a code block keeps its shape). `shared`: that indentation when [start, end) is part of a window
        (`shared_indent` of the whole window: each piece of it loses the same)."""
        lines = self._lines(start, end)
        if shared is None:
            shared = _shared(lines)
        return "\n".join((indent or "")[shared:] + content for indent, content in lines)

    def shared_indent(self, start: int, end: int) -> int:
        """The indentation every line of [start, end) starts with (lines starting mid-line not counted)."""
        return _shared(self._lines(start, end))

    def _lines(self, start: int, end: int) -> list[tuple[str | None, str]]:
        """(indentation, None when the line starts before `start`; its content, wrapped lines joined)."""
        text = self.region.text
        lines: list[tuple[str | None, str]] = []
        position = start
        for raw in text[start:end].split("\n"):
            line_start, position = position, position + len(raw) + 1
            content = raw.strip()
            if not content:
                continue
            first = line_start + len(raw) - len(raw.lstrip())
            if lines and first in self.wrapped:
                lines[-1] = (lines[-1][0], f"{lines[-1][1]} {content}")
            else:
                lines.append((_indent(text, first), content))
        return lines

    def text_of(self, first: int, last: int) -> str:
        return self.render(self.units[first].start, self.units[last].end)


def _shared(lines: list[tuple[str | None, str]]) -> int:
    return min((len(indent) for indent, _ in lines if indent is not None), default=0)


def _indent(text: str, at: int) -> str | None:
    """The whitespace between the start of the line holding `at` and `at` (None if `at` is mid-line)."""
    lead = text[text.rfind("\n", 0, at) + 1 : at]
    return None if lead.strip() else lead


def window(
    layout: Layout, anchor: int, target: int = TARGET_CHARS, bounds: tuple[int, int] | None = None
) -> tuple[int, int]:
    """First and last unit index of the window around `anchor`, inside `bounds` (first and last unit index
    it may take: the units between the windows already quoted from the region)."""
    units = layout.units
    low, high = bounds if bounds is not None else (0, len(units) - 1)
    section = units[anchor].section
    limit = MAX_CHARS - MARKER_RESERVE
    first, last = _with_follow_up(layout, anchor, anchor, limit, high)
    for _ in range(LEAD_UNITS):  # the sentence before, in the same paragraph: what the anchor follows on from
        same_block = first > low and units[first - 1].block == units[first].block
        if same_block and len(layout.text_of(first - 1, last)) <= target:
            first -= 1
    while last < high and units[last + 1].section == section:
        grown = _with_follow_up(layout, first, last + 1, limit, high)
        if len(layout.text_of(*grown)) > target:
            break
        first, last = grown
    while first > low and units[first - 1].section == section:
        if len(layout.text_of(first - 1, last)) > target:
            break
        first -= 1
    return first, last


def _with_follow_up(layout: Layout, first: int, last: int, limit: int, high: int) -> tuple[int, int]:
    """The window extended past a lead-in ending in ":" to what it introduces: the rest of its group, or
    (when it ends its group) the whole next group, as far as `limit` (and unit `high`) allows."""
    units = layout.units
    if not units[last].text.rstrip().endswith(":") or last >= high:
        return first, last
    section = units[last].section
    group = units[last + 1].group
    end = last
    while end < high and units[end + 1].group == group and units[end + 1].section == section:
        if len(layout.text_of(first, end + 1)) > limit:
            break
        end += 1
    return first, end


def pieces_of(layout: Layout, first: int, last: int) -> list[Piece]:
    """The window [first, last] cut into stretches each inside one chunk (the same chunk as long as it holds
    the next unit; a unit no chunk holds whole is cut where a chunk ends)."""
    region = layout.region
    out: list[Piece] = []
    for unit in layout.units[first : last + 1]:
        position = unit.start
        while position < unit.end:
            chunk = region.chunk_for(position, unit.end, out[-1].chunk.chunk_id if out else None)
            stop = unit.end
            if chunk is None:
                at = region.start + position
                chunk = max((c for c in region.chunks if c.char_start <= at < c.char_end), key=lambda c: c.char_end)
                stop = min(unit.end, chunk.char_end - region.start)
            if out and out[-1].chunk.chunk_id == chunk.chunk_id:
                out[-1] = Piece(chunk, out[-1].start, stop)
            else:
                out.append(Piece(chunk, position, stop))
            position = stop
            while position < unit.end and region.text[position].isspace():
                position += 1
    return out


def to_source(hit: SearchHit, start: int, end: int, score: float) -> Source:
    """A cited span of `hit` (chunk offsets): offsets into the document, text exactly the chunk's characters."""
    return Source(
        document_id=hit.document_id,
        filename=hit.filename,
        chunk_id=hit.chunk_id,
        chunk_index=hit.chunk_index,
        page=hit.page,
        score=round(float(score), 4),
        char_start=hit.char_start + start,
        char_end=hit.char_start + end,
        text=hit.content[start:end],
    )


def piece_source(region: Region, piece: Piece, score: float) -> Source:
    offset = region.start - piece.chunk.char_start
    return to_source(piece.chunk, piece.start + offset, piece.end + offset, score)


def marked(layout: Layout, pieces: list[Piece], first_marker: int) -> str:
    """The pieces rendered, `[n]` after each (numbered from `first_marker`); a piece continuing the line of
    the one before follows it on that line."""
    out = ""
    shared = layout.shared_indent(pieces[0].start, pieces[-1].end) if pieces else 0
    for n, piece in enumerate(pieces, start=first_marker):
        body = f"{layout.render(piece.start, piece.end, shared)} [{n}]"
        if out:
            between = layout.region.text[pieces[n - first_marker - 1].end : piece.start]
            out += (" " if "\n" not in between else "\n") + body
        else:
            out = body
    return out


def fitted(layout: Layout, pieces: list[Piece], first_marker: int, limit: int = MAX_CHARS) -> tuple[str, list[Piece]]:
    """The pieces rendered with markers within `limit` characters: a window longer than that (a unit too
    long on its own, a long table row) is cut at a space, its end marked with "…"."""
    pieces = list(pieces)
    text = marked(layout, pieces, first_marker)
    cut = False
    while len(text) > limit and pieces:
        last = pieces[-1]
        over = len(text) - limit + 2  # the ellipsis and its space
        at = layout.region.text.rfind(" ", last.start, max(last.start, last.end - over))
        if at <= last.start:
            pieces.pop()
        else:
            pieces[-1] = Piece(last.chunk, last.start, at)
        cut = True
        text = marked(layout, pieces, first_marker)
        if cut and pieces:
            text = re.sub(r" \[(\d+)\]$", r" … [\1]", text)
    return text, pieces
