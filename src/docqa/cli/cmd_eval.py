"""`docqa eval QUESTIONS.jsonl`: retrieval quality per search mode, and answer quality with --qa."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import click

from docqa.cli.context import CliContext, emit_json, pass_ctx
from docqa.limits import MAX_SEARCH_K

Tick = Callable[[int], None]


@contextlib.contextmanager
def progress_bar(total: int, enabled: bool) -> Iterator[Tick | None]:
    """A progress bar on stderr (rich when installed, else click's); None when disabled."""
    if not enabled or total <= 0:
        yield None
        return
    try:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    except ImportError:  # rich is optional: fall back to click's bar
        with click.progressbar(length=total, label="evaluating", file=sys.stderr) as bar:
            yield bar.update
        return
    columns = (TextColumn("evaluating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("evaluating", total=total)
        yield lambda n: bar.advance(task, n)


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
@click.option(
    "--split",
    type=click.Choice(["all", "tune", "heldout"]),
    default="all",
    show_default=True,
    help="Which half of a dev set to run (questions carry a `split` field); all also reports each half.",
)
@click.option("--label", help="Name of the corpus in the report (default: the collection name).")
@click.option("--json", "as_json", is_flag=True, help="Print the full report (metrics, per-question rows) as JSON.")
@pass_ctx
def eval_(
    obj: CliContext,
    questions: Path | None,
    modes: str,
    k: int,
    with_qa: bool,
    unanswerable: Path | None,
    split: str,
    label: str | None,
    as_json: bool,
) -> None:
    """Score search modes on labelled questions: recall@1/5/10, MRR, nDCG@10 (and answers with --qa).

    QUESTIONS is a JSON-lines file with question, expected_filename and
    optionally key_phrase (the words a correct answer must contain) or
    expected_passage, and split (tune or heldout). Default: the shipped set
    over samples/. With --qa: key phrase in answer, answer length p50/p95,
    top citation from the expected file, unanswerable refused, false refusals.
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
    items = load_questions(questions or DEFAULT_QUESTIONS, split=split)
    refusals = load_unanswerable(unanswerable or DEFAULT_UNANSWERABLE, split=split) if with_qa else []
    library = obj.library()
    total = len(items) * (len(selected) + int(with_qa)) + len(refusals)
    with progress_bar(total, enabled=sys.stderr.isatty() and not as_json) as tick:
        report = library.evaluate(items, selected, k, progress=tick)
        if with_qa:
            report["qa"] = library.evaluate_answers(items, refusals, progress=tick)
    report = {"corpus": label or report["collection"], "split": split, **report}
    if as_json:
        emit_json(report)
        return
    click.echo(format_table(report))
    for problem in report["label_problems"]:
        click.echo(f"label problem {problem['id']}: {problem['reason']} ({problem['expected_filename']})", err=True)


COMMANDS = [eval_]
