"""`docqa worker`: run ingest jobs from the database, as a process of its own (any machine that reaches it)."""

from __future__ import annotations

import signal
import threading

import click

from docqa.cli.context import CliContext, pass_ctx
from docqa.logging import configure_logging


@click.command()
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    help="Jobs run at once. Default DOCQA_JOB_WORKERS (at least 1).",
)
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    help="Default INFO (DOCQA_LOG_LEVEL).",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    help="Serve this worker's Prometheus metrics (job counts and durations) on 127.0.0.1:PORT/metrics.",
)
@pass_ctx
def worker(obj: CliContext, concurrency: int | None, log_level: str | None, metrics_port: int | None) -> None:
    """Run ingest jobs (POST /api/v1/jobs, `docqa ingest --queue`) until SIGTERM or Ctrl-C.

    Stopping returns a running job to the queue at its next step (or lets it finish first);
    a worker killed outright loses its lease and another worker takes the job over."""
    settings = obj.settings.replace(log_level=log_level.upper() if log_level else None)
    configure_logging(settings.log_level, json_output=settings.log_json)
    library = obj.library(sync=False)  # a worker writes the database; it keeps no index
    pool = library.jobs.pool(concurrency or max(1, settings.job_workers), name="worker")
    if metrics_port:
        from docqa.api.metrics import serve_worker_metrics

        pool.listeners.append(serve_worker_metrics(metrics_port).on_job)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    pool.start()
    click.echo(f"docqa worker {pool.id}: running jobs of collection {settings.collection!r}", err=True)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        pool.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo(f"docqa worker stopped: {pool.done} done, {pool.failed} failed", err=True)


COMMANDS = [worker]
