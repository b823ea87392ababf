"""The one search entry point: validate, then dispatch on the mode.

    search(corpus, "tyre pressure", mode="hybrid", k=5)
    suggest(corpus, "tyre pr")

Modes and what their scores mean:
- vector:  cosine similarity of query and chunk embeddings (-1..1).
- keyword: BM25 (SQLite, `-bm25()`) or term-frequency rank (PostgreSQL,
  `ts_rank`); higher is better, only comparable within one query.
- hybrid:  reciprocal rank fusion of the two, normalized so 1.0 means
  "ranked first by both"; a chunk found by one side only scores at most that
  side's share of the weights.

Filters are applied before ranking in every mode, so a filtered query
returns `k` results whenever at least `k` chunks match the filters (and, for
keyword, the query words). Read-your-writes (`min_seq`) is the caller's: the
app layer waits for the index before it calls in here.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import numpy.typing as npt

from docqa.errors import InvalidInput
from docqa.limits import MAX_QUERY_CHARS, MAX_SEARCH_K, MAX_SUGGEST
from docqa.search import suggest as _suggest
from docqa.search.corpus import Corpus, HybridParams
from docqa.search.hybrid import candidate_depth, rrf_fuse
from docqa.search.keyword import keyword_ranking
from docqa.search.vector import hits_from_ids, vector_ranking
from docqa.types import SearchFilters, SearchHit

MODES = ("vector", "keyword", "hybrid")

Query = str | npt.NDArray[np.float32]


def validate(query: Query, mode: str, k: int) -> None:
    if mode not in MODES:
        raise InvalidInput(f"unknown search mode {mode!r}; use one of {', '.join(MODES)}", field="mode")
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_SEARCH_K:
        raise InvalidInput(f"k must be an integer between 1 and {MAX_SEARCH_K}", field="k")
    if isinstance(query, np.ndarray):
        if mode != "vector":
            raise InvalidInput("a query vector can only be searched in vector mode", field="mode")
        return
    if not isinstance(query, str) or not query.strip():
        raise InvalidInput("query must not be empty", field="query")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidInput(f"query is longer than {MAX_QUERY_CHARS} characters", field="query")


def search(
    corpus: Corpus,
    query: Query,
    mode: str = "vector",
    k: int = 10,
    filters: SearchFilters | None = None,
    min_score: float | None = None,
    hybrid: HybridParams | None = None,
) -> list[SearchHit]:
    """Search in one mode. `query` is text, or (vector mode) a query vector of the collection's dimension."""
    validate(query, mode, k)
    filters = filters or SearchFilters()
    if mode == "vector":
        ids, scores = vector_ranking(corpus, _query_vector(corpus, query), k, filters)
    elif mode == "keyword":
        assert isinstance(query, str)
        ids, scores = keyword_ids(corpus, query, k, filters)
    else:
        assert isinstance(query, str)
        ids, scores = hybrid_ids(corpus, query, k, filters, hybrid or HybridParams())
    hits = hits_from_ids(corpus.db, ids, scores)
    if min_score is not None:
        hits = [h for h in hits if h.score >= min_score]
    return hits


def _query_vector(corpus: Corpus, query: Query) -> npt.NDArray[np.float32]:
    if isinstance(query, str):
        return corpus.embedder.embed_query(query)
    vector = np.asarray(query, dtype=np.float32).reshape(-1)
    if vector.shape != (corpus.embedder.dim,):
        raise InvalidInput(f"query vector has {vector.shape[0]} dimensions, expected {corpus.embedder.dim}")
    if not np.isfinite(vector).all():
        raise InvalidInput("query vector holds NaN or infinite values")
    return vector


def keyword_ids(corpus: Corpus, query: str, limit: int, filters: SearchFilters) -> tuple[list[int], list[float]]:
    """Keyword ranking. Reads the database itself, so it always sees committed writes."""
    with corpus.db.connection() as conn:
        return keyword_ranking(conn, corpus.collection, query, limit, filters)


def hybrid_ids(
    corpus: Corpus, query: str, k: int, filters: SearchFilters, params: HybridParams
) -> tuple[list[int], list[float]]:
    """Fuse a deeper vector and keyword candidate list down to `k` ids.

    The keyword side needs no embedding, so it runs in a worker thread while
    this one embeds the query and searches the index (SQLite, psycopg, torch
    and FAISS all release the GIL), which hides it on a second core.
    """
    weights = (params.vector_weight, params.keyword_weight)
    if min(weights) < 0 or max(weights) <= 0 or params.rrf_k < 0 or params.score_power < 0 or params.vector_margin < 0:
        raise InvalidInput(
            "hybrid weights must be two non-negative numbers, not both zero; rrf_k, score_power and vector_margin "
            "must not be negative"
        )
    depth = candidate_depth(k)
    keyword = _workers().submit(keyword_ids, corpus, query, depth, filters)
    vec_ids, vec_scores = vector_ranking(corpus, corpus.embedder.embed_query(query), depth, filters)
    kw_ids, kw_scores = keyword.result()
    return rrf_fuse(
        [vec_ids, kw_ids],
        [params.vector_weight * vector_confidence(vec_scores, params, corpus.embedder.semantic), params.keyword_weight],
        params.rrf_k,
        limit=k,
        scores=[vec_scores, kw_scores],
        score_power=params.score_power,
    )


CONFIDENCE_RANK = 10  # the vector margin is the best cosine less this rank's


def vector_confidence(scores: Sequence[float], params: HybridParams, semantic: bool = True) -> float:
    """How much more the vector ranking weighs for this query: 1, up to `vector_boost` when its best cosine
    stands well above the rest (margin over the CONFIDENCE_RANK-th, relative to `vector_margin`). A
    paraphrased question finds its answer by meaning while its words are common ones; then the keyword
    ranking's top chunks share those words only. 1 for an embedder whose cosines do not measure meaning."""
    if not semantic or params.vector_margin <= 0 or len(scores) < CONFIDENCE_RANK:
        return 1.0  # fewer candidates than that (a small collection, a filter): no margin to speak of
    margin = scores[0] - scores[CONFIDENCE_RANK - 1]
    return min(max(params.vector_boost, 1.0), max(1.0, margin / params.vector_margin))


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _workers() -> ThreadPoolExecutor:
    """Threads for the keyword side of hybrid queries, started on first use (never at import)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="docqa-keyword")
        return _pool


def suggest(corpus: Corpus, q: str, limit: int = 10) -> list[str]:
    """Completions of `q` found in the corpus (headings and frequent phrases), most frequent first."""
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_SUGGEST:
        raise InvalidInput(f"limit must be an integer between 1 and {MAX_SUGGEST}", field="limit")
    return _suggest.suggest(corpus.db, corpus.collection, q, limit)
