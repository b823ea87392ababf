"""`/api/v1/jobs`: ingest a file as a job any worker runs; follow it, list them, cancel one.

Submitting answers 202 at once: the bytes are stored with the job and a
worker (in a `docqa serve`, or a `docqa worker` anywhere on the same database)
parses, embeds and writes it. Keys as everywhere (api/security.py): the read
key may look, the admin key may submit and cancel.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from docqa.api.deps import RuntimeDep
from docqa.api.schemas import ERROR_RESPONSES
from docqa.api.schemas_jobs import JobOut, JobPage
from docqa.api.security import require_admin_key, require_read_key
from docqa.api.upload_form import FORM_SCHEMA, read_upload
from docqa.app import Runtime

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"], responses=ERROR_RESPONSES)

JobId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$", description="the job's id")]
Status = Literal["queued", "running", "done", "failed", "cancelled"]


async def submit(request: Request, runtime: Runtime, refuse_unsupported: bool = True) -> JobOut:
    """Read the upload form and queue it (shared with the upload route)."""
    library = runtime.opened()  # jobs need the database, not the index
    form = await read_upload(request, runtime.settings.max_upload_bytes)
    try:
        job = await run_in_threadpool(
            lambda: library.jobs.submit(
                form.file,
                form.filename,
                source=form.source,
                document_id=form.document_id,
                content_type_hint=form.content_type,
                metadata=form.metadata,
                refuse_unsupported=refuse_unsupported,
            )
        )
    finally:
        await form.close()
    return JobOut.of(job)


@router.post(
    "",
    status_code=202,
    response_model=JobOut,
    dependencies=[Depends(require_admin_key)],
    openapi_extra={"requestBody": FORM_SCHEMA},
    summary="Queue a file for ingest (the fields of /index/upload); 202 with the job at once",
)
async def create_job(request: Request, runtime: RuntimeDep) -> JobOut:
    return await submit(request, runtime)


@router.get(
    "/{job_id}",
    response_model=JobOut,
    dependencies=[Depends(require_read_key)],
    summary="A job: status, progress (chunks done / total), document_id, error, attempts, timestamps",
)
async def get_job(job_id: JobId, runtime: RuntimeDep) -> JobOut:
    library = runtime.opened()
    return JobOut.of(await run_in_threadpool(library.jobs.get, job_id))


@router.get(
    "",
    response_model=JobPage,
    dependencies=[Depends(require_read_key)],
    summary="Jobs of the collection, newest first, optionally of one status (paged)",
)
async def list_jobs(
    runtime: RuntimeDep,
    status: Annotated[Status | None, Query(description="only jobs in this state")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> JobPage:
    library = runtime.opened()
    found = await run_in_threadpool(lambda: library.jobs.list_jobs(status, limit, offset))
    more = len(found) == limit
    return JobPage(
        jobs=[JobOut.of(j) for j in found],
        limit=limit,
        offset=offset,
        next_offset=offset + limit if more else None,
    )


@router.delete(
    "/{job_id}",
    response_model=JobOut,
    responses={202: {"model": JobOut, "description": "running: it stops at its next step"}, 409: {}},
    dependencies=[Depends(require_admin_key)],
    summary="Cancel a job: queued -> cancelled (200); running -> stops at its next step (202); finished -> 409",
)
async def cancel_job(job_id: JobId, runtime: RuntimeDep) -> JSONResponse:
    library = runtime.opened()
    job = await run_in_threadpool(library.jobs.cancel, job_id)
    return JSONResponse(JobOut.of(job).model_dump(), status_code=200 if job.finished else 202)
