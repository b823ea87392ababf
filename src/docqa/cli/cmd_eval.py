"""`docqa eval QUESTIONS.jsonl`: retrieval quality per search mode."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import click

from docqa.cli.context import CliContext, emit_json, pass_ctx
from docqa.limits import MAX_SEARCH_K


@click.command(name="eval")
@click.argument("questions", type=click.Path(path_type=Path, dir_okay=False), required=False)
@click.option("--modes", default="vector,keyword,hybrid", show_default=True, help="Comma list of search modes.")
@click.option(
    "-k",
    "--k",
    "k",
    type=click.IntRange(1, MAX_SEARCH_K),
    default=10,
    show_default=True,
    help="Results retrieved per question.",
)
@click.option("--qa", "with_qa", is_flag=True, help="Also score `ask` answers, and refusals on unanswerable questions.")
@click.option(
    "--unanswerable",
    type=click.Path(path_type=Path, dir_okay=False),
    help="JSON lines of questions the corpus cannot answer (default: the shipped set); with --qa.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the full report (metrics, label problems, ranks) as JSON.")
@pass_ctx
def eval_(
    obj: CliContext, questions: Path | None, modes: str, k: int, with_qa: bool, unanswerable: Path | None, as_json: bool
) -> None:
    """Score search modes on labelled questions: recall@1/5/10, MRR, nDCG@10 (and answers with --qa).

    QUESTIONS is a JSON-lines file with question, expected_filename and
    optionally expected_passage (default: the shipped set over samples/).
    """
    from docqa.app import (
        DEFAULT_QUESTIONS,
        DEFAULT_UNANSWERABLE,
        format_table,
        load_questions,
        load_unanswerable,
        parse_modes,
    )

    selected = parse_modes(modes)
    items = load_questions(questions or DEFAULT_QUESTIONS)
    refusals = load_unanswerable(unanswerable or DEFAULT_UNANSWERABLE) if with_qa else []
    library = obj.library()
    total = len(items) * (len(selected) + int(with_qa)) + len(refusals)
    bar = click.progressbar(length=total, label="evaluating", file=sys.stderr) if sys.stderr.isatty() else None
    with bar or contextlib.nullcontext():
        tick = bar.update if bar else None
        report = library.evaluate(items, selected, k, progress=tick)
        if with_qa:
            report["qa"] = library.evaluate_answers(items, refusals, progress=tick)
    if as_json:
        emit_json(report)
        return
    click.echo(format_table(report))
    if with_qa:
        click.echo("qa: " + ", ".join(f"{key} {value}" for key, value in report["qa"].items()))
    for problem in report["label_problems"]:
        click.echo(f"label problem {problem['id']}: {problem['reason']} ({problem['expected_filename']})", err=True)


COMMANDS = [eval_]
