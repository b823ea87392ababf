"""Keyword search over the full-text index stored beside the chunks.

SQLite: FTS5 table `chunks_fts` (porter stemming), ranked by `bm25()`.
PostgreSQL: generated `chunks.tsv` column (GIN), ranked by `ts_rank` (term
frequency; `ts_rank_cd`'s cover density adds nothing for OR-ed single words
and cost twice as much at 100k chunks).

User text never reaches the full-text query language as syntax: it is cut
into words (letters and digits only), stop-words are dropped (unless nothing
else is left), so are one-character Latin words (unless fewer than two other
words are left; CJK characters are never dropped), and the words are quoted and OR-ed, so a chunk matching only
some of them still ranks, below chunks matching more. Filters are SQL
conditions in the same statement, so they apply *before* ranking.

Score meaning: SQLite returns `-bm25` (BM25 with the heading counting
`HEADING_WEIGHT` times as much as body text; higher is better, unbounded);
PostgreSQL returns `ts_rank` divided by 1 + log(chunk length) (heading
words weighted the same way; higher is better). Scores compare within one query, not across
databases.
"""

from __future__ import annotations

import re
from typing import Any

from docqa.search.cjk import split_cjk
from docqa.search.filters import filter_clause
from docqa.search.hybrid import rrf_fuse
from docqa.search.stopwords import STOP_WORDS
from docqa.storage.db import Connection
from docqa.types import SearchFilters

TERM = re.compile(r"[^\W_]+", re.UNICODE)
MAX_TERMS = 32
MIN_CONTEXT_TERMS = 2  # one-character words are dropped from a query that has at least this many others
MAX_TERM_CHARS = 64
HEADING_WEIGHT = 0.5
# ts_rank weights are {D, C, B, A}; the schema stores the heading as A, text as D.
_PG_WEIGHTS = f"'{{1.0, 1.0, 1.0, {HEADING_WEIGHT}}}'"


def is_noise_letter(word: str) -> bool:
    """A one-character Latin word ("x", "I", the "t" of "don't", the "j" of "-j"): in a question written
    with symbols it matches nearly every chunk. Digits and other scripts (a CJK character is a word) stay."""
    return len(word) == 1 and ("a" <= word <= "z" or "A" <= word <= "Z")


def query_terms(text: str) -> list[str]:
    """Distinct lower-cased words of `text`, stop-words dropped unless they are all there is, and
    one-character Latin words dropped unless fewer than MIN_CONTEXT_TERMS other words are left."""
    words = list(dict.fromkeys(w.casefold()[:MAX_TERM_CHARS] for w in TERM.findall(text)))
    content = [w for w in words if w not in STOP_WORDS]
    longer = [w for w in content if not is_noise_letter(w)]
    if len(longer) >= MIN_CONTEXT_TERMS:
        content = longer
    return (content or words)[:MAX_TERMS]


def fts5_query(terms: list[str]) -> str:
    """An FTS5 MATCH expression: every term a quoted string, OR-ed."""
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


def tsquery_text(terms: list[str]) -> str:
    """A `to_tsquery` expression: every term a quoted lexeme, OR-ed."""
    return " | ".join("'" + t.replace("'", "''").replace("\\", "") + "'" for t in terms)


def keyword_ranking(
    conn: Connection, collection: str, query: str, limit: int, filters: SearchFilters | None = None
) -> tuple[list[int], list[float]]:
    """Chunk ids and scores for `query`, best first, at most `limit`, filters applied in SQL.

    CJK runs of the query are matched as bigram substrings (search/cjk.py); a query mixing them
    with other words fuses the two rankings by reciprocal rank."""
    other, grams = split_cjk(query)
    terms = query_terms(other)
    if (not terms and not grams) or limit < 1:
        return [], []
    where, params = _filter_sql(conn, filters or SearchFilters())
    rankings = []
    if terms:
        rankings.append(_word_ranking(conn, collection, terms, limit, where, params))
    if grams:
        rankings.append(_substring_ranking(conn, collection, grams, limit, where, params))
    if len(rankings) == 1:
        return rankings[0]
    return rrf_fuse([r[0] for r in rankings], [1.0, 1.0], limit=limit)


def _word_ranking(
    conn: Connection, collection: str, terms: list[str], limit: int, where: str, params: list[Any]
) -> tuple[list[int], list[float]]:
    if conn.is_pg:
        sql = (
            f"SELECT c.id, ts_rank({_PG_WEIGHTS}::float4[], c.tsv, q.q, 1) AS score "
            "FROM (SELECT to_tsquery('english', ?) AS q) q, chunks c JOIN documents d ON d.id = c.document_id "
            f"WHERE c.tsv @@ q.q AND c.collection = ? AND d.status = 'indexed'{where} "
            "ORDER BY score DESC, c.id LIMIT ?"
        )
        rows = conn.fetchall(sql, [tsquery_text(terms), collection, *params, limit])
    else:
        rows = _sqlite_ranking(conn, collection, fts5_query(terms), limit, where, params)
    return [int(r[0]) for r in rows], [float(r[1]) for r in rows]


