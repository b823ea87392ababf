"""Job bodies: a job as `GET /api/v1/jobs/{job_id}` shows it, and a page of them."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, Field

from docqa.app import JobRecord


def iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int((epoch % 1) * 1000):03d}Z"


class JobProgress(BaseModel):
    chunks_done: int
    chunks_total: int = Field(description="0 until the file is parsed")


class JobOut(BaseModel):
    job_id: str
    status: str = Field(description="queued | running | done | failed | cancelled")
    collection: str
    filename: str
    source: str
    content_type: str
    size_bytes: int
    document_id: str | None = Field(description="the document written (or the id asked for, until then)")
    progress: JobProgress
    error: str | None = Field(description="why it failed or was cancelled; the last attempt's error while retried")
    error_code: str | None
    attempts: int
    max_attempts: int
    cancel_requested: bool
    result: dict[str, Any] | None = Field(description="the ingest outcome once done: status, chunks, embedded, seq")
    created_at: str
    started_at: str | None
    finished_at: str | None
    updated_at: str
    lease_expires_at: str | None
    worker: str | None = Field(description="the worker holding the job while it runs")

    @classmethod
    def of(cls, job: JobRecord) -> JobOut:
        return cls(
            job_id=job.id,
            status=job.status,
            collection=job.collection,
            filename=job.filename,
            source=job.source,
            content_type=job.content_type,
            size_bytes=job.size_bytes,
            document_id=job.result_document_id or job.document_id,
            progress=JobProgress(chunks_done=job.chunks_done, chunks_total=job.chunks_total),
            error=job.error,
            error_code=job.error_code,
            attempts=job.attempts,
            max_attempts=job.max_attempts,
            cancel_requested=job.cancel_requested,
            result=job.result,
            created_at=iso(job.created_at) or "",
            started_at=iso(job.started_at),
            finished_at=iso(job.finished_at),
            updated_at=iso(job.updated_at) or "",
            lease_expires_at=iso(job.lease_expires_at),
            worker=job.lease_owner,
        )


class JobPage(BaseModel):
    jobs: list[JobOut]
    limit: int
    offset: int
    next_offset: int | None = Field(description="pass as offset for the next page; null on the last one")
