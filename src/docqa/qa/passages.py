"""Cut text into answer units (sentences, list items, table rows, code lines), with exact offsets (pure).

Text is split into lines; heading lines are left out (they name a topic, they do not answer) and start
a new section; lines a PDF wrapped are joined back into their paragraph; a list item, a table row or a
code line is a block of its own; a blank line ends a group (a paragraph, a whole list or code block).
Each block is then cut into sentences. Offsets are into the text given (a region of a document), so
`text[unit.start:unit.end]` is the unit, and the region's start plus `unit.start` its place in the document.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from docqa.ingest.segment import line_spans, sentence_spans
from docqa.search.keyword import TERM, is_noise_letter
from docqa.search.stopwords import STOP_WORDS

MIN_WORDS = 4
MAX_HEADING_LINES = 3  # a heading's title may be wrapped over this many lines
WRAPPED_LINE_MIN_CHARS = 50  # a line shorter than this ends its block (not a wrapped line)
_TABLE_ROW = re.compile(r"\S\s*\|\s*\S")
_BULLET = re.compile(r"^\s*(?:[-*+\u2022\u25aa\u2013]\s|\d{1,3}[.)]\s|[a-z][.)]\s|\|)")
_HEADING_MARKS = re.compile(r"^\s*#{1,6}\s*|\s*#+\s*$")
_MD_HEADING = re.compile(r"^\s*#{1,6}\s")
_NUMBERING = re.compile(r"^\s*(?:\d+(?:\.\d+)*\.?|[ivxlc]+\.)\s+", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?:;\u2026][\"'\u201d\u2019)\]]*$")
_SPACES = re.compile(r"\s+")
_BLANK_LINE = re.compile(r"\n[^\S\n]*\n")  # a line of nothing but whitespace (no-break spaces too)


@dataclass(frozen=True)
class Unit:
    """`text[start:end]` of a region: one sentence of a paragraph, or a list item, row or code line."""

    start: int
    end: int
    text: str
    block: int  # paragraph, list item, table row or code line, numbered through the region
    group: int  # blank-line separated group (a paragraph, a list, a code block)
    section: int  # heading-delimited section

    @property
    def words(self) -> int:
        return len(TERM.findall(self.text))

    def offerable(self) -> bool:
        """Worth offering as an answer: at least MIN_WORDS words, or a complete sentence."""
        return self.words >= MIN_WORDS or bool(_SENTENCE_END.search(self.text))


def normalize_space(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def title_key(line: str) -> str:
    return normalize_space(_NUMBERING.sub("", _HEADING_MARKS.sub("", line))).casefold()


def heading_titles(headings: Iterable[str]) -> set[str]:
    """The title keys of every level of the heading paths ("A > B")."""
    return {title_key(t) for heading in headings if heading for t in heading.split(" > ") if t.strip()}


def leaf_title(heading: str) -> str:
    """The innermost title of a heading path, without its numbering."""
    leaf = heading.rsplit(" > ", 1)[-1].strip() if heading else ""
    return normalize_space(_NUMBERING.sub("", leaf))


def unit_context(heading: str) -> str:
    """What a unit is embedded with: the innermost title of its heading path, after the outermost (the
    document's own title, a chapter) when that differs: "VACUUM Description", not "Description" alone."""
    leaf = leaf_title(heading)
    root = leaf_title(heading.split(" > ", 1)[0]) if heading else ""
    return f"{root} {leaf}" if root and root != leaf else leaf


def blocks(text: str, titles: set[str]) -> list[tuple[int, int, int, int]]:
    """(start, end, group, section) of the text's paragraphs, list items, rows and code lines."""
    out: list[tuple[int, int, int, int]] = []
    group = section = 0
    previous_end = -1
    lines = line_spans(text, 0, len(text))
    skip = 0
    for n, (start, end) in enumerate(lines):
        line = text[start:end]
        if previous_end >= 0 and _BLANK_LINE.search(text, previous_end, start):
            group += 1
        if skip:
            skip -= 1
            continue
        heading_lines = _heading_lines(text, lines[n : n + MAX_HEADING_LINES], titles)
        if heading_lines:
            section += 1
            group += 1
            previous_end = -1
            skip = heading_lines - 1
            continue
        last = text[out[-1][0] : previous_end] if out and previous_end >= 0 else ""
        joins = (
            previous_end >= 0
            and out[-1][2] == group
            and not _TABLE_ROW.search(line)
            and not _TABLE_ROW.search(last)
            and not _BULLET.match(line)
            and len(last.rsplit("\n", 1)[-1]) >= WRAPPED_LINE_MIN_CHARS
            and not _SENTENCE_END.search(last)
        )
        if joins:
            out[-1] = (out[-1][0], end, group, section)
        else:
            out.append((start, end, group, section))
        previous_end = end
    return out


def _heading_lines(text: str, lines: list[tuple[int, int]], titles: set[str]) -> int:
    """How many of `lines` (from the first) are a heading: a Markdown heading line, or lines whose text is
    a heading's title (a plain-text heading may be wrapped over up to MAX_HEADING_LINES lines)."""
    if _MD_HEADING.match(text[lines[0][0] : lines[0][1]]):
        return 1
    for count in range(1, len(lines) + 1):
        if title_key(text[lines[0][0] : lines[count - 1][1]]) in titles:
            return count
    return 0


def units(text: str, titles: set[str]) -> list[Unit]:
    """Every unit of `text`, in order (headings left out)."""
    return units_of_blocks(text, blocks(text, titles))


def units_of_blocks(text: str, spans: list[tuple[int, int, int, int]]) -> list[Unit]:
    """The sentences of each block (from `blocks`), in order."""
    out: list[Unit] = []
    for number, (block_start, block_end, group, section) in enumerate(spans):
        for start, end in sentence_spans(text, block_start, block_end):
            out.append(Unit(start, end, text[start:end], number, group, section))
    return out


def stem(word: str) -> str:
    """A deliberately light English stemmer (plural S-stemmer, then -ing/-ed/-e/-y), applied to both sides."""
    if len(word) > 4:
        if word.endswith("ies") and not word.endswith(("eies", "aies")):
            word = word[:-3] + "y"
        elif (word.endswith("es") and not word.endswith(("aes", "ees", "oes"))) or (
            word.endswith("s") and not word.endswith(("us", "ss"))
        ):
            word = word[:-1]
    if len(word) > 5 and word.endswith("ing"):
        word = word[:-3]
    elif len(word) > 4 and word.endswith("ed"):
        word = word[:-2]
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    if len(word) > 3 and word.endswith("y"):
        word = word[:-1] + "i"
    return word


def content_terms(text: str) -> set[str]:
    return {
        stem(w) for w in (t.casefold() for t in TERM.findall(text)) if w not in STOP_WORDS and not is_noise_letter(w)
    }


def question_terms(question: str) -> dict[str, str]:
    """The question's content words: stem -> the word as typed (what the full-text index is asked about)."""
    out: dict[str, str] = {}
    for word in (t.casefold() for t in TERM.findall(question)):
        if word not in STOP_WORDS and not is_noise_letter(word):
            out.setdefault(stem(word), word)
    return out


def idf(document_frequency: int, total: int) -> float:
    """BM25's inverse document frequency: rare words weigh more, absent ones most."""
    return math.log(1.0 + (total - document_frequency + 0.5) / (document_frequency + 0.5))


def term_overlap(weights: dict[str, float], passage: str) -> float:
    """Weighted share of the question's content words (by stem) that the passage contains."""
    total = sum(weights.values())
    if total <= 0:
        return 0.0
    found = content_terms(passage)
    return sum(w for term, w in weights.items() if term in found) / total
