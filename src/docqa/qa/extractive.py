"""Candidate answer units of the retrieved text, and their evidence (pure, given the vectors).

Evidence for a unit = W_SIMILARITY * cosine(question, heading + unit) + W_OVERLAP * the IDF-weighted
share of the question's content words that the unit contains (a question about words the corpus lacks
gets little from the one common word it shares). Both parts lie in [0, 1] for relevant text, so the
evidence does too; it is what the relevance floor (`QaConfig.min_score`) is compared with.

Which unit anchors the answer is decided by `pick`, which prefers the answer over the echo: a sentence
that restates the question shares most of its words but adds nothing, the one that answers it adds words
of its own. So `pick` = evidence + W_NOVELTY * the share of the unit's content words that are not the
question's (for units of at least NOVELTY_WORDS words; a fragment adds little however new its words).
A unit that only restates the question (a question itself, or nearly all its words the question's) passes
its evidence on to the unit after it in the same section, which is where such a text puts the answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from docqa.qa.context import Region
from docqa.qa.passages import Unit, content_terms, term_overlap, unit_context

W_SIMILARITY = 0.6
W_OVERLAP = 0.4
W_NOVELTY = 0.0
PICK_SIMILARITY = W_SIMILARITY
PICK_OVERLAP = W_OVERLAP
SIMILARITY_GATE = 0.4  # word overlap counts in full from this similarity up, proportionally below it
_ASKS = re.compile(r"\?[\"'\u201d\u2019)\]]*(?:\s|$)")
NOVELTY_WORDS = 12  # a unit this long (in words) gets its full novelty; shorter ones a share
ECHO_SHARE = 0.0  # a unit whose content words are at least this share the question's is an echo (0: off)
ECHO_PASS = 1.0  # the share of an echo's pick passed on to the unit after it
ECHO_KEEP = 0.5  # the share of its pick an echo keeps (its window still shows it: the window starts before)
W_RETRIEVAL = 0.5  # weight of the retrieval score (hybrid, 0..1) of the chunk a unit comes from
NEIGHBOUR_UNITS = True  # offer the units of the chunks next to the retrieved ones too (ranked like them)


@dataclass(frozen=True)
class Candidate:
    region: int  # index into the regions
    index: int  # index into that region's units
    unit: Unit
    context: str  # the document's and the nearest heading's titles, embedded with the unit (unit_context)
    rank: int  # the best retrieval rank of a retrieved chunk holding it

    @property
    def text(self) -> str:
        return self.unit.text

    def for_embedding(self) -> str:
        return f"{self.context}: {self.unit.text}" if self.context else self.unit.text


@dataclass(frozen=True)
class Scored:
    candidate: Candidate
    score: float  # the evidence
    similarity: float
    overlap: float
    pick: float  # the evidence adjusted for what the unit adds (which unit anchors the answer)


def candidates(regions: Sequence[Region], region_units: Sequence[Sequence[Unit]], limit: int) -> list[Candidate]:
    """The units of the retrieved chunks (not of their neighbours) worth offering, best ranked regions first."""
    out: list[Candidate] = []
    for r, (region, units) in enumerate(zip(regions, region_units)):
        spans = region.retrieved_spans()
        for i, unit in enumerate(units):
            ranks = [rank for start, end, rank in spans if start < unit.end and unit.start < end]
            if not ranks and NEIGHBOUR_UNITS:  # a neighbour's unit: as ranked as the retrieved chunk it borders
                ranks = [min(rank for _, _, rank in spans)]
            if ranks and unit.offerable():
                out.append(Candidate(r, i, unit, unit_context(region.heading_at(unit.start)), min(ranks)))
    return sorted(out, key=lambda c: (c.rank, c.region, c.unit.start))[:limit]


def novelty(question_stems: set[str], unit: Unit) -> float:
    """The share of the unit's content words that are not the question's, scaled down for short units."""
    terms = content_terms(unit.text)
    if not terms:
        return 0.0
    new = len(terms - question_stems) / len(terms)
    return new * min(1.0, unit.words / NOVELTY_WORDS)


def gated(overlap: float, similarity: float) -> float:
    """The word overlap, counted only as far as the unit is about the question: words shared by a unit that
    means something else ("kept in the fridge ... if rice is left warm") are a coincidence."""
    return overlap * min(1.0, max(0.0, similarity) / SIMILARITY_GATE) if SIMILARITY_GATE > 0 else overlap


def is_echo(question_stems: set[str], unit: Unit) -> bool:
    """Whether the unit restates the question rather than answering it: it asks a question itself (also one
    quoted in an example), or (ECHO_SHARE) nearly all its words are the question's."""
    if _ASKS.search(unit.text):
        return True
    terms = content_terms(unit.text)
    return ECHO_SHARE > 0 and bool(terms) and len(terms & question_stems) / len(terms) >= ECHO_SHARE


def score_candidates(
    term_weights: dict[str, float],
    question_vector: np.ndarray,
    found: Sequence[Candidate],
    vectors: np.ndarray,
    region_units: Sequence[Sequence[Unit]],
    retrieval: Sequence[float] = (),
) -> list[Scored]:
    """Candidates with their evidence, best `pick` first (ties: retrieval order, then position).

    `term_weights` maps the question's stemmed content words to their IDF."""
    if not found:
        return []
    stems = set(term_weights)
    sims = np.asarray(vectors, dtype=np.float32) @ np.asarray(question_vector, dtype=np.float32)
    scored: dict[tuple[int, int], Scored] = {}
    for candidate, raw in zip(found, sims):
        sim = float(np.clip(raw, -1.0, 1.0))
        overlap = term_overlap(term_weights, candidate.text)
        evidence = W_SIMILARITY * sim + W_OVERLAP * overlap
        pick = PICK_SIMILARITY * sim + PICK_OVERLAP * gated(overlap, sim) + W_NOVELTY * novelty(stems, candidate.unit)
        if retrieval:
            pick += W_RETRIEVAL * retrieval[candidate.rank]
        scored[(candidate.region, candidate.index)] = Scored(candidate, evidence, sim, overlap, pick)
    for (region, index), item in list(scored.items()):
        if not is_echo(stems, item.candidate.unit):
            continue
        following = scored.get((region, index + 1))
        units = region_units[region]
        if following and units[index + 1].group == units[index].group:
            passed = max(item.pick * ECHO_PASS, following.pick)
            scored[(region, index + 1)] = Scored(
                following.candidate, max(following.score, item.score), following.similarity, following.overlap, passed
            )
        scored[(region, index)] = Scored(
            item.candidate, item.score, item.similarity, item.overlap, item.pick * ECHO_KEEP
        )
    return sorted(scored.values(), key=lambda s: (-s.pick, s.candidate.rank, s.candidate.unit.start))
