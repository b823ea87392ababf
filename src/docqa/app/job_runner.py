"""How a worker runs one ingest job with the library: the runner handed to `docqa.jobs.JobWorkers`.

The document is written through the same pipeline and identity rule as every
other ingest (ingest/identity.py: the job's document id, else its source, else
filename + content hash), so a job run twice -- its worker killed after the
commit, before it could mark the job done -- updates the one document it made
(`unchanged` the second time) and never makes two.

Cancellation is checked between the pipeline's steps: after parsing, after
embedding, and never after the write started (one transaction: all or
nothing). When ingest streams in bounded batches with a `cancel` hook and a
progress callback, `_ingest` becomes the one call
`library.ingest_bytes(..., sync=False, cancel=control.cancelled, on_progress=control.progress)`.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING

from docqa.app.wiring import ingest_context
from docqa.config import Settings
from docqa.errors import DocqaError
from docqa.ingest.pipeline import IngestOutcome, embed_prepared, prepare, write_prepared
from docqa.jobs import JobControl, JobOutcome, JobWorkers, WorkerConfig
from docqa.storage.jobs import JobRecord

if TYPE_CHECKING:
    from docqa.app.library import Docqa


def run_job(library: Docqa, job: JobRecord, data: IO[bytes], control: JobControl, catch_up: bool) -> JobOutcome:
    """`catch_up`: this process serves an index (docqa serve): apply the write to it before the job ends,
    as an upload always did, so a shutdown right after saves a snapshot that has it."""
    with library._writing():  # health's writes_failing sees a worker's failed writes too
        outcome = _ingest(library, job, data, control)
    if catch_up and outcome.status in ("added", "updated") and library.engine.ready:
        try:
            library.engine.sync("catch_up")
        except DocqaError:  # the write is committed: the service's follower applies it when it can
            pass
    if outcome.status == "failed":  # the content's fault: the same every attempt, so not retried
        return JobOutcome("failed", outcome.document_id, outcome.to_dict(), outcome.error, outcome.error_code)
    return JobOutcome("done", outcome.document_id, outcome.to_dict())


def _ingest(library: Docqa, job: JobRecord, data: IO[bytes], control: JobControl) -> IngestOutcome:
    ctx = ingest_context(library.settings, library.writer)
    prepared = prepare(
        ctx,
        data.read(),
        job.filename,
        source=job.source,
        document_id=job.document_id,
        content_type_hint=job.content_type or None,
        metadata=job.metadata,
    )
    if isinstance(prepared, IngestOutcome):
        return prepared
    total = len(prepared.chunks)
    control.progress(0, total)
    control.check()
    embedded = embed_prepared(ctx, [prepared])[0]
    control.progress(total, total)
    control.check()
    return write_prepared(ctx, prepared, embedded)


def worker_pool(settings: Settings, library: Docqa, concurrency: int, name: str, catch_up: bool) -> JobWorkers:
    """A pool running this collection's jobs with `library` (not started); `catch_up`: see run_job."""
    config = WorkerConfig(
        collection=settings.collection,
        concurrency=concurrency,
        lease_s=settings.job_lease_s,
        poll_s=settings.job_poll_s,
        retry_delay_s=settings.job_retry_delay_s,
        retention_s=settings.job_retention_s,
        name=name,
    )
    return JobWorkers(
        lambda: library.db, lambda job, data, control: run_job(library, job, data, control, catch_up), config
    )
