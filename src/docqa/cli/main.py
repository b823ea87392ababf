"""Entry point: `docqa [global options] COMMAND ...`.

Every DocqaError becomes a one-line message and a non-zero exit, never a
traceback. Commands live in their own modules and register here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from docqa.cli.context import CliContext, settings_from_options
from docqa.errors import DocqaError
from docqa.logging import configure_logging


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--db",
    "db",
    help="Database URL (sqlite:///file.db or postgresql://...). Default: DOCQA_DATABASE_URL, else a SQLite file in the data dir.",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    help="Where the SQLite file and index snapshots live. Default ./data",
)
@click.option("--collection", help="Collection name. Default 'default'.")
@click.option(
    "--embedder",
    help="minilm-int8, minilm, hash or openai. Default: the one the collection was built with; a new one gets "
    "minilm-int8.",
)
@click.option(
    "--index-type",
    type=click.Choice(["flat", "hnsw"]),
    help="Vector index type. Default flat.",
)
@click.option("-v", "--verbose", is_flag=True, help="Print JSON logs to stderr.")
@click.version_option(package_name="docqa")
@click.pass_context
def cli(ctx: click.Context, db, data_dir, collection, embedder, index_type, verbose) -> None:
    """docqa: a semantic index for document question answering."""
    settings = settings_from_options(db, data_dir, collection, embedder, index_type, verbose)
    configure_logging(settings.log_level if verbose else "WARNING", json_output=settings.log_json)
    obj = CliContext(settings)
    ctx.obj = obj
    ctx.call_on_close(obj.close)


def _register() -> None:
    from docqa.cli import cmd_index

    for module in (cmd_index,):
        for command in module.COMMANDS:
            cli.add_command(command)
    for name in ("cmd_ingest", "cmd_serve", "cmd_worker", "cmd_ask", "cmd_eval"):  # each registers its COMMANDS
        try:
            module = __import__(f"docqa.cli.{name}", fromlist=["COMMANDS"])
        except ModuleNotFoundError as exc:
            if exc.name != f"docqa.cli.{name}":
                raise
            continue
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main(argv: list[str] | None = None) -> int:
    try:
        cli.main(args=argv, prog_name="docqa", standalone_mode=False)
    except DocqaError as exc:
        click.echo(f"error: {exc.message}", err=True)
        return 2
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except SystemExit as exc:
        return int(exc.code or 0)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except Exception as exc:  # a bug, not bad input: one line, the traceback only with -v
        import logging

        logging.getLogger("docqa.cli").debug("unexpected error", exc_info=True)
        click.echo(f"error: unexpected {type(exc).__name__}: {exc} (run with -v for the log)", err=True)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
