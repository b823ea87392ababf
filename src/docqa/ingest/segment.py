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

# The lookbehind keeps a run of "!!!!" from being rescanned at every position.
_SENTENCE_END = re.compile(r"(?<![.!?\u2026])[.!?\u2026]++[\"'\u201d\u2019)\]]*+(?=\s)")
_NON_SPACE = re.compile(r"\S")
_WORD = re.compile(r"\S+")
_LINE = re.compile(r"[^\n]+")
_SENTENCE_START = re.compile(r"[\"'\u201c\u2018(\[]?[A-Z0-9\u00c0-\u00de\u2022*-]")
_ABBREVIATIONS = frozenset(
    [
        "e.g",
        "i.e",
        "etc",
        "vs",
        "dr",
        "mr",
        "mrs",
        "ms",
        "prof",
        "st",
        "no",
        "nos",
        "fig",
        "approx",
        "cf",
        "al",
        "jr",
        "sr",
        "inc",
        "ltd",
        "co",
        "mt",
        "ca",
    ]
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


def largest_fit(fits: Callable[[int], bool], low: int, high: int, guess: int) -> int:
    """Largest k in [low, high] with fits(k), given fits(low) and fits monotone (true, then false).

    Probing starts at `guess` and widens geometrically before bisecting, so a
    good guess costs a handful of calls and each probe stays near the answer
    (which keeps the total text handed to the counter linear).
    """
    guess = min(max(guess, low), high)
    step = max(1, (guess - low) // 16)
    if guess > low and not fits(guess):
        high = guess - 1
        while low < high:  # walk down from the guess
            probe = max(low, high - step)
            if fits(probe):
                low = probe
                break
            high, step = probe - 1, step * 2
    else:
        low = guess
        while low < high:  # walk up from the guess
            probe = min(high, low + step)
            if not fits(probe):
                high = probe - 1
                break
            low, step = probe, step * 2
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


def _estimate(limit: int, tokens: int, items: int) -> int:
    """How many of `items` (which count `tokens` in all) fit in `limit`, assuming an even spread."""
    return max(1, int(limit * items / max(tokens, 1) * 0.97))


def split_characters(
    text: str, start: int, end: int, count: TokenCounter, limit: int, tokens: int
) -> list[tuple[int, int, int]]:
    """Cut a single over-long word (of `tokens` tokens) into pieces of at most `limit` tokens."""
    pieces: list[tuple[int, int, int]] = []
    per_piece = _estimate(limit, tokens, end - start)
    position = start
    while position < end:
        if count(text[position : position + 1]) > limit:
            raise InvalidInput(f"max_tokens={limit} is too small: one character counts as more tokens")
        origin = position

        def fits(k: int, o: int = origin) -> bool:
            return count(text[o:k]) <= limit

        stop = largest_fit(fits, origin + 1, end, origin + per_piece)
        pieces.append((origin, stop, count(text[origin:stop])))
        position = stop
    return pieces


def pack_words(
    text: str, start: int, end: int, count: TokenCounter, limit: int, tokens: int
) -> list[tuple[int, int, int]]:
    """Group the words of text[start:end] (`tokens` in all) into runs of at most `limit` tokens.

    Words stay whole unless a single word is over the limit.
    """
    words = word_spans(text, start, end)
    per_piece = _estimate(limit, tokens, len(words))
    pieces: list[tuple[int, int, int]] = []
    i = 0
    while i < len(words):
        first_start, first_end = words[i]
        first_tokens = count(text[first_start:first_end])
        if first_tokens > limit:
            pieces.extend(split_characters(text, first_start, first_end, count, limit, first_tokens))
            i += 1
            continue

        def fits_words(k: int, s: int = first_start) -> bool:
            return count(text[s : words[k - 1][1]]) <= limit

        stop = largest_fit(fits_words, i + 1, len(words), i + per_piece)
        piece_end = words[stop - 1][1]
        pieces.append((first_start, piece_end, count(text[first_start:piece_end])))
        i = stop
    return pieces
