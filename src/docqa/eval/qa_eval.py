"""Answer quality: does `ask` answer the labelled questions from the right passage, and say
"not found" for questions the corpus cannot answer?

- answered: share of labelled questions that got an answer (found).
- cited_relevant: share whose first cited chunk is relevant (expected file, contains the passage).
- passage_recall: mean share of the expected passage's words that the answer text contains.
- unanswerable_refused: share of the unanswerable questions answered "not found".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from docqa.errors import InvalidInput
from docqa.eval.metrics import mean
from docqa.eval.runner import EvalTarget, Question, chunk_is_relevant
from docqa.search.keyword import TERM

DEFAULT_UNANSWERABLE = Path(__file__).with_name("unanswerable.jsonl")


def load_unanswerable(path: Path) -> list[str]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        return [str(json.loads(line)["question"]) for line in lines if line.strip()]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(f"{path}: expected JSON lines with a question field ({exc})") from None


def word_recall(expected: str, answer: str) -> float:
    want = [w.casefold() for w in TERM.findall(expected)]
    have = {w.casefold() for w in TERM.findall(answer)}
    return sum(1 for w in want if w in have) / len(want) if want else 0.0


def evaluate_qa(
    target: EvalTarget,
    questions: Sequence[Question],
    unanswerable: Sequence[str],
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    answered, cited, recall, refused = [], [], [], []
    for q in questions:
        answer = target.ask(q.question)
        answered.append(1.0 if answer.found else 0.0)
        relevant = False
        if answer.found and answer.sources:
            first = answer.sources[0]
            with target.corpus.db.connection() as conn:
                text = conn.scalar("SELECT text FROM chunks WHERE id = ?", (first.chunk_id,), default="")
            relevant = chunk_is_relevant(first.filename, text, q)
        cited.append(1.0 if relevant else 0.0)
        recall.append(word_recall(q.expected_passage, answer.answer) if answer.found else 0.0)
        if progress:
            progress(1)
    for question in unanswerable:
        refused.append(0.0 if target.ask(question).found else 1.0)
        if progress:
            progress(1)
    return {
        "floor": target.qa_floor,
        "questions": len(questions),
        "unanswerable": len(unanswerable),
        "answered": round(mean(answered), 4),
        "cited_relevant": round(mean(cited), 4),
        "passage_recall": round(mean(recall), 4),
        "unanswerable_refused": round(mean(refused), 4),
    }
