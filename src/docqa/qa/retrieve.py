"""The chunks an answer is looked for in: the hybrid retrieval of `search(mode="hybrid")`.

The same two rankings (vector and keyword, `candidate_depth(k)` deep, filters applied before ranking),
fused by reciprocal rank with each contribution scaled by the chunk's score relative to the best of its
ranking (`search.hybrid.rrf_fuse`, `HybridParams.score_power`).
"""

from __future__ import annotations

from docqa.search.corpus import Corpus, HybridParams
from docqa.search.dispatch import hybrid_ids, validate
from docqa.search.vector import hits_from_ids
from docqa.types import SearchFilters, SearchHit


def retrieve(corpus: Corpus, question: str, k: int, filters: SearchFilters, params: HybridParams) -> list[SearchHit]:
    """The `k` best chunks for `question`, best first (hit scores: the fused score, 0..1)."""
    validate(question, "hybrid", k)
    ids, scores = hybrid_ids(corpus, question, k, filters, params)
    return hits_from_ids(corpus.db, ids, scores)
