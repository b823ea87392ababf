"""Choose the anchor by its whole window: the passage a reader gets, not only the sentence it grew from.

A sentence alone is often too short to show what it answers ("The default value is 5000." means nothing
without the sentence before it), and a restating sentence matches the question best of all. So the
windows of the best anchors (one per place) are embedded as passages and scored like units: similarity
of the window to the question, the IDF-weighted share of the question's words it holds, and the chunk's
retrieval score. The anchors are then reordered by their window's score (pure, given `embed`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from docqa.qa.compose import window
from docqa.qa.evidence import Evidence
from docqa.qa.extractive import Scored, gated
from docqa.qa.passages import term_overlap

Embed = Callable[[Sequence[str]], np.ndarray]

WINDOWS = 8  # anchors whose windows are compared
W_WINDOW_SIMILARITY = 0.6
W_WINDOW_OVERLAP = 0.4
W_WINDOW_RETRIEVAL = 0.5
W_ANCHOR = 0.5  # weight of the anchor's own pick


def rerank(evidence: Evidence, embed: Embed, question_vector: np.ndarray, target: int) -> list[Scored]:
    """`evidence.scored` with its best WINDOWS anchors (distinct windows) reordered by window score."""
    chosen: list[tuple[Scored, tuple[int, int, int]]] = []
    for item in evidence.scored:
        if len(chosen) >= WINDOWS:
            break
        layout = evidence.layouts[item.candidate.region]
        first, last = window(layout, item.candidate.index, target)
        span = (item.candidate.region, layout.units[first].start, layout.units[last].end)
        if any(s[0] == span[0] and s[1] < span[2] and span[1] < s[2] for _, s in chosen):
            continue
        chosen.append((item, span))
    if len(chosen) < 2:
        return evidence.scored
    texts = []
    for item, (region, start, end) in chosen:
        body = evidence.layouts[region].render(start, end)
        texts.append(f"{item.candidate.context}: {body}" if item.candidate.context else body)
    sims = np.asarray(embed(texts), dtype=np.float32) @ np.asarray(question_vector, dtype=np.float32)
    retrieval = [h.score for h in evidence.hits]
    rescored = []
    for (item, _), text, sim in zip(chosen, texts, sims):
        value = (
            W_WINDOW_SIMILARITY * float(sim)
            + W_WINDOW_OVERLAP * gated(term_overlap(evidence.weights, text), float(sim))
            + W_WINDOW_RETRIEVAL * retrieval[item.candidate.rank]
            + W_ANCHOR * item.pick
        )
        rescored.append(replace(item, pick=value))
    rescored.sort(key=lambda s: -s.pick)
    moved = {id(item) for item, _ in chosen}
    return rescored + [s for s in evidence.scored if id(s) not in moved]
