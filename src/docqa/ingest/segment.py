"""Splitting a span of text into smaller spans: sentences, lines, words, characters.

Every function works on (start, end) offsets into one string and never
rewrites text, so whatever is built from these spans maps back exactly.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from docqa.errors import InvalidInput

TokenCounter = Callable[[str], int]
Span = tuple[int, int]

_SENTENCE_END = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]]*(?=\s)")
_NON_SPACE = re.compile(r"\S")
_WORD = re.compile(r"\S+")
_LINE = re.compile(r"[^\n]+")
_SENTENCE_START = re.compile(r"[\"'\u201c\u2018(\[]?[A-Z0-9\u00c0-\u00de\u2022*-]")
_ABBREVIATIONS = frozenset(
    "e.g i.e etc vs dr mr mrs ms prof st no nos fig approx cf al jr sr inc ltd co mt ca".split()
)


def trim(text: str, start: int, end: int) -> Span | None:
    """The span without leading/trailing whitespace, or None if it is blank."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def _is_abbreviation(text: str, start: int, dot: int) -> bool:
    word_start = dot
    while word_start > start and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start:dot].lower().strip("(\"'")
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def sentence_spans(text: str, start: int, end: int) -> list[Span]:
    """Sentences of text[start:end]. A break needs end punctuation, space, then a capital or digit."""
    spans: list[Span] = []
    position = start
    for match in _SENTENCE_END.finditer(text, start, end):
        cut = match.end()
        following = _NON_SPACE.search(text, cut, end)
        if following is None:
            break
        if not _SENTENCE_START.match(text, following.start()):
            continue
        if text[match.start()] == "." and _is_abbreviation(text, position, match.start()):
            continue
        span = trim(text, position, cut)
        if span:
            spans.append(span)
        position = following.start()
    span = trim(text, position, end)
    if span:
        spans.append(span)
    return spans


def line_spans(text: str, start: int, end: int) -> list[Span]:
    spans = []
    for match in _LINE.finditer(text, start, end):
        span = trim(text, match.start(), match.end())
        if span:
            spans.append(span)
    return spans


def word_spans(text: str, start: int, end: int) -> list[Span]:
    return [(m.start(), m.end()) for m in _WORD.finditer(text, start, end)]


def _largest_fit(fits: Callable[[int], bool], low: int, high: int) -> int:
    """Largest k in [low, high] with fits(k), given fits(low) is true and fits is monotone."""
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


def split_characters(text: str, start: int, end: int, count: TokenCounter, limit: int) -> list[tuple[int, int, int]]:
    """Cut a single over-long word into pieces of at most `limit` tokens each."""
    pieces: list[tuple[int, int, int]] = []
    position = start
    while position < end:
        if count(text[position : position + 1]) > limit:
            raise InvalidInput(f"max_tokens={limit} is too small: one character counts as more tokens")
        stop = _largest_fit(lambda k: count(text[position:k]) <= limit, position + 1, end)
        pieces.append((position, stop, count(text[position:stop])))
        position = stop
    return pieces


def pack_words(text: str, start: int, end: int, count: TokenCounter, limit: int) -> list[tuple[int, int, int]]:
    """Group the words of text[start:end] into runs of at most `limit` tokens (words kept whole if they fit)."""
    words = word_spans(text, start, end)
    pieces: list[tuple[int, int, int]] = []
    i = 0
    while i < len(words):
        first_start = words[i][0]
        if count(text[first_start : words[i][1]]) > limit:
            pieces.extend(split_characters(text, first_start, words[i][1], count, limit))
            i += 1
            continue

        def fits(k: int) -> bool:
            return count(text[first_start : words[k - 1][1]]) <= limit

        high = min(len(words), i + limit + 1)
        while high < len(words) and fits(high):  # a counter that gives some words 0 tokens
            high = min(len(words), i + 2 * (high - i))
        stop = _largest_fit(fits, i + 1, high)
        piece_end = words[stop - 1][1]
        pieces.append((first_start, piece_end, count(text[first_start:piece_end])))
        i = stop
    return pieces
