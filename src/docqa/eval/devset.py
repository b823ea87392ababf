"""A QA dev set's own checks: well-formed, labels true of the corpus, halves fixed and balanced.

A dev set is a folder of documents plus two JSON-lines files:

- answerable questions `{id, question, expected_filename, key_phrase, split, ...}`: the key phrase
  (2-8 words) must occur in the expected file's text as docqa's own parser extracts it
  (`docqa.ingest.parse_bytes`), normalised as in `keyphrase`, and must not be part of the question;
- unanswerable questions `{id, question, split, absent_terms}`: every absent term must occur in no
  document of the corpus (whole words, normalised), which is what makes the question unanswerable.

The split is deterministic and balanced by page: answerable questions ordered by (file, id) and
unanswerable ones by id alternate tune, heldout, tune, ... so each file's questions differ by at
most one between the halves. `assign_splits` computes it; the check wants the files to agree.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docqa.errors import InvalidInput
from docqa.eval.keyphrase import normalize_phrase, word_count
from docqa.eval.runner import SPLITS
from docqa.ingest import parse_bytes

MIN_ANSWERABLE = 80
MIN_UNANSWERABLE = 15
KEY_PHRASE_WORDS = (2, 8)


@dataclass
class DevsetReport:
    answerable: int = 0
    unanswerable: int = 0
    files: int = 0
    splits: dict[str, dict[str, int]] = field(default_factory=dict)  # "answerable"/"unanswerable" -> split -> n
    problems: list[str] = field(default_factory=list)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        rows = [json.loads(line) for line in lines if line.strip()]
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"{path}: cannot read JSON lines ({exc})") from None
    if not all(isinstance(row, dict) for row in rows):
        raise InvalidInput(f"{path}: every line must be a JSON object")
    return rows


def assign_splits(rows: Sequence[dict[str, Any]]) -> dict[str, str]:
    """id -> split: rows ordered by (expected_filename, id) alternate tune, heldout, ..."""
    ordered = sorted(rows, key=lambda r: (str(r.get("expected_filename", "")), str(r["id"])))
    return {str(r["id"]): SPLITS[n % 2] for n, r in enumerate(ordered)}


def extracted_texts(corpus: Path, names: Iterable[str]) -> dict[str, str]:
    """File name -> its text as docqa's parser extracts it, normalised like key phrases."""
    out: dict[str, str] = {}
    for name in sorted(set(names)):
        path = Path(corpus) / name
        if path.is_file():
            out[name] = normalize_phrase(parse_bytes(path.read_bytes(), name).text)
    return out


def _check_common(rows: Sequence[dict[str, Any]], kind: str, report: DevsetReport) -> None:
    ids = Counter(str(r.get("id", "")) for r in rows)
    report.problems += [f"{kind}: id {i!r} used {n} times" for i, n in ids.items() if n > 1 or not i]
    expected = assign_splits(rows) if all("id" in r for r in rows) else {}
    for r in rows:
        if not str(r.get("question", "")).strip():
            report.problems.append(f"{kind} {r.get('id')}: empty question")
        if r.get("split") not in SPLITS:
            report.problems.append(f"{kind} {r.get('id')}: split must be tune or heldout, got {r.get('split')!r}")
        elif expected and r["split"] != expected.get(str(r["id"])):
            report.problems.append(f"{kind} {r['id']}: split {r['split']} but the fixed rule gives {expected[r['id']]}")
    report.splits[kind] = dict(sorted(Counter(str(r.get("split")) for r in rows).items()))


def check_answerable(rows: Sequence[dict[str, Any]], texts: dict[str, str], report: DevsetReport) -> None:
    low, high = KEY_PHRASE_WORDS
    for r in rows:
        qid, name, phrase = r.get("id"), str(r.get("expected_filename", "")), str(r.get("key_phrase", ""))
        if name not in texts:
            report.problems.append(f"{qid}: expected file {name!r} is not in the corpus")
            continue
        if not low <= word_count(phrase) <= high:
            report.problems.append(f"{qid}: key phrase {phrase!r} has {word_count(phrase)} words, not {low}-{high}")
        wanted = normalize_phrase(phrase)
        if not wanted or wanted not in texts[name]:
            report.problems.append(f"{qid}: key phrase {phrase!r} is not in the extracted text of {name}")
        if wanted and wanted in normalize_phrase(str(r.get("question", ""))):
            report.problems.append(f"{qid}: the question already contains its key phrase {phrase!r}")


def _occurs(term: str, text: str) -> bool:
    wanted = normalize_phrase(term)
    return bool(re.search(rf"(?<!\w){re.escape(wanted)}(?!\w)", text))


def check_unanswerable(rows: Sequence[dict[str, Any]], texts: dict[str, str], report: DevsetReport) -> None:
    for r in rows:
        terms = r.get("absent_terms")
        if not isinstance(terms, list) or not terms or not all(isinstance(t, str) and t.strip() for t in terms):
            report.problems.append(f"{r.get('id')}: absent_terms must be a non-empty list of words")
            continue
        for term in terms:
            found = [name for name, text in texts.items() if _occurs(term, text)]
            if found:
                report.problems.append(f"{r['id']}: absent term {term!r} occurs in {', '.join(found[:3])}")


def check_devset(
    questions: Path, unanswerable: Path, corpus: Path, minimums: tuple[int, int] = (MIN_ANSWERABLE, MIN_UNANSWERABLE)
) -> DevsetReport:
    """Every check above, over the whole corpus folder; problems are sentences naming the question."""
    answerable, refusals = read_jsonl(questions), read_jsonl(unanswerable)
    names = [p.name for p in Path(corpus).iterdir() if p.is_file()] if Path(corpus).is_dir() else []
    if not names:
        raise InvalidInput(f"{corpus}: no documents (the dev set's corpus folder)")
    texts = extracted_texts(corpus, names)
    report = DevsetReport(len(answerable), len(refusals), len({str(r.get("expected_filename")) for r in answerable}))
    _check_common(answerable, "answerable", report)
    _check_common(refusals, "unanswerable", report)
    check_answerable(answerable, texts, report)
    check_unanswerable(refusals, texts, report)
    if report.answerable < minimums[0] or report.unanswerable < minimums[1]:
        report.problems.append(
            f"{report.answerable} answerable and {report.unanswerable} unanswerable questions; "
            f"at least {minimums[0]} and {minimums[1]} wanted"
        )
    for kind, counts in report.splits.items():
        if any(counts.get(name, 0) == 0 for name in SPLITS):
            report.problems.append(f"{kind}: a split is empty ({counts})")
    return report
