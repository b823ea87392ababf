"""The QA dev set (bench/qa_dev): well-formed and true of its corpus, and `docqa eval --qa --json` on a slice of it
reports every answer metric, overall and per split (hash embedder, three pages: fast)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from docqa.eval.devset import MIN_ANSWERABLE, MIN_UNANSWERABLE, assign_splits, check_devset, read_jsonl
from docqa.eval.keyphrase import contains_phrase, normalize_phrase, word_count
from docqa.eval.metrics import percentile
from docqa.eval.qa_eval import load_unanswerable, summarize_answers
from docqa.eval.runner import load_questions

DEV = Path(__file__).resolve().parents[1] / "bench" / "qa_dev"
QUESTIONS, UNANSWERABLE, CORPUS = DEV / "questions.jsonl", DEV / "unanswerable.jsonl", DEV / "corpus"
SLICE = ("sql-copy.html", "populate.html", "libpq-pgpass.html")
ANSWER_METRICS = {
    "key_phrase_in_answer",
    "answer_chars_p50",
    "answer_chars_p95",
    "top_citation_expected_file",
    "unanswerable_refused",
    "false_refusals",
}
ROW_FIELDS = {"question", "expected_filename", "key_phrase", "answer", "found", "key_phrase_hit", "top_citation_file"}


def test_dev_set_is_well_formed_and_true_of_its_corpus() -> None:
    report = check_devset(QUESTIONS, UNANSWERABLE, CORPUS)
    assert report.problems == []
    assert report.answerable >= MIN_ANSWERABLE and report.unanswerable >= MIN_UNANSWERABLE
    assert 40 <= len(list(CORPUS.glob("*.html"))) <= 80
    for kind in ("answerable", "unanswerable"):
        assert report.splits[kind].get("tune", 0) > 0 and report.splits[kind].get("heldout", 0) > 0
    tune, heldout = load_questions(QUESTIONS, split="tune"), load_questions(QUESTIONS, split="heldout")
    assert len(tune) + len(heldout) == report.answerable and all(q.key_phrase for q in tune + heldout)
    assert {q.expected_filename for q in tune} == {q.expected_filename for q in heldout}  # balanced by page
    assert len(load_unanswerable(UNANSWERABLE, split="heldout")) == report.splits["unanswerable"]["heldout"]
    assert (DEV / "LICENSE").read_text(encoding="utf-8").count("PostgreSQL") >= 2


def test_the_faq_dev_set_is_well_formed_and_true_of_its_corpus() -> None:
    """The second, unseen corpus (bench/faq_dev): the Debian FAQ in plain text, one file per chapter."""
    faq = DEV.parent / "faq_dev"
    report = check_devset(faq / "questions.jsonl", faq / "unanswerable.jsonl", faq / "corpus")
    assert report.problems == [] and report.files == len(list((faq / "corpus").glob("*.txt"))) == 16
    assert report.answerable >= MIN_ANSWERABLE and report.unanswerable >= MIN_UNANSWERABLE
    for kind in ("answerable", "unanswerable"):
        assert report.splits[kind].get("tune", 0) > 0 and report.splits[kind].get("heldout", 0) > 0
    assert "Software in the Public Interest" in (faq / "LICENSE").read_text(encoding="utf-8")


def test_the_pydoc_dev_set_is_well_formed_and_true_of_its_corpus() -> None:
    """The third, unseen corpus (bench/pydoc_dev): Python 3.11 documentation pages, HTML, written blind."""
    pydoc = DEV.parent / "pydoc_dev"
    report = check_devset(pydoc / "questions.jsonl", pydoc / "unanswerable.jsonl", pydoc / "corpus")
    pages = list((pydoc / "corpus").glob("*.html"))
    assert report.problems == [] and report.files == len(pages) and 40 <= len(pages) <= 60
    assert report.answerable >= MIN_ANSWERABLE and report.unanswerable >= MIN_UNANSWERABLE
    for kind in ("answerable", "unanswerable"):
        assert report.splits[kind].get("tune", 0) > 0 and report.splits[kind].get("heldout", 0) > 0
    assert "Python Software Foundation" in (pydoc / "LICENSE").read_text(encoding="utf-8")


def test_the_check_finds_broken_labels(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in SLICE:
        shutil.copy(CORPUS / name, corpus / name)
    rows = [r for r in read_jsonl(QUESTIONS) if r["expected_filename"] in SLICE]
    refusals = read_jsonl(UNANSWERABLE)[:2]
    for part in (rows, refusals):  # a subset's halves, by the same rule
        splits = assign_splits(part)
        for r in part:
            r["split"] = splits[r["id"]]
    rows[0]["key_phrase"] = "a phrase the page never says"
    rows[1]["key_phrase"] = "header"  # one word
    was = rows[2]["split"]
    rows[2]["split"] = "heldout" if was == "tune" else "tune"
    rows[3]["question"] = f"Is it true that {rows[3]['key_phrase']}?"
    refusals[0]["absent_terms"] = ["pgpass"]  # the slice has it: the question would be answerable
    refusals[1]["absent_terms"] = []
    (tmp_path / "q.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (tmp_path / "u.jsonl").write_text("".join(json.dumps(r) + "\n" for r in refusals), encoding="utf-8")
    problems = check_devset(tmp_path / "q.jsonl", tmp_path / "u.jsonl", corpus).problems
    text = "\n".join(problems)
    assert f"{rows[0]['id']}: key phrase 'a phrase the page never says' is not in the extracted text" in text
    assert f"{rows[1]['id']}: key phrase 'header' has 1 words" in text
    assert [p for p in problems if "the fixed rule gives" in p] == [
        f"answerable {rows[2]['id']}: split {rows[2]['split']} but the fixed rule gives {was}"
    ]
    assert f"{rows[3]['id']}: the question already contains its key phrase" in text
    assert f"{refusals[0]['id']}: absent term 'pgpass' occurs in libpq-pgpass.html" in text
    assert f"{refusals[1]['id']}: absent_terms must be a non-empty list" in text
    assert "at least 80 and 15 wanted" in text


def test_key_phrase_matching_and_splits() -> None:
    assert contains_phrase("Use the <code>VACUUM</code>  FULL\ncommand", "vacuum full")
    assert contains_phrase("jsonb_set ( jsonb_in jsonb , path text[] )", "jsonb_set(jsonb_in jsonb, path text[])")
    assert contains_phrase("a “replica identity” configured", 'a "replica identity" configured')
    assert contains_phrase("don’t", "don't") and contains_phrase("`\\du` meta-command", "\\du meta-command")
    assert not contains_phrase("VACUUMFULL", "vacuum full") and not contains_phrase("anything", "")
    assert normalize_phrase("A  ,  B") == "a,b" and word_count("hostname:port:database") == 3
    rows = [{"id": i, "expected_filename": f} for i, f in [("b", "x"), ("a", "x"), ("c", "y"), ("d", "x")]]
    assert assign_splits(rows) == {"a": "tune", "b": "heldout", "d": "tune", "c": "heldout"}


def test_answer_metrics_by_hand() -> None:
    def row(found: bool, hit: bool, chars: int, top: bool) -> dict[str, object]:
        return {
            "found": found,
            "key_phrase_hit": hit,
            "answer_chars": chars if found else None,
            "top_citation_expected": top,
            "cited_relevant": top and hit,
            "passage_recall": 1.0 if hit else 0.0,
        }

    rows = [
        row(True, True, 100, True),
        row(True, False, 300, False),
        row(True, True, 900, True),
        row(False, False, 0, False),
    ]
    metrics = summarize_answers(rows, [{"refused": True}, {"refused": False}])
    assert metrics["key_phrase_in_answer"] == 0.5 and metrics["false_refusals"] == 0.25
    assert (metrics["answer_chars_p50"], metrics["answer_chars_p95"]) == (300, 900)  # found answers only
    assert metrics["top_citation_expected_file"] == 0.5 and metrics["unanswerable_refused"] == 0.5
    assert summarize_answers([], [])["key_phrase_in_answer"] is None
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 50) == 3.0 and percentile([], 95) is None


def test_eval_qa_json_on_a_slice(db_url: str, tmp_path: Path) -> None:
    from docqa.cli.main import cli

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in SLICE:
        shutil.copy(CORPUS / name, corpus / name)
    questions, refusals = tmp_path / "q.jsonl", tmp_path / "u.jsonl"
    questions.write_text(
        "".join(
            line + "\n" for line in QUESTIONS.read_text().splitlines() if json.loads(line)["expected_filename"] in SLICE
        )
    )
    refusals.write_text("".join(line + "\n" for line in UNANSWERABLE.read_text().splitlines()[:6]))
    base = ["--db", db_url, "--data-dir", str(tmp_path / "data"), "--embedder", "hash"]
    runner = CliRunner()
    result = runner.invoke(cli, [*base, "ingest", str(corpus), "--recursive"])
    assert result.exit_code == 0, result.output
    args = [
        *base,
        "eval",
        str(questions),
        "--unanswerable",
        str(refusals),
        "--qa",
        "--modes",
        "vector,hybrid",
        "-k",
        "5",
    ]
    result = runner.invoke(cli, [*args, "--json", "--label", "slice"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["corpus"] == "slice" and report["split"] == "all" and report["label_problems"] == []
    qa = report["qa"]
    assert set(qa) >= ANSWER_METRICS and set(qa["by_split"]) == {"tune", "heldout"}
    for part in qa["by_split"].values():
        assert set(part) >= ANSWER_METRICS
    for mode in ("vector", "hybrid"):
        assert {"recall@1", "recall@5"} <= set(report["modes"][mode])
        assert {"recall@1", "recall@5"} <= set(report["by_split"]["heldout"]["modes"][mode])
    rows = qa["per_question"]
    assert len(rows) == report["questions"] == qa["questions"] and all(set(r) >= ROW_FIELDS for r in rows)
    for r in rows:
        assert r["key_phrase_hit"] == (r["found"] and contains_phrase(r["answer"], r["key_phrase"]))
    hits = [r["key_phrase_hit"] for r in rows]
    assert qa["key_phrase_in_answer"] == round(sum(hits) / len(hits), 4)
    assert qa["false_refusals"] == round(sum(not r["found"] for r in rows) / len(rows), 4)
    assert len(qa["per_unanswerable"]) == qa["unanswerable"] == 6
    result = runner.invoke(cli, [*args, "--split", "heldout"])  # the table, one half
    assert result.exit_code == 0, result.output
    assert "key phrase %" in result.output and "false refusal %" in result.output and "heldout" in result.output


@pytest.mark.parametrize("split", ["bogus"])
def test_unknown_split_is_refused(split: str) -> None:
    from docqa.errors import InvalidInput

    with pytest.raises(InvalidInput, match="unknown split"):
        load_questions(QUESTIONS, split=split)
