"""Cut retrieved chunks into candidate answer passages (sentences), with exact offsets (pure).

A chunk's text is split into blocks first (a list item, a table row, a
paragraph; lines wrapped by a PDF are joined back), heading lines are left
out (they name a topic, they do not answer), then each block into sentences.
Offsets are into the chunk's own text, so `chunk.text[start:end]` is the
passage and `chunk.char_start + start` its place in the document.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from docqa.ingest.segment import line_spans, sentence_spans
from docqa.search.keyword import STOP_WORDS, TERM

MIN_WORDS = 4
WRAPPED_LINE_MIN_CHARS = 50  # a line shorter than this ends its block (not a wrapped line)
_TABLE_ROW = re.compile(r"\S\s*\|\s*\S")
_BULLET = re.compile(r"^\s*(?:[-*+\u2022\u25aa\u2013]\s|\d{1,3}[.)]\s|[a-z][.)]\s|\|)")
_HEADING_MARKS = re.compile(r"^\s*#{1,6}\s*|\s*#+\s*$")
_MD_HEADING = re.compile(r"^\s*#{1,6}\s")
_NUMBERING = re.compile(r"^\s*(?:\d+(?:\.\d+)*\.?|[ivxlc]+\.)\s+", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?:;\u2026][\"'\u201d\u2019)\]]*$")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Passage:
    """`text[start:end]` of one retrieved chunk (identified by its position in the hit list)."""

    hit: int
    start: int
    end: int
    text: str
    context: str  # the nearest heading title, embedded with the passage


def normalize_space(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def _title_key(line: str) -> str:
    return normalize_space(_NUMBERING.sub("", _HEADING_MARKS.sub("", line))).casefold()


def heading_titles(heading: str) -> set[str]:
    return {_title_key(t) for t in heading.split(" > ") if t.strip()} if heading else set()


def blocks(text: str, heading: str = "") -> list[tuple[int, int]]:
    """Spans of the chunk's paragraphs, list items and rows, heading lines left out."""
    titles = heading_titles(heading)
    out: list[tuple[int, int]] = []
    previous_end = -1
    for start, end in line_spans(text, 0, len(text)):
        line = text[start:end]
        if _title_key(line) in titles or _MD_HEADING.match(line):
            previous_end = -1
            continue
        joins = (
            previous_end >= 0
            and not _TABLE_ROW.search(line)
            and not _TABLE_ROW.search(text[out[-1][0] : previous_end])
            and "\n\n" not in text[previous_end:start]
            and not _BULLET.match(line)
            and len(text[out[-1][0] : previous_end].rsplit("\n", 1)[-1]) >= WRAPPED_LINE_MIN_CHARS
            and not _SENTENCE_END.search(text[out[-1][0] : previous_end])
        )
        if joins:
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
        previous_end = end
    return out


def chunk_passages(hit_index: int, text: str, heading: str = "") -> list[Passage]:
    """Sentences of one chunk worth offering as an answer."""
    context = heading.rsplit(" > ", 1)[-1].strip() if heading else ""
    context = normalize_space(_NUMBERING.sub("", context))
    out: list[Passage] = []
    for block_start, block_end in blocks(text, heading):
        for start, end in sentence_spans(text, block_start, block_end):
            piece = text[start:end]
            if len(TERM.findall(piece)) < MIN_WORDS and not _SENTENCE_END.search(piece):
                continue
            out.append(Passage(hit_index, start, end, piece, context))
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
    return {stem(w) for w in (t.casefold() for t in TERM.findall(text)) if w not in STOP_WORDS}


def question_terms(question: str) -> dict[str, str]:
    """The question's content words: stem -> the word as typed (what the full-text index is asked about)."""
    out: dict[str, str] = {}
    for word in (t.casefold() for t in TERM.findall(question)):
        if word not in STOP_WORDS:
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
