"""Ingest jobs over HTTP, with the methods of the library's `Docqa.jobs` (docqa.app.jobs.JobQueue):
submit, get, list_jobs, wait, cancel — the same JobRecord back, times in epoch seconds."""

from __future__ import annotations

import time
from datetime import datetime
from typing import IO, Any

from docqa.app import JobRecord
from docqa.client import convert
from docqa.client.convert import path_id
from docqa.client.transport import Transport

POLL_S = (0.1, 1.0)  # first and longest wait between two polls of a job being followed


def _epoch(text: str | None) -> float | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() if text else None


def job_record(body: dict[str, Any]) -> JobRecord:
    """A JobRecord from `GET /api/v1/jobs/{id}` (what the service does not send: metadata, the heartbeat)."""
    finished = body["status"] in ("done", "failed", "cancelled")
    return JobRecord(
        id=body["job_id"],
        collection=body["collection"],
        status=body["status"],
        filename=body["filename"],
        content_type=body["content_type"],
        source=body["source"],
        metadata={},
        document_id=body["document_id"],
        size_bytes=int(body["size_bytes"]),
        chunks_done=int(body["progress"]["chunks_done"]),
        chunks_total=int(body["progress"]["chunks_total"]),
        result_document_id=body["document_id"] if finished and body["status"] == "done" else None,
        result=body["result"],
        error=body["error"],
        error_code=body["error_code"],
        attempts=int(body["attempts"]),
        max_attempts=int(body["max_attempts"]),
        lease_owner=body["worker"],
        lease_expires_at=_epoch(body["lease_expires_at"]),
        heartbeat_at=None,
        cancel_requested=bool(body["cancel_requested"]),
        created_at=_epoch(body["created_at"]) or 0.0,
        started_at=_epoch(body["started_at"]),
        finished_at=_epoch(body["finished_at"]),
        updated_at=_epoch(body["updated_at"]) or 0.0,
    )


class RemoteJobs:
    def __init__(self, http: Transport) -> None:
        self._http = http

    def submit(
        self,
        data: bytes | IO[bytes],
        filename: str,
        *,
        source: str = "",
        document_id: str | None = None,
        content_type_hint: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> JobRecord:
        """POST /api/v1/jobs: queued at once (202); a worker of the service, or `docqa worker`, runs it."""
        form = convert.upload_form(data, filename, source, document_id, content_type_hint, metadata)
        return job_record(self._http.request("POST", "/api/v1/jobs", **form))

    def get(self, job_id: str) -> JobRecord:
        return job_record(self._http.request("GET", f"/api/v1/jobs/{path_id(job_id)}"))

    def list_jobs(self, status: str | None = None, limit: int = 100, offset: int = 0) -> list[JobRecord]:
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if status is not None:
            params["status"] = status
        return [job_record(j) for j in self._http.request("GET", "/api/v1/jobs", params=params)["jobs"]]

    def wait(self, job_id: str, timeout_s: float) -> JobRecord:
        """The job once finished, or as it stands after `timeout_s` (polled, backing off to once a second)."""
        deadline, pause = time.monotonic() + timeout_s, POLL_S[0]
        while True:
            job = self.get(job_id)
            left = deadline - time.monotonic()
            if job.finished or left <= 0:
                return job
            time.sleep(min(pause, left))
            pause = min(pause * 2, POLL_S[1])

    def cancel(self, job_id: str) -> JobRecord:
        """Queued: cancelled now. Running: stops at its next batch (cancel_requested). Finished: Conflict."""
        return job_record(self._http.request("DELETE", f"/api/v1/jobs/{path_id(job_id)}"))
