"""`POST /api/v1/index/upload`: a file in, as a job, answered like before when the job is quick.

The upload is queued as a job (routes_jobs.submit: the same form, limits and
checks) and the request waits up to `upload_wait_s` for it. Done in time: the
body this route always answered (document_id, status, chunks, seq, ...), after
this replica's index applied the write, so a search right after finds it. Not
done in time: 202 with the job, to follow at `GET /api/v1/jobs/{job_id}`.
Unsupported content is a 415 before anything is queued; a file that is
supported but unreadable (a broken PDF) is recorded as `failed` with its
reason and answered 422.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from docqa.api.deps import RuntimeDep
from docqa.api.routes_jobs import submit
from docqa.api.schemas import ERROR_RESPONSES, UploadResponse
from docqa.api.schemas_jobs import JobOut
from docqa.api.security import require_admin_key
from docqa.api.upload_form import FORM_OVERHEAD, FORM_SCHEMA
from docqa.errors import Conflict, ParseError, PayloadTooLarge
from docqa.logging import get_logger, log_event

log = get_logger("docqa.api.upload")

router = APIRouter(prefix="/api/v1/index", tags=["index"], responses=ERROR_RESPONSES)

__all__ = ["FORM_OVERHEAD", "router"]


@router.post(
    "/upload",
    response_model=UploadResponse,
    responses={202: {"model": JobOut, "description": "not done within upload_wait_s: follow the job"}},
    dependencies=[Depends(require_admin_key)],
    openapi_extra={"requestBody": FORM_SCHEMA},
    summary="Upload a file and index it (waits up to upload_wait_s, else 202 with the job)",
)
async def upload(request: Request, runtime: RuntimeDep) -> UploadResponse | JSONResponse:
    start = time.perf_counter()
    submitted = await submit(request, runtime)
    library = runtime.opened()
    job = await run_in_threadpool(library.jobs.wait, submitted.job_id, runtime.settings.upload_wait_s)
    filename = job.filename
    if not job.finished:
        log_event(log, "Upload queued", file=filename, job_id=job.id, status=job.status)
        return JSONResponse(JobOut.of(job).model_dump(), status_code=202)
    result = job.result or {}
    document_id = job.result_document_id or ""
    if job.status == "cancelled":
        raise Conflict(f"{filename}: the upload's job {job.id} was cancelled", job_id=job.id, status=job.status)
    if job.status == "failed":
        error = job.error or "ingest failed"
        log_event(log, "Upload failed", file=filename, document_id=document_id, error=error, job_id=job.id)
        refused = PayloadTooLarge if job.error_code == PayloadTooLarge.code else ParseError  # a limit: 413
        raise refused(
            error if filename in error else f"{filename}: {error}",
            document_id=document_id or None,
            filename=filename,
            status="failed",
            job_id=job.id,
        )
    await run_in_threadpool(library.jobs.caught_up, job)  # read-your-writes, whichever worker ran it
    ms = round((time.perf_counter() - start) * 1000, 2)
    log_event(
        log,
        "Upload indexed",
        file=filename,
        document_id=document_id,
        status=result.get("status"),
        chunks=result.get("chunks"),
        processing_time_ms=ms,
        job_id=job.id,
    )
    return UploadResponse(
        document_id=document_id,
        filename=str(result.get("filename") or filename),
        status=str(result.get("status", "")),
        chunks=int(result.get("chunks") or 0),
        embedded=int(result.get("embedded") or 0),
        seq=int(result.get("seq") or 0),
        processing_time_ms=ms,
    )
