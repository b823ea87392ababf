"""Reciprocal rank fusion of ranked id lists (pure).

Each ranking contributes `weight / (rrf_k + rank)` (rank from 1) for every id
it holds; ids are ordered by the sum. Only ranks matter, so a BM25 score and
a cosine similarity never have to be put on one scale.

Score-aware (`scores` given, `score_power` p > 0): each contribution is also
multiplied by (score / that ranking's best score) ** p, clamped to [0, 1]. A
chunk that a ranking puts 3rd only because it shares one common word with the
query (a BM25 score a tenth of the best) then adds a tenth of its rank's share,
while the cosines of a vector ranking's top list are close to each other and
keep nearly all of theirs: keyword noise cannot override strong vector evidence,
and a decisive keyword match still counts in full. Scores are still compared
within one ranking only.

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


def score_shares(scores: Sequence[float], power: float) -> list[float]:
    """(score / best score) ** power for each score, in [0, 1] (all 1.0 when the best is not positive)."""
    best = max(scores, default=0.0)
    if power <= 0 or best <= 0:
        return [1.0] * len(scores)
    return [min(1.0, max(0.0, s / best)) ** power for s in scores]


def rrf_fuse(
    rankings: Sequence[Sequence[int]],
    weights: Sequence[float],
    rrf_k: int = 60,
    limit: int | None = None,
    scores: Sequence[Sequence[float]] | None = None,
    score_power: float = 0.0,
) -> tuple[list[int], list[float]]:
    """Fuse `rankings` (best first), score-aware when `scores` (one list per ranking) and `score_power`
    are given. Returns (ids, normalized scores in (0, 1]), best first."""
    if len(rankings) != len(weights) or (scores is not None and len(scores) != len(rankings)):
        raise InvalidInput("one weight (and one score list, if any) per ranking")
    if rrf_k < 0 or any(w < 0 for w in weights) or score_power < 0:
        raise InvalidInput("rrf_k, weights and score_power must not be negative")
    if scores is not None and any(len(s) != len(r) for s, r in zip(scores, rankings)):
        raise InvalidInput("a score list must hold one score per ranked id")
    total: dict[int, float] = {}
    first_seen: dict[int, tuple[int, int]] = {}
    for which, (ranking, weight) in enumerate(zip(rankings, weights)):
        shares = score_shares(scores[which], score_power) if scores is not None else [1.0] * len(ranking)
        seen: set[int] = set()
        for rank, (chunk_id, share) in enumerate(zip(ranking, shares), start=1):
            if chunk_id in seen:
                continue  # a ranking holding an id twice counts it once, at its best rank
            seen.add(chunk_id)
            total[chunk_id] = total.get(chunk_id, 0.0) + weight * share / (rrf_k + rank)
            first_seen.setdefault(chunk_id, (which, rank))
    best = sum(w / (rrf_k + 1) for w in weights) or 1.0
    ordered = sorted(total, key=lambda i: (-total[i], first_seen[i]))
    if limit is not None:
        ordered = ordered[:limit]
    return ordered, [total[i] / best for i in ordered]
