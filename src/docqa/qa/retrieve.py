"""The chunks an answer is looked for in: hybrid retrieval with score-aware fusion.

The same two rankings as `search(mode="hybrid")` (vector and keyword, `candidate_depth(k)` deep, filters
applied before ranking), fused by reciprocal rank with each contribution scaled by the chunk's score
relative to the best of its ranking (`search.hybrid.rrf_fuse`, `score_power`). With `score_power` 0 this
is exactly the plain fusion of `search(mode="hybrid")`.
"""

from __future__ import annotations

from docqa.errors import InvalidInput
from docqa.search.corpus import Corpus, HybridParams
from docqa.search.dispatch import keyword_ids, validate
from docqa.search.hybrid import candidate_depth, rrf_fuse
from docqa.search.vector import hits_from_ids, vector_ranking
from docqa.types import SearchFilters, SearchHit


def retrieve(
    corpus: Corpus, question: str, k: int, filters: SearchFilters, params: HybridParams, score_power: float
) -> list[SearchHit]:
    """The `k` best chunks for `question`, best first (hit scores: the fused score, 0..1)."""
    validate(question, "hybrid", k)
    weights = (params.vector_weight, params.keyword_weight)
    if min(weights) < 0 or max(weights) <= 0 or params.rrf_k < 0 or score_power < 0:
        raise InvalidInput(
            "hybrid weights must be two non-negative numbers, not both zero; rrf_k and score_power must not be negative"
        )
    depth = candidate_depth(k)
    vec_ids, vec_scores = vector_ranking(corpus, corpus.embedder.embed_query(question), depth, filters)
    kw_ids, kw_scores = keyword_ids(corpus, question, depth, filters)
    ids, scores = rrf_fuse(
        [vec_ids, kw_ids], list(weights), params.rrf_k, limit=k, scores=[vec_scores, kw_scores], score_power=score_power
    )
    return hits_from_ids(corpus.db, ids, scores)
