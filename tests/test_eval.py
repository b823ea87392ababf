"""Evaluation: metrics on hand-checked rankings, relevance rules, the runner and the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from docqa.errors import InvalidInput
from docqa.eval.metrics import first_relevant_rank, hit_at, ndcg_at, reciprocal_rank, summarize
from docqa.eval.runner import DEFAULT_QUESTIONS, Question, chunk_is_relevant, load_questions, parse_modes
from tests.helpers import make_chunks


def test_metrics_by_hand() -> None:
    a = [False, False, True, False, True]  # first hit at rank 3
    b = [True]
    c = [False] * 10  # nothing found
    assert first_relevant_rank(a) == 3 and first_relevant_rank(c) is None
    assert (hit_at(a, 1), hit_at(a, 3), hit_at(b, 1), hit_at(c, 10)) == (0.0, 1.0, 1.0, 0.0)
    assert reciprocal_rank(a) == pytest.approx(1 / 3) and reciprocal_rank(c) == 0.0
    # a: two relevant chunks exist; DCG = 1/log2(4) + 1/log2(6); ideal = 1/log2(2) + 1/log2(3)
    assert ndcg_at(a, 10, 2) == pytest.approx((0.5 + 1 / math.log2(6)) / (1 + 1 / math.log2(3)))
    assert ndcg_at(b, 10, 1) == 1.0 and ndcg_at(c, 10, 3) == 0.0 and ndcg_at(c, 10, 0) == 0.0
    assert ndcg_at([False, True], 1, 1) == 0.0  # the cut-off applies
    assert summarize([(a, 2), (b, 1), (c, 1)]) == {
        "recall@1": round(1 / 3, 4),
        "recall@5": round(2 / 3, 4),
        "recall@10": round(2 / 3, 4),
        "mrr": round((1 / 3 + 1) / 3, 4),
        "ndcg@10": round(((0.5 + 1 / math.log2(6)) / (1 + 1 / math.log2(3)) + 1) / 3, 4),
    }


def test_relevance_rule() -> None:
    q = Question("q", "?", "guide.md", "keep the chain  oiled")
    assert chunk_is_relevant("guide.md", "You must keep the\nchain oiled weekly.", q)
    assert chunk_is_relevant("docs/guide.md", "keep the chain oiled", q)  # same file name under a folder
    assert not chunk_is_relevant("other.md", "keep the chain oiled", q)
    assert not chunk_is_relevant("guide.md", "keep the chain clean", q)
    assert chunk_is_relevant("guide.md", "anything", Question("q", "?", "guide.md"))  # no passage: any chunk


def test_load_questions(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(
        '{"id": "a", "question": "Q?", "expected_filename": "f.txt", "expected_passage": "x  y"}\n\n'
        '{"question": "R?", "expected_filename": "g.txt"}\n',
        encoding="utf-8",
    )
    assert load_questions(path) == [Question("a", "Q?", "f.txt", "x y"), Question("line3", "R?", "g.txt", "")]
    path.write_text('{"question": "no file"}\n', encoding="utf-8")
    with pytest.raises(InvalidInput):
        load_questions(path)
    with pytest.raises(InvalidInput):
        load_questions(tmp_path / "missing.jsonl")
    assert parse_modes("hybrid, vector,hybrid") == ["hybrid", "vector"]
    with pytest.raises(InvalidInput):
        parse_modes("vector,bogus")


def test_shipped_question_set_is_well_formed() -> None:
    questions = load_questions(DEFAULT_QUESTIONS)
    assert len(questions) >= 50
    assert len({q.id for q in questions}) == len(questions)
    assert all(q.expected_passage for q in questions)


def tiny_corpus(store) -> None:
    store.add_document(
        make_chunks(
            [
                "the espresso machine needs descaling every month with citric acid",
                "grind the beans fine for a short shot",
            ]
        ),
        filename="coffee.txt",
    )
    store.add_document(
        make_chunks(
            ["bicycle chains should be cleaned and lubricated after rain", "check tyre pressure weekly with a gauge"]
        ),
        filename="bike.txt",
    )


def test_evaluate_on_a_tiny_corpus(store) -> None:
    tiny_corpus(store)
    questions = [
        Question("q1", "descaling the espresso machine with citric acid", "coffee.txt", "descaling every month"),
        Question("q2", "tyre pressure gauge", "bike.txt", "tyre pressure weekly"),
        Question("q3", "bicycle chains lubricated", "bike.txt"),  # any chunk of bike.txt
        Question("q4", "grind beans", "coffee.txt", "a passage that is nowhere"),
    ]
    report = store.evaluate(questions, ["keyword", "hybrid"], k=10)
    assert report["questions"] == 4 and report["embedder"] == "hash-384"
    assert [p["id"] for p in report["label_problems"]] == ["q4"]
    kw = report["modes"]["keyword"]
    assert kw["recall@1"] == 0.75 and kw["recall@10"] == 0.75  # q4 can never be found
    assert report["per_question"]["q1"] == {"keyword": 1, "hybrid": 1}
    assert report["per_question"]["q4"]["keyword"] is None
    assert set(kw) == {"recall@1", "recall@5", "recall@10", "mrr", "ndcg@10", "latency_ms_p50"}


def test_eval_and_ask_commands(store, tmp_path: Path) -> None:
    from docqa.cli.main import cli

    tiny_corpus(store)
    path = tmp_path / "q.jsonl"
    path.write_text(
        json.dumps(
            {
                "id": "q1",
                "question": "espresso descaling",
                "expected_filename": "coffee.txt",
                "expected_passage": "citric acid",
            }
        )
        + "\n",
        encoding="utf-8",
    )
    base = ["--db", store.settings.database_url, "--data-dir", str(tmp_path / "cli"), "--embedder", "hash"]
    runner = CliRunner()
    result = runner.invoke(cli, [*base, "eval", str(path), "--modes", "keyword,hybrid", "--k", "5", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["modes"]["keyword"]["recall@1"] == 1.0 and report["k"] == 5
    result = runner.invoke(cli, [*base, "eval", str(path), "--modes", "vector"])
    assert result.exit_code == 0 and "recall@1" in result.output and "vector" in result.output
    result = runner.invoke(cli, [*base, "ask", "When should bicycle chains be lubricated?", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["found"] and body["sources"][0]["filename"] == "bike.txt"
    result = runner.invoke(cli, [*base, "ask", "When should bicycle chains be lubricated?"])
    assert "Sources:" in result.output and "bike.txt" in result.output


def test_answer_quality_report(store) -> None:
    from docqa.eval.qa_eval import DEFAULT_UNANSWERABLE, load_unanswerable, word_recall

    tiny_corpus(store)
    store.settings = store.settings.replace(qa_min_score=0.25)
    questions = [
        Question("q1", "When should bicycle chains be lubricated?", "bike.txt", "lubricated after rain"),
        Question("q2", "descaling the espresso machine with citric acid", "coffee.txt", "citric acid"),
    ]
    report = store.evaluate_answers(questions, ["Who won the football world cup in 1998?"])
    summary = {k: v for k, v in report.items() if not k.startswith("per_")}
    p50, p95 = summary.pop("answer_chars_p50"), summary.pop("answer_chars_p95")
    assert 0 < p50 <= p95 <= 900  # the lengths of these two answers, whatever the composition makes of them
    assert summary == {
        "floor": 0.25,
        "questions": 2,
        "unanswerable": 1,
        "key_phrase_in_answer": 1.0,
        "top_citation_expected_file": 1.0,
        "unanswerable_refused": 1.0,
        "false_refusals": 0.0,
        "answered": 1.0,
        "cited_relevant": 1.0,
        "passage_recall": 1.0,
    }
    assert [row["key_phrase_hit"] for row in report["per_question"]] == [True, True]
    assert report["per_unanswerable"][0]["refused"] is True
    assert word_recall("after the rain", "Clean it after rain.") == pytest.approx(2 / 3)
    assert len(load_unanswerable(DEFAULT_UNANSWERABLE)) >= 20
