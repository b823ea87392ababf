"""`docqa ask QUESTION`: an answer with cited passages."""

from __future__ import annotations

import click

from docqa.cli.context import CliContext, emit_json, pass_ctx
from docqa.limits import MAX_ASK_K


@click.command()
@click.argument("question")
@click.option("--documents", default="", help="Only these document ids, comma separated.")
@click.option(
    "-k", "--k", "k", type=click.IntRange(1, MAX_ASK_K), default=5, show_default=True, help="Chunks retrieved."
)
@click.option("--json", "as_json", is_flag=True, help="Print the answer and its sources as JSON.")
@click.option("--min-seq", type=int, help="Read-your-writes: wait until the index has applied this change.")
@pass_ctx
def ask(obj: CliContext, question: str, documents: str, k: int, as_json: bool, min_seq: int | None) -> None:
    """Answer QUESTION from the indexed documents, citing the passages used."""
    ids = [d.strip() for d in documents.split(",") if d.strip()]
    answer = obj.library().ask(question, document_ids=ids, k=k, min_seq=min_seq)
    if as_json:
        emit_json(answer.to_dict())
        return
    click.echo(answer.answer)
    if answer.fallback_reason:
        click.echo(f"\n(LLM unavailable, extractive answer: {answer.fallback_reason})", err=True)
    if answer.sources:
        click.echo("\nSources:")
    for number, source in enumerate(answer.sources, start=1):
        where = source.filename or source.document_id
        page = f", page {source.page}" if source.page else ""
        click.echo(
            f"[{number}] {where}{page}, characters {source.char_start}-{source.char_end} (score {source.score:.2f})"
        )
        snippet = " ".join(source.text.split())
        click.echo(f"    {snippet[:300]}{'…' if len(snippet) > 300 else ''}")


COMMANDS = [ask]
