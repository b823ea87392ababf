"""Index commands: sync, stats, search."""

from __future__ import annotations

import json

import click

from docqa.cli.context import CliContext, emit_json, key_values, pass_ctx
from docqa.errors import InvalidInput
from docqa.limits import MAX_SEARCH_K
from docqa.types import SearchFilters


@click.command()
@click.option("--force", is_flag=True, help="Rebuild the index from the database.")
@click.option(
    "--check",
    is_flag=True,
    help="Change nothing (no file, no index); exit 1 unless the index is provably in sync, saying what a sync would do.",
)
@click.option(
    "--deep",
    is_flag=True,
    help="Also re-hash every vector the index holds against the row hash kept with it (O(N) in this process).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the sync report as JSON.")
@pass_ctx
def sync(obj: CliContext, force: bool, check: bool, deep: bool, as_json: bool) -> None:
    """Prove the index equals the database; catch up, repair or rebuild as needed."""
    if force and check:
        raise InvalidInput("--force and --check cannot be combined")
    if force and deep:
        raise InvalidInput("--deep checks an existing index; --force rebuilds it (a rebuilt index needs no --deep)")
    library = obj.library(sync=False)
    report = library.sync("force" if force else "check" if check else "auto", deep=deep)
    if not check and report.status != "degraded":
        library.save()  # the snapshot is what a sync leaves behind: one that cannot be written is an error
    if as_json:
        emit_json(report.to_dict())
    else:
        click.echo(report.describe())
    if report.status == "degraded" or (check and report.status != "in_sync"):
        raise SystemExit(1)


@click.command()
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def stats(obj: CliContext, as_json: bool) -> None:
    """Counts, model, index type and sync position."""
    data = obj.library().stats().to_dict()
    if as_json:
        emit_json(data)
        return
    for key in (
        "collection",
        "total_documents",
        "failed_documents",
        "total_chunks",
        "total_vectors",
        "model",
        "dim",
        "index_type",
        "applied_seq",
        "db_seq",
        "lag",
        "database",
    ):
        click.echo(f"{key:18} {data[key]}")


def parse_filters(
    document: tuple[str, ...],
    content_type: tuple[str, ...],
    where: tuple[str, ...],
    date_from: str | None,
    date_to: str | None,
) -> SearchFilters:
    return SearchFilters(
        document_ids=tuple(document),
        content_types=tuple(content_type),
        metadata=key_values("--where", where),
        date_from=date_from,
        date_to=date_to,
    )


def search_options(fn):
    for decorator in reversed(
        [
            click.option("-k", "--limit", "k", type=click.IntRange(1, MAX_SEARCH_K), default=10, show_default=True),
            click.option("--document", multiple=True, help="Only these document ids (repeatable)."),
            click.option(
                "--type", "content_type", multiple=True, help="Only this content type / document_type (repeatable)."
            ),
            click.option("--where", multiple=True, help="Metadata filter KEY=VALUE (repeatable)."),
            click.option("--date-from"),
            click.option("--date-to"),
            click.option("--json", "as_json", is_flag=True),
            click.option("--min-seq", type=int, help="Read-your-writes: wait until the index has applied this change."),
        ]
    ):
        fn = decorator(fn)
    return fn


@click.command()
@click.argument("text")
@click.option("--mode", type=click.Choice(["vector", "keyword", "hybrid"]), default="vector", show_default=True)
@search_options
@pass_ctx
def search(
    obj: CliContext,
    text: str,
    mode: str,
    k: int,
    document: tuple[str, ...],
    content_type: tuple[str, ...],
    where: tuple[str, ...],
    date_from: str | None,
    date_to: str | None,
    as_json: bool,
    min_seq: int | None,
) -> None:
    """Search the collection."""
    import time

    filters = parse_filters(document, content_type, where, date_from, date_to)
    library = obj.library()
    start = time.perf_counter()
    hits = library.search(text, mode=mode, k=k, filters=filters, min_seq=min_seq)
    elapsed = round((time.perf_counter() - start) * 1000, 2)
    if as_json:
        emit_json(
            {
                "query": text,
                "mode": mode,
                "results": [h.to_dict() for h in hits],
                "total_results": len(hits),
                "execution_time_ms": elapsed,
                "filters_applied": json.loads(json.dumps(filters.__dict__, default=list)),
            }
        )
        return
    if not hits:
        click.echo("no results")
    for rank, h in enumerate(hits, 1):
        where_ = f"{h.filename or h.document_id}" + (f" p.{h.page}" if h.page else "") + f" #{h.chunk_index}"
        click.echo(f"{rank:2}. {h.score:.3f}  {where_}")
        snippet = " ".join(h.content.split())
        click.echo(f"    {snippet[:200]}{'…' if len(snippet) > 200 else ''}")


COMMANDS = [sync, stats, search]
