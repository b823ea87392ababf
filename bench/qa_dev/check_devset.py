"""Check the QA dev set (bench/qa_dev) against its corpus, or fix its halves.

    .venv/bin/python bench/qa_dev/check_devset.py                 # counts, halves per page, problems
    .venv/bin/python bench/qa_dev/check_devset.py --write-splits  # (re)write the split fields by the fixed rule
    .venv/bin/python bench/qa_dev/check_devset.py --dir bench/faq_dev   # another dev set of the same layout

Every key phrase must occur in its expected file's text as docqa's own parser
extracts it; every absent term of an unanswerable question must occur in no
page. Exit status 1 when anything is wrong. The rules are in docqa/eval/devset.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from docqa.eval.devset import assign_splits, check_devset, read_jsonl

HERE = Path(__file__).resolve().parent
FIELDS = {
    "questions.jsonl": ["id", "question", "expected_filename", "key_phrase", "kind", "split"],
    "unanswerable.jsonl": ["id", "question", "absent_terms", "kind", "split"],
}


def write_splits(path: Path) -> None:
    rows = read_jsonl(path)
    splits = assign_splits(rows)
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            row["split"] = splits[str(row["id"])]
            ordered = {key: row[key] for key in FIELDS[path.name] if key in row}
            out.write(json.dumps({**ordered, **row}, ensure_ascii=False) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write-splits", action="store_true", help="rewrite the split fields by the fixed rule")
    parser.add_argument(
        "--dir", type=Path, default=HERE, help="the dev set: questions.jsonl, unanswerable.jsonl, corpus/"
    )
    args = parser.parse_args()
    questions, unanswerable = args.dir / "questions.jsonl", args.dir / "unanswerable.jsonl"
    if args.write_splits:
        write_splits(questions)
        write_splits(unanswerable)
    report = check_devset(questions, unanswerable, args.dir / "corpus")
    per_file = Counter((r["expected_filename"], r.get("split")) for r in read_jsonl(questions))
    uneven = sorted({name for name, _ in per_file if abs(per_file[(name, "tune")] - per_file[(name, "heldout")]) > 1})
    print(
        f"{report.answerable} answerable questions over {report.files} pages, {report.unanswerable} unanswerable; "
        f"splits {report.splits}; pages with halves differing by more than one: {uneven or 'none'}"
    )
    for problem in report.problems:
        print("problem:", problem)
    return 1 if report.problems or uneven else 0


if __name__ == "__main__":
    sys.exit(main())
