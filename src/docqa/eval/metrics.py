"""Ranking metrics over binary relevance (pure).

- recall@k: share of questions with at least one relevant chunk in the top k
  (the usual "hit rate" reading of recall for single-answer questions).
- MRR: mean of 1/rank of the first relevant chunk (0 when none is retrieved).
- nDCG@k: DCG of the top k with gain 1 per relevant chunk, divided by the
  DCG of an ideal list holding min(k, relevant chunks in the corpus) of them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def first_relevant_rank(relevant: Sequence[bool]) -> int | None:
    """1-based rank of the first relevant result, or None."""
    for rank, flag in enumerate(relevant, start=1):
        if flag:
            return rank
    return None


def hit_at(relevant: Sequence[bool], k: int) -> float:
    return 1.0 if any(relevant[:k]) else 0.0


def reciprocal_rank(relevant: Sequence[bool]) -> float:
    rank = first_relevant_rank(relevant)
    return 0.0 if rank is None else 1.0 / rank


def ndcg_at(relevant: Sequence[bool], k: int, total_relevant: int) -> float:
    """nDCG@k; `total_relevant` is how many relevant chunks exist (at least those retrieved)."""
    total = max(total_relevant, sum(1 for r in relevant[:k] if r))
    if total == 0:
        return 0.0
    dcg = sum(1.0 / math.log2(rank + 1) for rank, r in enumerate(relevant[:k], start=1) if r)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(k, total) + 1))
    return dcg / ideal


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def summarize(runs: Sequence[tuple[Sequence[bool], int]]) -> dict[str, float]:
    """Metrics over (relevance flags of the ranked results, relevant chunks in the corpus) per question."""
    return {
        "recall@1": round(mean([hit_at(r, 1) for r, _ in runs]), 4),
        "recall@5": round(mean([hit_at(r, 5) for r, _ in runs]), 4),
        "recall@10": round(mean([hit_at(r, 10) for r, _ in runs]), 4),
        "mrr": round(mean([reciprocal_rank(r) for r, _ in runs]), 4),
        "ndcg@10": round(mean([ndcg_at(r, 10, n) for r, n in runs]), 4),
    }


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank percentile (`q` in 0..100): the smallest value with at least q% of values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def share(flags: Sequence[bool]) -> float | None:
    """The fraction of true flags, rounded; None for no flags (a metric with nothing to measure)."""
    return round(sum(1 for f in flags if f) / len(flags), 4) if flags else None
