"""Reciprocal rank fusion of ranked id lists (pure).

Each ranking contributes `weight / (rrf_k + rank)` (rank from 1) for every id
it holds; ids are ordered by the sum. Only ranks matter, so a BM25 score and
a cosine similarity never have to be put on one scale.

The returned score is that sum divided by the best sum possible (an id
ranked first by every ranking): 1.0 means "first everywhere", and an id
found by one ranking alone scores at most that ranking's share of the
weights. Ties keep the order of the first ranking that holds the ids.
"""

from __future__ import annotations

from collections.abc import Sequence

from docqa.errors import InvalidInput


def candidate_depth(k: int) -> int:
    """How many candidates each ranking contributes before fusing down to `k`."""
    return max(50, 4 * k)


def rrf_fuse(
    rankings: Sequence[Sequence[int]], weights: Sequence[float], rrf_k: int = 60, limit: int | None = None
) -> tuple[list[int], list[float]]:
    """Fuse `rankings` (best first). Returns (ids, normalized scores in (0, 1]), best first."""
    if len(rankings) != len(weights):
        raise InvalidInput("one weight per ranking")
    if rrf_k < 0 or any(w < 0 for w in weights):
        raise InvalidInput("rrf_k and weights must not be negative")
    total: dict[int, float] = {}
    first_seen: dict[int, tuple[int, int]] = {}
    for which, (ranking, weight) in enumerate(zip(rankings, weights)):
        seen: set[int] = set()
        for rank, chunk_id in enumerate(ranking, start=1):
            if chunk_id in seen:
                continue  # a ranking holding an id twice counts it once, at its best rank
            seen.add(chunk_id)
            total[chunk_id] = total.get(chunk_id, 0.0) + weight / (rrf_k + rank)
            first_seen.setdefault(chunk_id, (which, rank))
    best = sum(w / (rrf_k + 1) for w in weights) or 1.0
    ordered = sorted(total, key=lambda i: (-total[i], first_seen[i]))
    if limit is not None:
        ordered = ordered[:limit]
    return ordered, [total[i] / best for i in ordered]
