"""Ingestion commands: ingest, documents, delete, reembed."""

from __future__ import annotations

from pathlib import Path

import click

from docqa.cli import progress
from docqa.cli.context import CliContext, emit_json, key_values, pass_ctx


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-r", "--recursive", is_flag=True, help="Descend into sub-folders.")
@click.option("--glob", "pattern", help="Only files matching this pattern (e.g. '*.pdf').")
@click.option(
    "--exclude",
    multiple=True,
    metavar="GLOB",
    help="Leave out files matching this pattern, by name or path in the folder (repeatable; e.g. 'README.md').",
)
@click.option("--prune", is_flag=True, help="Delete documents whose files are gone from the scanned folders.")
@click.option("--metadata", multiple=True, help="KEY=VALUE stored with every document (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option(
    "--queue",
    is_flag=True,
    help="Submit the files as jobs for the workers (docqa serve, docqa worker) instead of embedding here.",
)
@click.option("--no-wait", is_flag=True, help="With --queue: print the job ids and return without following them.")
@pass_ctx
def ingest(obj: CliContext, paths, recursive, pattern, exclude, prune, metadata, as_json, queue, no_wait) -> None:
    """Add or update documents from files and folders (txt, md, html, pdf, docx)."""
    library = obj.library(sync=False)
    if queue or no_wait:
        from docqa.cli.cmd_queue import ingest_queued

        if prune:
            raise click.UsageError("--prune is not available with --queue (it needs the whole scan's result)")
        if not queue:
            raise click.UsageError("--no-wait goes with --queue")
        ingest_queued(library, paths, recursive, pattern, exclude, key_values("--metadata", metadata), as_json, no_wait)
        return
    try:
        with progress.ingest_progress(progress.wanted(as_json)) as show:
            summary = library.ingest_paths(
                paths,
                recursive=recursive,
                pattern=pattern,
                exclude=exclude,
                prune=prune,
                metadata=key_values("--metadata", metadata),
                on_progress=show,
            )
    except KeyboardInterrupt:
        click.echo("\ninterrupted: documents already written are kept; run the same command again to resume", err=True)
        raise SystemExit(130) from None
    data = summary.to_dict()
    if as_json:
        emit_json(data)
    else:
        click.echo(
            f"added {data['added']}, updated {data['updated']}, unchanged {data['unchanged']}, "
            f"failed {data['failed']}, pruned {data['pruned']}, skipped {data['skipped']} "
            f"({data['chunks_embedded']} chunks embedded in {data['seconds']:.1f} s, "
            f"{data['chunks_per_s']} chunks/s)"
        )
        for failure in data["failures"]:
            click.echo(f"  failed: {failure['file']}: {failure['error']}")
    if data["failed"]:
        raise SystemExit(1)


@click.command()
@click.option("--limit", type=click.IntRange(1, 100_000), default=1000, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def documents(obj: CliContext, limit: int, as_json: bool) -> None:
    """List stored documents."""
    docs = obj.library(sync=False).list_documents(limit=limit)
    if as_json:
        emit_json([d.to_dict() for d in docs])
        return
    if not docs:
        click.echo("no documents")
    for d in docs:
        click.echo(
            f"{d.id}  {d.status:8} {d.chunks_total:5} chunks  {d.filename or d.source}"
            + (f"  ({d.error})" if d.error else "")
        )


@click.command()
@click.argument("document_id")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def delete(obj: CliContext, document_id: str, as_json: bool) -> None:
    """Delete a document; its vectors leave the index."""
    result = obj.library().delete_document(document_id)
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(f"deleted {document_id} ({result.chunks_deleted} chunks)")


@click.command()
@click.option("--to", "target", required=True, help="The embedder to switch the collection to (e.g. minilm-int8).")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def reembed(obj: CliContext, target: str, as_json: bool) -> None:
    """Re-embed every chunk with another embedder, switch the collection to it and rebuild."""
    from docqa.app import reembed as reembed_collection

    obj.close()  # the collection is re-opened with the target embedder
    with progress.reembed_progress(progress.wanted(as_json)) as show:
        report = reembed_collection(obj.settings, target, on_progress=show)
    if as_json:
        emit_json(report)
    else:
        click.echo(
            f"re-embedded {report['chunks']} chunks of collection {report['collection']!r}: "
            f"{report['from']} -> {report['to']}; index {report['sync']['status']} "
            f"with {report['sync']['index_count']} vectors"
        )


COMMANDS = [ingest, documents, delete, reembed]
