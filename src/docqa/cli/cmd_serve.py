"""`docqa serve`: the HTTP service under uvicorn."""

from __future__ import annotations

import logging

import click

from docqa.cli.context import CliContext, pass_ctx
from docqa.logging import JsonFormatter, configure_logging


@click.command()
@click.option("--host", help="Bind address. Default 127.0.0.1 (DOCQA_HOST).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port. Default 8003 (DOCQA_PORT).")
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    help="Default INFO (DOCQA_LOG_LEVEL).",
)
@click.option("--access-log/--no-access-log", default=False, show_default=True, help="Log every request.")
@click.option(
    "--job-workers",
    type=click.IntRange(0, 64),
    help="In-process ingest job workers. Default 1 (DOCQA_JOB_WORKERS); 0: only accept jobs (docqa worker runs them).",
)
@pass_ctx
def serve(
    obj: CliContext,
    host: str | None,
    port: int | None,
    log_level: str | None,
    access_log: bool,
    job_workers: int | None,
) -> None:
    """Serve the HTTP API and web UI: sync before accepting requests, follow changes live, run ingest jobs."""
    import uvicorn

    from docqa.api import create_app

    settings = obj.settings.replace(
        host=host, port=port, log_level=log_level.upper() if log_level else None, job_workers=job_workers
    )
    if settings.embed_threads == 0:  # auto
        # a service embeds one short query per request: one torch thread per query beats two
        # threads contending for two cores (measured 23 ms vs 660 ms p50 under load)
        settings = settings.replace(embed_threads=1)
    configure_logging(settings.log_level, json_output=settings.log_json)
    _route_uvicorn_logs(settings.log_level, settings.log_json)
    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=access_log,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=10,
    )


def _route_uvicorn_logs(level: str, json_output: bool) -> None:
    """uvicorn's own lines go through the same formatter as ours."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if json_output else logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler] if name != "uvicorn.error" else []
        logger.setLevel(level.upper())
        logger.propagate = name == "uvicorn.error"


COMMANDS = [serve]
