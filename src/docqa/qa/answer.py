"""`ask`: retrieve with hybrid search, find the unit that answers, compose a readable cited passage.

    answer = ask(corpus, "How often should the chain be oiled?", config=QaConfig())
    answer.to_dict()  # question, answer, found, mode, fallback_reason, sources, processing_time_ms

Extractive (default, offline): the answering sentence with its neighbours in the same section, quoted
from the documents, `[n]` after each stretch that `sources[n-1]` is (compose.py). With
`QaConfig.llm_base_url` set, an OpenAI-compatible chat model writes the answer from the same passages,
numbered the same way; if it fails or is too slow the extractive answer is returned with
`fallback_reason`. Either way, when the evidence does not hold up (refusal.py: below the floor, about
something the collection never mentions, not covering the question, not the kind of answer asked for)
the answer says plainly that nothing was found, and the model is not asked.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from docqa.errors import InvalidInput, LLMUnavailable, NotFound
from docqa.limits import MAX_ASK_K, MAX_QUESTION_CHARS
from docqa.qa import llm
from docqa.qa.compose import MARKER_RESERVE, MAX_CHARS, TARGET_CHARS, Layout, fitted, piece_source, pieces_of, window
from docqa.qa.evidence import Evidence, gather
from docqa.qa.extractive import Scored
from docqa.qa.refusal import PhraseCount, RefusalConfig, refusal_reason
from docqa.qa.rerank import rerank
from docqa.qa.retrieve import retrieve
from docqa.qa.types import NOT_FOUND_TEXT, Answer, Source
from docqa.search.corpus import Corpus, HybridParams
from docqa.search.keyword import phrase_frequency
from docqa.storage import repo
from docqa.types import SearchFilters

SECOND_SHARE = 0.8  # a second passage (another place) joins the answer when its anchor scores this close
MIN_SECOND_CHARS = 120  # ... and this much room is left for it
LLM_PASSAGES = 4  # windows shown to a model, at most
MAX_PASSAGES = 2  # windows in an extractive answer, at most
RERANK_WINDOWS = True  # choose the anchor by its window (rerank.py)
DEPTH = 1  # chunks retrieved per chunk asked for: the answer's units are looked for in k * DEPTH chunks


@dataclass(frozen=True)
class QaConfig:
    """How answers are made: the evidence floor, refusal, the passage size, the retrieval fusion, the LLM."""

    min_score: float = 0.35
    hybrid: HybridParams = field(default_factory=HybridParams)
    answer_chars: int = TARGET_CHARS
    refusal: RefusalConfig = field(default_factory=RefusalConfig)
    llm_base_url: str = ""
    llm_model: str = "gpt-4o-mini"
    llm_timeout_s: float = 20.0
    llm_api_key: str = ""


@dataclass
class Passage:
    """A composed window: its pieces' sources and its rendered text (markers from `first`)."""

    text: str
    sources: list[Source]
    region: int
    span: tuple[int, int]  # region offsets covered
    units: tuple[int, int]  # first and last unit index (in the region's layout)


def ask(
    corpus: Corpus, question: str, document_ids: Sequence[str] = (), k: int = 5, config: QaConfig | None = None
) -> Answer:
    """Answer `question` from the collection (optionally only from `document_ids`)."""
    config = config or QaConfig()
    started = time.perf_counter()
    question = _validated(question, k)
    filters = SearchFilters(document_ids=_existing(corpus, document_ids))
    hits = retrieve(corpus, question, min(k * DEPTH, MAX_ASK_K), filters, config.hybrid)
    evidence = gather(corpus, question, hits)
    if RERANK_WINDOWS and evidence.question_vector is not None:
        evidence.scored = rerank(evidence, corpus.embedder.embed, evidence.question_vector, config.answer_chars)
    answer = Answer(question=question, answer=NOT_FOUND_TEXT, found=False)
    passages = compose_answer(evidence, config)
    text = "\n\n".join(p.text for p in passages)  # the answer's type is checked on all it shows
    reason = refusal_reason(evidence, text, config.min_score, config.refusal, _phrases(corpus))
    if passages and reason is None:
        answer.answer = text
        answer.sources = [s for p in passages for s in p.sources]
        answer.found = True
        if config.llm_base_url:
            _try_llm(config, answer, evidence)
    answer.processing_time_ms = round((time.perf_counter() - started) * 1000, 2)
    return answer


