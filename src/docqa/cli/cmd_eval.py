"""`docqa eval QUESTIONS.jsonl`: retrieval quality per search mode."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from docqa.cli.context import CliContext, emit_json, pass_ctx


@click.command(name="eval")
@click.argument("questions", type=click.Path(path_type=Path, dir_okay=False), required=False)
@click.option("--modes", default="vector,keyword,hybrid", show_default=True, help="Comma list of search modes.")
@click.option("-k", "--k", "k", type=click.IntRange(1, 1000), default=10, show_default=True, help="Results retrieved per question.")
@click.option("--json", "as_json", is_flag=True, help="Print the full report (metrics, label problems, ranks) as JSON.")
@pass_ctx
def eval_(obj: CliContext, questions: Path | None, modes: str, k: int, as_json: bool) -> None:
    """Score search modes on labelled questions: recall@1/5/10, MRR, nDCG@10.

    QUESTIONS is a JSON-lines file with question, expected_filename and
    optionally expected_passage (default: the shipped set over samples/).
    """
    from docqa.eval.runner import DEFAULT_QUESTIONS, evaluate, format_table, load_questions, parse_modes

    selected = parse_modes(modes)
    items = load_questions(questions or DEFAULT_QUESTIONS)
    store = obj.store()
    if sys.stderr.isatty():
        with click.progressbar(length=len(items) * len(selected), label="evaluating", file=sys.stderr) as bar:
            report = evaluate(store, items, selected, k, progress=bar.update)
    else:
        report = evaluate(store, items, selected, k)
    if as_json:
        emit_json(report)
        return
    click.echo(format_table(report))
    for problem in report["label_problems"]:
        click.echo(f"label problem {problem['id']}: {problem['reason']} ({problem['expected_filename']})", err=True)


COMMANDS = [eval_]