def _substring_ranking(
    conn: Connection, collection: str, grams: list[str], limit: int, where: str, params: list[Any]
) -> tuple[list[int], list[float]]:
    """Chunks holding the bigrams, by occurrences (a bigram found more often counts more), then id."""
    find = "strpos(c.text, ?) > 0" if conn.is_pg else "instr(c.text, ?) > 0"
    occurrences = " + ".join(
        "(length(c.text) - length(replace(c.text, CAST(? AS TEXT), ''))) / length(CAST(? AS TEXT))" for _ in grams
    )
    rows = conn.fetchall(
        f"SELECT c.id, ({occurrences}) AS score FROM chunks c JOIN documents d ON d.id = c.document_id "
        f"WHERE c.collection = ? AND d.status = 'indexed' AND ({' OR '.join(find for _ in grams)}){where} "
        "ORDER BY score DESC, c.id LIMIT ?",
        [*(x for g in grams for x in (g, g)), collection, *grams, *params, limit],
    )
    return [int(r[0]) for r in rows], [float(r[1]) for r in rows]


_FTS_SCORE = f"-bm25(chunks_fts, 1.0, {HEADING_WEIGHT})"


def _sqlite_ranking(
    conn: Connection, collection: str, match: str, limit: int, where: str, params: list[Any]
) -> list[tuple]:
    """Rank in the FTS table alone, then keep the rows passing collection/status/filters.

    Exact: if the over-fetched top list holds `limit` passing rows they are the
    top `limit` passing rows overall, and if it was shorter than asked it held
    every match. Otherwise (a selective filter) the ranking is redone with the
    conditions inside the ranked query.
    """
    over = 4 * limit + 20
    top = conn.fetchall(
        f"SELECT rowid, {_FTS_SCORE} AS score FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY score DESC, rowid LIMIT ?",
        [match, over],
    )
    if not top:
        return []
    marks = ",".join("?" * len(top))
    passing = {
        r[0]
        for r in conn.fetchall(
            # NOT INDEXED: look the ids up by rowid; without statistics (right after a bulk load) SQLite
            # would otherwise scan the whole collection through the covering index chunks_members
            f"SELECT c.id FROM chunks c NOT INDEXED JOIN documents d ON d.id = c.document_id "
            f"WHERE c.id IN ({marks}) AND c.collection = ? AND d.status = 'indexed'{where}",
            [*(r[0] for r in top), collection, *params],
        )
    }
    ranked = [r for r in top if r[0] in passing]
    if len(ranked) >= limit or len(top) < over:
        return ranked[:limit]
    return conn.fetchall(
        f"SELECT c.id, {_FTS_SCORE} AS score "
        "FROM chunks_fts JOIN chunks c NOT INDEXED ON c.id = chunks_fts.rowid JOIN documents d ON d.id = c.document_id "
        f"WHERE chunks_fts MATCH ? AND c.collection = ? AND d.status = 'indexed'{where} "
        "ORDER BY score DESC, c.id LIMIT ?",
        [match, collection, *params, limit],
    )


def _filter_sql(conn: Connection, filters: SearchFilters) -> tuple[str, list[Any]]:
    if filters.is_empty():
        return "", []
    clause, params = filter_clause(conn, filters)
    return f" AND {clause}", params


def document_frequencies(conn: Connection, terms: list[str]) -> tuple[dict[str, int], int]:
    """How many chunks (in the whole database) contain each term, and how many chunks there are."""
    total = int(conn.scalar("SELECT count(*) FROM chunks", default=0))
    out: dict[str, int] = {}
    for term in dict.fromkeys(terms):
        if conn.is_pg:
            n = conn.scalar("SELECT count(*) FROM chunks WHERE tsv @@ to_tsquery('english', ?)", [tsquery_text([term])])
        else:
            n = conn.scalar("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?", [fts5_query([term])])
        out[term] = int(n or 0)
    return out, total


_DOTTED = re.compile(r"\d+(?:\.\d+)+")  # a version number: 3.12, 15.4.1


def phrase_frequency(conn: Connection, words: list[str]) -> int:
    """How many chunks (in the whole database) hold `words` next to each other, in this order, in their text
    (not in the heading path, whose levels joined would make "… of Debian > 15.4. …" read "Debian 15")."""
    # PostgreSQL's parser keeps a dotted version whole ("3.12" is one lexeme; FTS5 reads "3", "12")
    tokens = [t for w in words for t in ([w] if conn.is_pg and _DOTTED.fullmatch(w) else TERM.findall(w))]
    terms = [t.casefold()[:MAX_TERM_CHARS] for t in tokens][:MAX_TERMS]
    if not terms:
        return 0
    if conn.is_pg:  # the text's lexemes carry weight D, the heading's A (schema_pg)
        query = " <-> ".join("'" + t.replace("'", "''").replace("\\", "") + "':D" for t in terms)
        return int(conn.scalar("SELECT count(*) FROM chunks WHERE tsv @@ to_tsquery('english', ?)", [query]) or 0)
    match = 'text : "' + " ".join(t.replace('"', '""') for t in terms) + '"'
    return int(conn.scalar("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?", [match]) or 0)