def _phrases(corpus: Corpus) -> PhraseCount:
    def count(words: list[str]) -> int:
        with corpus.db.connection() as conn:
            return phrase_frequency(conn, words)

    return count


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


def passage_at(
    evidence: Evidence, item: Scored, first_marker: int, target: int, taken: Sequence[Passage] = ()
) -> Passage:
    """The window around a scored candidate (clear of the windows `taken` from its region), cut into
    sources and rendered with markers."""
    layout: Layout = evidence.layouts[item.candidate.region]
    first, last = window(layout, item.candidate.index, target, free_units(taken, item, len(layout.units)))
    text, pieces = fitted(layout, pieces_of(layout, first, last), first_marker, MAX_CHARS)
    sources = [piece_source(layout.region, piece, item.score) for piece in pieces]
    span = (layout.units[first].start, layout.units[last].end)
    return Passage(text, sources, item.candidate.region, span, (first, last))


def free_units(taken: Sequence[Passage], item: Scored, count: int) -> tuple[int, int]:
    """The first and last unit index around the candidate that no window `taken` from its region holds
    (the candidate itself must be outside them)."""
    low, high, anchor = 0, count - 1, item.candidate.index
    for passage in taken:
        if passage.region != item.candidate.region:
            continue
        first, last = passage.units
        if last < anchor:
            low = max(low, last + 1)
        elif first > anchor:
            high = min(high, first - 1)
    return low, high


def _inside(passages: Sequence[Passage], item: Scored) -> bool:
    unit = item.candidate.unit
    return any(p.region == item.candidate.region and p.span[0] < unit.end and unit.start < p.span[1] for p in passages)


def _overlaps(passages: Sequence[Passage], extra: Passage) -> bool:
    """Whether `extra` quotes any character (by document position) that `passages` already quote."""
    return any(
        a.document_id == b.document_id and a.char_start < b.char_end and b.char_start < a.char_end
        for p in passages
        for a in p.sources
        for b in extra.sources
    )


def compose_answer(evidence: Evidence, config: QaConfig, most: int | None = None) -> list[Passage]:
    """The best window, and (up to `most` in all) windows elsewhere whose anchors score nearly as well,
    while the answer stays within MAX_CHARS (markers included); nothing when the best evidence is below the
    floor. A later window in the same region stops where an earlier one starts or ends, so a place right
    next to the first is quoted up to it rather than left out for sharing its sentences."""
    best = evidence.best
    if best is None or best.score < config.min_score:
        return []
    passages = [passage_at(evidence, best, 1, config.answer_chars)]
    if not passages[0].sources:
        return []
    used = len(passages[0].text)
    for item in evidence.scored[1:]:
        if (
            len(passages) >= (most or MAX_PASSAGES)
            or item.pick < best.pick * SECOND_SHARE
            or item.score < config.min_score
        ):
            break
        room = MAX_CHARS - used - 2
        if _inside(passages, item) or room < MIN_SECOND_CHARS:
            continue
        first_marker = sum(len(p.sources) for p in passages) + 1
        extra = passage_at(evidence, item, first_marker, min(room - MARKER_RESERVE, config.answer_chars), passages)
        if len(extra.text) <= room and not _overlaps(passages, extra):
            passages.append(extra)
            used += len(extra.text) + 2
    return passages


def llm_passages(evidence: Evidence, config: QaConfig) -> list[Passage]:
    """The windows a model is shown: the best anchors' windows (one per place), each above the floor."""
    out: list[Passage] = []
    for item in evidence.scored:
        if len(out) >= LLM_PASSAGES or item.score < config.min_score:
            break
        if not _inside(out, item):
            out.append(passage_at(evidence, item, 1, config.answer_chars))
    return out


def _try_llm(config: QaConfig, answer: Answer, evidence: Evidence) -> None:
    """Replace the extractive answer by the model's, or record why not."""
    sources = [s for p in llm_passages(evidence, config) for s in p.sources]
    messages = llm.build_messages(answer.question, [s.text for s in sources])
    try:
        text = llm.chat(config.llm_base_url, config.llm_model, messages, config.llm_timeout_s, config.llm_api_key)
    except LLMUnavailable as exc:
        answer.fallback_reason = str(exc)
        return
    answer.mode = "llm"
    if llm.is_not_found(text):
        answer.answer, answer.found, answer.sources = NOT_FOUND_TEXT, False, []
        return
    answer.answer, cited = llm.map_citations(text, len(sources))
    answer.sources = [sources[j] for j in cited]
