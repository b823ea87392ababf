"""`ask`: retrieve with hybrid search, rerank sentences, answer with cited spans.

    answer = ask(corpus, "How often should the chain be oiled?", config=QaConfig())
    answer.to_dict()  # question, answer, found, mode, fallback_reason, sources, processing_time_ms

Extractive (default, offline): the best sentences of the retrieved chunks,
quoted verbatim. With `QaConfig.llm_base_url` set, an OpenAI-compatible chat
model writes the answer from the retrieved chunks, citing them as [n]; if it
fails or is too slow the extractive answer is returned with
`fallback_reason`. Either way, when the best evidence is below
`QaConfig.min_score` the answer says plainly that nothing was found (the
model is not asked).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from docqa.errors import InvalidInput, LLMUnavailable, NotFound
from docqa.limits import MAX_ASK_K, MAX_QUESTION_CHARS
from docqa.qa import llm
from docqa.qa.extractive import (
    Scored,
    extractive_answer,
    passage_text_for_embedding,
    score_passages,
    select_sources,
    to_source,
)
from docqa.qa.passages import Passage, chunk_passages, idf, question_terms
from docqa.qa.types import NOT_FOUND_TEXT, Answer, Source
from docqa.search.corpus import Corpus, HybridParams
from docqa.search.dispatch import search
from docqa.search.keyword import document_frequencies
from docqa.storage import repo
from docqa.types import SearchFilters, SearchHit

MAX_PASSAGES = 400  # sentences embedded per question, at most


@dataclass(frozen=True)
class QaConfig:
    """How answers are made: the evidence floor, the retrieval fusion and the optional LLM."""

    min_score: float = 0.35
    hybrid: HybridParams = field(default_factory=HybridParams)
    llm_base_url: str = ""
    llm_model: str = "gpt-4o-mini"
    llm_timeout_s: float = 20.0
    llm_api_key: str = ""


def ask(
    corpus: Corpus, question: str, document_ids: Sequence[str] = (), k: int = 5, config: QaConfig | None = None
) -> Answer:
    """Answer `question` from the collection (optionally only from `document_ids`)."""
    config = config or QaConfig()
    started = time.perf_counter()
    question = _validated(question, k)
    filters = SearchFilters(document_ids=_existing(corpus, document_ids))
    hits = search(corpus, question, mode="hybrid", k=k, filters=filters, hybrid=config.hybrid)
    scored = rank_evidence(corpus, question, hits)
    chosen = select_sources(scored, hits, config.min_score)
    answer = Answer(question=question, answer=NOT_FOUND_TEXT, found=False)
    if chosen:
        answer.answer, answer.sources = extractive_answer(chosen, hits)
        answer.found = True
        if config.llm_base_url:
            _try_llm(config, answer, question, hits, scored)
    answer.processing_time_ms = round((time.perf_counter() - started) * 1000, 2)
    return answer


def _validated(question: str, k: int) -> str:
    if not isinstance(question, str) or not question.strip():
        raise InvalidInput("question must not be empty", field="question")
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidInput(f"question is longer than {MAX_QUESTION_CHARS} characters", field="question")
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_ASK_K:
        raise InvalidInput(f"k must be an integer between 1 and {MAX_ASK_K}", field="k")
    return question.strip()


def _existing(corpus: Corpus, document_ids: Sequence[str]) -> tuple[str, ...]:
    """The requested documents, all of which must exist in the collection."""
    if isinstance(document_ids, str):
        document_ids = [document_ids]
    ids = tuple(dict.fromkeys(str(d).strip() for d in document_ids if str(d).strip()))
    missing = []
    with corpus.db.connection() as conn:
        for document_id in ids:
            doc = repo.get_document(conn, document_id)
            if doc is None or doc.collection != corpus.collection:
                missing.append(document_id)
    if missing:
        raise NotFound(f"unknown document id(s): {', '.join(missing)}", document_ids=missing)
    return ids


def rank_evidence(corpus: Corpus, question: str, hits: Sequence[SearchHit]) -> list[Scored]:
    """Every candidate sentence of the retrieved chunks, scored against the question, best first."""
    passages: list[Passage] = []
    for index, hit in enumerate(hits):
        passages.extend(chunk_passages(index, hit.content, hit.heading))
    passages = passages[:MAX_PASSAGES]
    if not passages:
        return []
    vectors = corpus.embedder.embed([question] + [passage_text_for_embedding(p) for p in passages])
    return score_passages(term_weights(corpus, question), vectors[0], passages, np.asarray(vectors[1:]))


def term_weights(corpus: Corpus, question: str) -> dict[str, float]:
    """IDF of each content word of the question, from the full-text index."""
    terms = question_terms(question)
    with corpus.db.connection() as conn:
        frequencies, total = document_frequencies(conn, list(terms.values()))
    return {stem: idf(frequencies[word], total) for stem, word in terms.items()}


def _try_llm(config: QaConfig, answer: Answer, question: str, hits: Sequence[SearchHit], scored: list[Scored]) -> None:
    """Replace the extractive answer by the model's, or record why not."""
    best: dict[int, float] = {}
    for item in scored:  # best first, so the first score seen per chunk is its best
        best.setdefault(item.passage.hit, item.score)
    useful = [i for i in range(len(hits)) if best.get(i, float("-inf")) >= config.min_score]
    messages = llm.build_messages(question, [hits[i].content for i in useful])
    try:
        text = llm.chat(config.llm_base_url, config.llm_model, messages, config.llm_timeout_s, config.llm_api_key)
    except LLMUnavailable as exc:
        answer.fallback_reason = str(exc)
        return
    answer.mode = "llm"
    if llm.is_not_found(text):
        answer.answer, answer.found, answer.sources = NOT_FOUND_TEXT, False, []
        return
    answer.answer, cited = llm.map_citations(text, len(useful))
    answer.sources = [_whole_chunk(hits[useful[j]], best[useful[j]]) for j in cited]


def _whole_chunk(hit: SearchHit, score: float) -> Source:
    """A chunk cited as a whole (what the model was shown), without its surrounding whitespace."""
    text = hit.content
    start = len(text) - len(text.lstrip())
    return to_source(hit, start, max(start, len(text.rstrip())), score)
