"""Run labelled questions through each search mode and score the rankings.

A question names its expected file and, optionally, the words that answer it:
a `key_phrase` (a few exact words) or an `expected_passage` (a longer span).
A result is relevant when it is a chunk of the expected file whose text
contains that phrase (normalised as in `keyphrase`: case, whitespace, markup),
or, for a question with neither, any chunk of the expected file. A question
whose phrase is in no chunk of that file is reported under `label_problems` and
counted as a miss, so a broken label can never raise the scores.

Questions may carry a `split` ("tune" or "heldout"): the metrics are then also
reported per split (`by_split`), and `load_questions(..., split=)` keeps one half.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from docqa.errors import InvalidInput
from docqa.eval.keyphrase import contains_phrase
from docqa.eval.metrics import first_relevant_rank, summarize
from docqa.eval.report import format_table as format_table  # the library API's name for it
from docqa.limits import MAX_SEARCH_K
from docqa.qa.types import Answer
from docqa.search.corpus import Corpus
from docqa.search.dispatch import MODES
from docqa.types import SearchHit

DEFAULT_QUESTIONS = Path(__file__).with_name("questions.jsonl")
SPLITS = ("tune", "heldout")  # the halves of a dev set; "all" selects both (and questions without a split)


@dataclass(frozen=True)
class EvalTarget:
    """What is evaluated: the collection's rows (to label results) and its search and ask use cases."""

    corpus: Corpus
    model: str
    search: Callable[[str, str, int], list[SearchHit]]  # (query, mode, k)
    ask: Callable[[str], Answer]
    qa_floor: float


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    expected_filename: str
    expected_passage: str = ""
    key_phrase: str = ""
    split: str = ""

    @property
    def phrase(self) -> str:
        """The words a relevant chunk (and a correct answer) must contain; empty: none asked for."""
        return self.key_phrase or self.expected_passage


def normalize(text: str) -> str:
    return " ".join(text.split())


def check_split(split: str) -> str:
    if split != "all" and split not in SPLITS:
        raise InvalidInput(f"unknown split {split!r}; use tune, heldout or all", field="split")
    return split


def by_split(items: Sequence[Any], split_of: Callable[[Any], str]) -> dict[str, list[Any]]:
    """The items grouped by their split, in SPLITS order; empty when no item has one."""
    groups: dict[str, list[Any]] = {name: [] for name in SPLITS}
    for item in items:
        if split_of(item) in groups:
            groups[split_of(item)].append(item)
    return {name: group for name, group in groups.items() if group}


def load_questions(path: Path, split: str = "all") -> list[Question]:
    """Labelled questions from JSON lines; with `split` "tune" or "heldout", only that half."""
    check_split(split)
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from None
    out: list[Question] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            question, filename = str(item["question"]).strip(), str(item["expected_filename"]).strip()
        except (ValueError, KeyError, TypeError):
            raise InvalidInput(f"{path}:{number}: expected a JSON object with question and expected_filename") from None
        if not question or not filename:
            raise InvalidInput(f"{path}:{number}: question and expected_filename must not be empty")
        item_split = str(item.get("split") or "")
        if item_split and item_split not in SPLITS:
            raise InvalidInput(f"{path}:{number}: split must be tune or heldout, got {item_split!r}")
        if split != "all" and item_split != split:
            continue
        out.append(
            Question(
                str(item.get("id") or f"line{number}"),
                question,
                filename,
                normalize(str(item.get("expected_passage") or "")),
                normalize(str(item.get("key_phrase") or "")),
                item_split,
            )
        )
    if not out:
        raise InvalidInput(f"{path}: no questions" + ("" if split == "all" else f" in split {split!r}"))
    return out


def parse_modes(text: str) -> list[str]:
    modes = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise InvalidInput(f"unknown mode(s) {', '.join(unknown) or '(none)'}; use a comma list of {', '.join(MODES)}")
    return list(dict.fromkeys(modes))


def same_file(filename: str, expected: str) -> bool:
    return filename == expected or PurePath(filename).name == PurePath(expected).name


def chunk_is_relevant(filename: str, text: str, question: Question) -> bool:
    if not same_file(filename, question.expected_filename):
        return False
    return not question.phrase or contains_phrase(text, question.phrase)


class _Corpus:
    """The collection's chunk texts by file name, read once."""

    def __init__(self, corpus: Corpus) -> None:
        self.corpus = corpus
        self._texts: dict[str, list[str]] = {}

    def relevant_count(self, question: Question) -> int:
        name = PurePath(question.expected_filename).name
        if name not in self._texts:
            with self.corpus.db.connection() as conn:
                rows = conn.fetchall(
                    "SELECT d.filename, c.text FROM chunks c JOIN documents d ON d.id = c.document_id "
                    "WHERE c.collection = ? AND d.status = 'indexed'",
                    (self.corpus.collection,),
                )
            for filename, text in rows:
                self._texts.setdefault(PurePath(filename).name, []).append(text)
            self._texts.setdefault(name, [])
        return sum(1 for text in self._texts[name] if chunk_is_relevant(name, text, question))


def evaluate(
    target: EvalTarget,
    questions: Sequence[Question],
    modes: Sequence[str],
    k: int = 10,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Metrics per mode, the questions whose labels match no chunk, and each question's first relevant rank."""
    if not 1 <= k <= MAX_SEARCH_K:
        raise InvalidInput(f"k must be between 1 and {MAX_SEARCH_K}", field="k")
    corpus = _Corpus(target.corpus)
    totals = {q.id: corpus.relevant_count(q) for q in questions}
    report: dict[str, Any] = {
        "questions": len(questions),
        "k": k,
        "collection": target.corpus.collection,
        "embedder": target.model,
        "database": target.corpus.db.kind,
        "modes": {},
        "per_question": {q.id: {} for q in questions},
        "label_problems": [
            {
                "id": q.id,
                "expected_filename": q.expected_filename,
                "reason": "no chunk of that file contains the key phrase or passage",
            }
            for q in questions
            if totals[q.id] == 0
        ],
    }
    splits = by_split(questions, lambda q: q.split)
    if splits:
        report["by_split"] = {name: {"questions": len(group), "modes": {}} for name, group in splits.items()}
    for mode in modes:
        runs: dict[str, tuple[Sequence[bool], int]] = {}
        latencies = []
        for q in questions:
            started = time.perf_counter()
            hits = target.search(q.question, mode, k)
            latencies.append((time.perf_counter() - started) * 1000)
            flags = [chunk_is_relevant(h.filename, h.content, q) for h in hits]
            runs[q.id] = (flags, totals[q.id])
            report["per_question"][q.id][mode] = first_relevant_rank(flags)
            if progress:
                progress(1)
        report["modes"][mode] = {
            **summarize(list(runs.values())),
            "latency_ms_p50": round(statistics.median(latencies), 2),
        }
        for name, group in splits.items():
            report["by_split"][name]["modes"][mode] = summarize([runs[q.id] for q in group])
    return report
