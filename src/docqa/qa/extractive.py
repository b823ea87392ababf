"""Extractive answers: rerank candidate sentences and quote the best (pure, given the vectors).

Evidence for a sentence = W_SIMILARITY * cosine(question, heading + sentence)
+ W_OVERLAP * the IDF-weighted share of the question's content words that the
sentence contains (a question about words the corpus lacks gets little from
the one common word it shares). Both parts lie in [0, 1] for relevant text,
so the evidence does too; the answer is "not found" when the best evidence is
below `settings.qa_min_score`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from docqa.qa.passages import Passage, normalize_space, term_overlap
from docqa.qa.types import Source
from docqa.types import SearchHit

W_SIMILARITY = 0.6
W_OVERLAP = 0.4
MAX_SOURCES = 3
SOURCE_SHARE = 0.6  # a supporting passage must score at least this share of the best
ANSWER_SHARE = 0.9  # a second passage joins the answer text when this close to the best
MAX_ANSWER_PASSAGES = 2


@dataclass(frozen=True)
class Scored:
    passage: Passage
    score: float
    similarity: float
    overlap: float


def passage_text_for_embedding(passage: Passage) -> str:
    return f"{passage.context}: {passage.text}" if passage.context else passage.text


def score_passages(
    term_weights: dict[str, float],
    question_vector: np.ndarray,
    passages: Sequence[Passage],
    passage_vectors: np.ndarray,
) -> list[Scored]:
    """Passages with their evidence, best first (ties: retrieval order, then position).

    `term_weights` maps the question's stemmed content words to their IDF.
    """
    if not passages:
        return []
    sims = np.asarray(passage_vectors, dtype=np.float32) @ np.asarray(question_vector, dtype=np.float32)
    scored = []
    for passage, sim in zip(passages, sims):
        overlap = term_overlap(term_weights, passage.text)
        sim = float(np.clip(sim, -1.0, 1.0))
        scored.append(Scored(passage, W_SIMILARITY * sim + W_OVERLAP * overlap, sim, overlap))
    return sorted(scored, key=lambda s: (-s.score, s.passage.hit, s.passage.start))


def to_source(hit: SearchHit, start: int, end: int, score: float) -> Source:
    """A cited span of `hit`: offsets into the document, text exactly the chunk's characters."""
    return Source(
        document_id=hit.document_id,
        filename=hit.filename,
        chunk_id=hit.chunk_id,
        chunk_index=hit.chunk_index,
        page=hit.page,
        score=round(float(score), 4),
        char_start=hit.char_start + start,
        char_end=hit.char_start + end,
        text=hit.content[start:end],
    )


def select_sources(scored: Sequence[Scored], hits: Sequence[SearchHit], floor: float) -> list[Scored]:
    """The best passages above the floor, one per document span (overlapping chunks repeat text)."""
    if not scored or scored[0].score < floor:
        return []
    cutoff = max(floor, scored[0].score * SOURCE_SHARE)
    chosen: list[Scored] = []
    seen: set[tuple[str, str]] = set()
    for item in scored:
        if item.score < cutoff or len(chosen) == MAX_SOURCES:
            break
        hit = hits[item.passage.hit]
        key = (hit.document_id, normalize_space(item.passage.text).casefold())
        if key in seen:
            continue
        seen.add(key)
        chosen.append(item)
    return chosen


def extractive_answer(chosen: Sequence[Scored], hits: Sequence[SearchHit]) -> tuple[str, list[Source]]:
    """The answer text (the best passage, and a second one if nearly as good) and its sources."""
    sources = [to_source(hits[c.passage.hit], c.passage.start, c.passage.end, c.score) for c in chosen]
    best = chosen[0].score
    quoted = [chosen[0]] + [c for c in chosen[1:MAX_ANSWER_PASSAGES] if c.score >= best * ANSWER_SHARE]
    return "\n\n".join(normalize_space(c.passage.text) for c in quoted), sources
