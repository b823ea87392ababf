"""Query suggestions taken from the corpus: headings and frequent phrases.

For `q = "tyre pr"` the full-text index finds chunks containing "tyre" and a
word starting with "pr" (at most `SAMPLE` chunks, so the cost stays bounded
on large collections). In those chunks, every heading title and every text
phrase that starts with `q` at a word boundary (the last word completed, plus
up to two following words on the same line) is counted; suggestions are the
most frequent, shorter first on ties. Phrases ending in a stop-word are
skipped.

The stemmed index cannot match a prefix that runs past a word's stem
("changi" vs the stem "chang"), so shorter prefixes of the last word are
tried when the first pass finds too little; the exact match is always
checked on the original text.
"""

from __future__ import annotations

import re
from collections import Counter

from docqa.search.keyword import STOP_WORDS, TERM
from docqa.storage.db import Database

SAMPLE = 400
MAX_EXTRA_WORDS = 2
_NUMBERING = re.compile(r"^\s*(?:[\d.]+|[ivxlc]+\.|[a-z]\))\s+", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


def suggest(db: Database, collection: str, q: str, limit: int = 10) -> list[str]:
    words = [w.casefold() for w in TERM.findall(q or "")]
    if not words:
        return []
    partial = "" if q[-1:].isspace() else words[-1]
    complete = words[:-1] if partial else words
    counts: Counter[str] = Counter()
    surface: dict[str, str] = {}
    seen: set[int] = set()
    for prefix in _prefixes(partial):
        with db.connection() as conn:
            rows = _candidates(conn, collection, complete, prefix)
        for chunk_id, heading, text in rows:
            if chunk_id not in seen:
                seen.add(chunk_id)
                count_phrases(heading, text, complete, partial, counts, surface)
        if len(counts) >= limit:
            break
    ranked = sorted(counts, key=lambda p: (-counts[p], len(p), p))
    return [surface[p] for p in ranked[:limit]]


def _prefixes(partial: str) -> list[str]:
    if len(partial) <= 3:
        return [partial]
    return list(dict.fromkeys([partial, partial[:4], partial[:3]]))


def _candidates(conn, collection: str, complete: list[str], prefix: str) -> list[tuple[int, str, str]]:
    if conn.is_pg:  # the prefix with the 'simple' config: not dropped as a stop-word ("t"), not stemmed
        words = " & ".join("'" + w.replace("'", "''") + "'" for w in complete)
        partial = "'" + prefix.replace("'", "''") + "':*" if prefix else ""
        sql = (
            "SELECT c.id, c.heading, c.text FROM chunks c JOIN documents d ON d.id = c.document_id "
            "WHERE c.tsv @@ (to_tsquery('english', ?) && to_tsquery('simple', ?)) "
            "AND c.collection = ? AND d.status = 'indexed' LIMIT ?"
        )
        return conn.fetchall(sql, [words, partial, collection, SAMPLE])
    terms = ['"' + w.replace('"', '""') + '"' for w in complete]
    if prefix:
        terms.append('"' + prefix.replace('"', '""') + '"*')
    match = " AND ".join(terms)
    sql = (
        "SELECT c.id, c.heading, c.text FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid "
        "JOIN documents d ON d.id = c.document_id "
        "WHERE chunks_fts MATCH ? AND c.collection = ? AND d.status = 'indexed' LIMIT ?"
    )
    return conn.fetchall(sql, [match, collection, SAMPLE])


def phrase_pattern(complete: list[str], partial: str) -> re.Pattern[str]:
    """Matches the typed words at a word boundary, the last one completed, plus a few more words."""
    typed = [re.escape(w) for w in complete]
    if partial:
        typed.append(re.escape(partial) + r"[^\W_]*")
    head = r"[\W_]+".join(typed)
    tail = (
        r"(?=((?:[ \t\-]+[^\W_]+){0," + str(MAX_EXTRA_WORDS) + r"}))"
    )  # a lookahead, so matches may overlap; same line
    return re.compile(r"(?<![^\W_])(" + head + r")(?![^\W_])" + tail, re.IGNORECASE)


def count_phrases(
    heading: str, text: str, complete: list[str], partial: str, counts: Counter[str], surface: dict[str, str]
) -> None:
    """Add the heading titles and text phrases of one chunk that start with the typed words."""
    pattern = phrase_pattern(complete, partial)
    for title in heading.split(" > ") if heading else []:
        title = _SPACES.sub(" ", _NUMBERING.sub("", title)).strip()
        if title and pattern.match(title):
            _add(title, counts, surface)
    for match in pattern.finditer(text):
        base = match.group(1)
        _add(base, counts, surface)
        extra = re.findall(r"[^\W_]+", match.group(2))
        for n in range(1, len(extra) + 1):
            _add(base + " " + " ".join(extra[:n]), counts, surface)


def _add(phrase: str, counts: Counter[str], surface: dict[str, str]) -> None:
    phrase = _SPACES.sub(" ", phrase).strip()
    last = phrase.rsplit(" ", 1)[-1].casefold()
    if not phrase or last in STOP_WORDS:
        return
    key = phrase.casefold()
    counts[key] += 1
    surface.setdefault(key, phrase)
