"""What an answer is made from: the retrieved regions cut into units, and the candidates scored."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from docqa.qa.compose import Layout
from docqa.qa.context import Region, regions_for
from docqa.qa.extractive import Scored, candidates, score_candidates
from docqa.qa.passages import idf, question_terms
from docqa.search.corpus import Corpus
from docqa.search.keyword import document_frequencies
from docqa.types import SearchHit

MAX_CANDIDATES = 400  # units embedded per question, at most


@dataclass
class Evidence:
    question: str
    hits: list[SearchHit]
    layouts: list[Layout]  # one per region, best ranked region first
    scored: list[Scored]  # best pick first
    weights: dict[str, float]  # the question's content stems -> IDF
    frequencies: dict[str, int]  # the question's content words (as typed) -> chunks holding them
    total_chunks: int
    question_vector: np.ndarray | None = None

    @property
    def regions(self) -> list[Region]:
        return [layout.region for layout in self.layouts]

    @property
    def best(self) -> Scored | None:
        return self.scored[0] if self.scored else None


def gather(corpus: Corpus, question: str, hits: Sequence[SearchHit]) -> Evidence:
    """The regions around `hits`, their units, and every candidate scored against the question."""
    terms = question_terms(question)
    with corpus.db.connection() as conn:
        frequencies, total = document_frequencies(conn, list(terms.values()))
    weights = {stem: idf(frequencies[word], total) for stem, word in terms.items()}
    layouts = [Layout.of(region) for region in regions_for(corpus, hits)]
    found = candidates([x.region for x in layouts], [x.units for x in layouts], MAX_CANDIDATES)
    scored: list[Scored] = []
    question_vector = None
    if found:
        vectors = corpus.embedder.embed([question] + [c.for_embedding() for c in found])
        units = [x.units for x in layouts]
        question_vector = np.asarray(vectors[0])
        scored = score_candidates(weights, vectors[0], found, np.asarray(vectors[1:]), units, [h.score for h in hits])
    return Evidence(question, list(hits), layouts, scored, weights, dict(frequencies), total, question_vector)
