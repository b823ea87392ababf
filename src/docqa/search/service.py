"""Search entry points shared by the CLI, the HTTP routes and question answering.

    search_mode(store, "tyre pressure", mode="hybrid", k=5)
    suggest(store, "tyre pr")

Modes and what their scores mean:
- vector:  cosine similarity of query and chunk embeddings (-1..1).
- keyword: BM25 (SQLite, `-bm25()`) or term-frequency rank (PostgreSQL,
  `ts_rank`); higher is better, only comparable within one query.
- hybrid:  reciprocal rank fusion of the two, normalized so 1.0 means
  "ranked first by both"; a chunk found by one side only scores at most that
  side's share of the weights.

Filters are applied before ranking in every mode, so a filtered query
returns `k` results whenever at least `k` chunks match the filters (and, for
keyword, the query words).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from docqa.errors import InvalidInput
from docqa.search import suggest as _suggest
from docqa.search.hybrid import candidate_depth, rrf_fuse
from docqa.search.keyword import keyword_ranking
from docqa.search.vector import hits_from_ids, vector_ranking
from docqa.types import SearchFilters, SearchHit

if TYPE_CHECKING:
    from docqa.app import Store

MODES = ("vector", "keyword", "hybrid")
MAX_K = 1000
MAX_QUERY_CHARS = 10_000


def validate(query: str, mode: str, k: int) -> None:
    if mode not in MODES:
        raise InvalidInput(f"unknown search mode {mode!r}; use one of {', '.join(MODES)}")
    if not isinstance(query, str) or not query.strip():
        raise InvalidInput("query must not be empty")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidInput(f"query is longer than {MAX_QUERY_CHARS} characters")
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
        raise InvalidInput(f"k must be an integer between 1 and {MAX_K}")


def search_mode(
    store: Store,
    query: str,
    mode: str = "vector",
    k: int = 10,
    filters: SearchFilters | None = None,
    min_score: float | None = None,
    min_seq: int | None = None,
    weights: tuple[float, float] | None = None,
    rrf_k: int | None = None,
) -> list[SearchHit]:
    """Search in one mode; raises InvalidInput for an unknown mode, empty query or bad k.

    hybrid: `weights` (vector, keyword) and `rrf_k` override the settings'
    `hybrid_vector_weight`, `hybrid_keyword_weight` and `rrf_k` for this query.
    """
    validate(query, mode, k)
    filters = filters or SearchFilters()
    if mode == "vector":
        return store.search(query, k=k, filters=filters, min_score=min_score, min_seq=min_seq)
    if mode == "keyword":
        ids, scores = keyword_ids(store, query, k, filters)
    else:
        ids, scores = hybrid_ids(store, query, k, filters, min_seq, weights, rrf_k)
    hits = hits_from_ids(store.db, ids, scores)
    if min_score is not None:
        hits = [h for h in hits if h.score >= min_score]
    return hits


def keyword_ids(store: Store, query: str, limit: int, filters: SearchFilters) -> tuple[list[int], list[float]]:
    """Keyword ranking. Reads the database itself, so it always sees committed writes."""
    with store.db.connection() as conn:
        return keyword_ranking(conn, store.collection, query, limit, filters)


def hybrid_ids(
    store: Store,
    query: str,
    k: int,
    filters: SearchFilters,
    min_seq: int | None = None,
    weights: tuple[float, float] | None = None,
    rrf_k: int | None = None,
) -> tuple[list[int], list[float]]:
    """Fuse a deeper vector and keyword candidate list down to `k` ids.

    The keyword side needs no embedding, so it runs in a worker thread while
    this one embeds the query and searches the index (SQLite, psycopg, torch
    and FAISS all release the GIL), which hides it on a second core.
    """
    settings = store.settings
    weights = weights if weights is not None else (settings.hybrid_vector_weight, settings.hybrid_keyword_weight)
    rrf_k = settings.rrf_k if rrf_k is None else rrf_k
    if len(weights) != 2 or min(weights) < 0 or max(weights) <= 0 or rrf_k < 0:
        raise InvalidInput(
            "hybrid weights must be two non-negative numbers, not both zero, and rrf_k must not be negative"
        )
    depth = candidate_depth(k)
    keyword = _workers().submit(keyword_ids, store, query, depth, filters)
    vector = store.embedder.embed_query(query)
    store.ensure_fresh(min_seq)
    vec_ids, _ = vector_ranking(store.db, store.engine, store.collection, vector, depth, filters)
    kw_ids, _ = keyword.result()
    return rrf_fuse([vec_ids, kw_ids], list(weights), rrf_k, limit=k)


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _workers() -> ThreadPoolExecutor:
    """Threads for the keyword side of hybrid queries, started on first use (never at import)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="docqa-keyword")
        return _pool


def suggest(store: Store, q: str, limit: int = 10) -> list[str]:
    """Completions of `q` found in the corpus (headings and frequent phrases), most frequent first."""
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 100:
        raise InvalidInput("limit must be an integer between 1 and 100")
    return _suggest.suggest(store.db, store.collection, q, limit)
