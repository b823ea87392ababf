"""Answer quality: does `ask` answer the labelled questions with the words that answer them, from
the right file, and say "not found" for questions the corpus cannot answer?

Over the answerable questions:
- key_phrase_in_answer: share whose answer text contains the key phrase (or, for a question with
  only an `expected_passage`, the whole passage), normalised as in `keyphrase`; "not found" is a miss.
- answer_chars_p50 / answer_chars_p95: length of the answers given (found only), in characters.
- top_citation_expected_file: share whose first cited source is from the expected file.
- false_refusals: share answered "not found".
- answered, cited_relevant (first cited chunk from the expected file and holding the phrase),
  passage_recall (mean share of the phrase's words in the answer): kept from the first version.
Over the unanswerable questions:
- unanswerable_refused: share answered "not found".

Every metric is given over all questions and, when they carry one, per split (`by_split`);
`per_question` and `per_unanswerable` hold one row per question (what was asked, expected and answered).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docqa.errors import InvalidInput
from docqa.eval.keyphrase import contains_phrase
from docqa.eval.metrics import mean, percentile, share
from docqa.eval.runner import SPLITS, EvalTarget, Question, by_split, check_split, chunk_is_relevant, same_file
from docqa.search.keyword import TERM

DEFAULT_UNANSWERABLE = Path(__file__).with_name("unanswerable.jsonl")


@dataclass(frozen=True)
class Unanswerable:
    id: str
    question: str
    split: str = ""


def load_unanswerable(path: Path, split: str = "all") -> list[Unanswerable]:
    """Questions the corpus cannot answer, from JSON lines with a question (and optionally id, split)."""
    check_split(split)
    out: list[Unanswerable] = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            item = json.loads(line)
            question, item_split = str(item["question"]).strip(), str(item.get("split") or "")
            if not question or (item_split and item_split not in SPLITS):
                raise ValueError(f"line {number}: empty question or a split other than tune/heldout")
            if split == "all" or item_split == split:
                out.append(Unanswerable(str(item.get("id") or f"line{number}"), question, item_split))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidInput(f"{path}: expected JSON lines with a question field ({exc})") from None
    return out


def word_recall(expected: str, answer: str) -> float:
    want = [w.casefold() for w in TERM.findall(expected)]
    have = {w.casefold() for w in TERM.findall(answer)}
    return sum(1 for w in want if w in have) / len(want) if want else 0.0


def _answerable_row(target: EvalTarget, q: Question) -> dict[str, Any]:
    answer = target.ask(q.question)
    first = answer.sources[0] if answer.found and answer.sources else None
    relevant = False
    if first is not None:
        with target.corpus.db.connection() as conn:
            text = conn.scalar("SELECT text FROM chunks WHERE id = ?", (first.chunk_id,), default="")
        relevant = chunk_is_relevant(first.filename, text, q)
    return {
        "id": q.id,
        "split": q.split,
        "question": q.question,
        "expected_filename": q.expected_filename,
        "key_phrase": q.phrase,
        "answer": answer.answer,
        "found": answer.found,
        "mode": answer.mode,
        "key_phrase_hit": (answer.found and contains_phrase(answer.answer, q.phrase)) if q.phrase else None,
        "top_citation_file": first.filename if first else None,
        "top_citation_expected": bool(first and same_file(first.filename, q.expected_filename)),
        "cited_relevant": relevant,
        "passage_recall": round(word_recall(q.phrase, answer.answer), 4) if answer.found and q.phrase else 0.0,
        "answer_chars": len(answer.answer) if answer.found else None,
    }


def _unanswerable_row(target: EvalTarget, item: Unanswerable) -> dict[str, Any]:
    answer = target.ask(item.question)
    return {
        "id": item.id,
        "split": item.split,
        "question": item.question,
        "answer": answer.answer,
        "found": answer.found,
        "refused": not answer.found,
        "top_citation_file": answer.sources[0].filename if answer.found and answer.sources else None,
    }


def summarize_answers(rows: Sequence[dict[str, Any]], refusals: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The answer metrics over answerable `rows` and unanswerable `refusals` (None where nothing is measured)."""
    lengths = [float(r["answer_chars"]) for r in rows if r["found"]]
    p50, p95 = percentile(lengths, 50), percentile(lengths, 95)
    return {
        "questions": len(rows),
        "unanswerable": len(refusals),
        "key_phrase_in_answer": share([r["key_phrase_hit"] for r in rows if r["key_phrase_hit"] is not None]),
        "answer_chars_p50": None if p50 is None else int(p50),
        "answer_chars_p95": None if p95 is None else int(p95),
        "top_citation_expected_file": share([r["top_citation_expected"] for r in rows]),
        "unanswerable_refused": share([r["refused"] for r in refusals]),
        "false_refusals": share([not r["found"] for r in rows]),
        "answered": share([r["found"] for r in rows]),
        "cited_relevant": share([r["cited_relevant"] for r in rows]),
        "passage_recall": round(mean([r["passage_recall"] for r in rows]), 4) if rows else None,
    }


def evaluate_qa(
    target: EvalTarget,
    questions: Sequence[Question],
    unanswerable: Sequence[Unanswerable | str],
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Ask every question once; metrics overall and per split, and one row per question."""
    items = [u if isinstance(u, Unanswerable) else Unanswerable(f"u{n}", u) for n, u in enumerate(unanswerable, 1)]
    rows, refusals = [], []
    for q in questions:
        rows.append(_answerable_row(target, q))
        if progress:
            progress(1)
    for item in items:
        refusals.append(_unanswerable_row(target, item))
        if progress:
            progress(1)
    report: dict[str, Any] = {"floor": target.qa_floor, **summarize_answers(rows, refusals)}
    answer_splits = by_split(rows, lambda r: r["split"])
    refusal_splits = by_split(refusals, lambda r: r["split"])
    names = [name for name in SPLITS if name in answer_splits or name in refusal_splits]
    if names:
        report["by_split"] = {
            name: summarize_answers(answer_splits.get(name, []), refusal_splits.get(name, [])) for name in names
        }
    report["per_question"] = rows
    report["per_unanswerable"] = refusals
    return report
