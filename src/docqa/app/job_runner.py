"""How a worker runs one ingest job with the library: the runner handed to `docqa.jobs.JobWorkers`.

The document is written through the same pipeline and identity rule as every
other ingest (ingest/identity.py: the job's document id, else its source, else
filename + content hash), so a job run twice -- its worker killed after the
commit, before it could mark the job done -- updates the one document it made
(`unchanged` the second time) and never makes two.

The job's bytes (a spooled temporary file) go through the streaming ingest
(app/file_ingest.py): bounded memory whatever the size, batches staged and
made visible in one transaction when whole. `cancel` is asked between
batches (and while waiting for an ingest slot): a cancelled job, a worker
shutting down or a lost lease stop it there, and what it staged is removed.
Progress (chunks written of chunks made so far) goes to the job's heartbeat.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING, BinaryIO, cast

from docqa.config import Settings
from docqa.errors import DocqaError
from docqa.jobs import JobControl, JobInterrupted, JobOutcome, JobWorkers, WorkerConfig
from docqa.storage.jobs import JobRecord

if TYPE_CHECKING:
    from docqa.app.library import Docqa


def run_job(library: Docqa, job: JobRecord, data: IO[bytes], control: JobControl, catch_up: bool) -> JobOutcome:
    """`catch_up`: this process serves an index (docqa serve): apply the write to it before the job ends,
    as an upload always did, so a shutdown right after saves a snapshot that has it."""
    outcome = library.ingest_file(
        cast(BinaryIO, data),
        job.filename,
        source=job.source,
        document_id=job.document_id,
        content_type_hint=job.content_type or None,
        metadata=job.metadata,
        sync=False,  # below, where the index is this process's
        cancel=control.cancelled,
        on_progress=lambda p: control.progress(p.chunks_done, p.chunks_seen),
    )
    if outcome.status == "cancelled":  # stopped between batches (or waiting for a slot): nothing of it kept
        raise JobInterrupted(control.reason() or "cancelled")
    if outcome.status == "failed":  # the content's fault: the same every attempt, so not retried
        return JobOutcome("failed", outcome.document_id, outcome.to_dict(), outcome.error, outcome.error_code)
    control.progress(outcome.chunks, outcome.chunks)
    if catch_up and outcome.status in ("added", "updated") and library.engine.ready:
        try:
            library.engine.sync("catch_up")
        except DocqaError:  # the write is committed: the service's follower applies it when it can
            pass
    return JobOutcome("done", outcome.document_id, outcome.to_dict())


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
