"""The library's jobs: submit an upload as a job, follow it, cancel it, see the queue.

    job = docqa.jobs.submit(data, "a.pdf")            # queued; any worker on this database runs it
    job = docqa.jobs.wait(job.id, timeout_s=10)       # its state after at most 10 s
    docqa.jobs.cancel(job.id)

The bytes are stored with the job (storage/jobs.py) until it ends, so a worker
on another machine can run it. Workers: `Runtime` starts `job_workers` of them
in a service; `docqa worker` runs a pool on its own (`pool()`).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from docqa.errors import InvalidInput, NotFound, PayloadTooLarge
from docqa.ingest.batch import discover
from docqa.ingest.pipeline import check_supported
from docqa.jobs import JobWorkers
from docqa.limits import MIN_SEQ_WAIT_S
from docqa.storage import job_workers, jobs
from docqa.storage.jobs import STATUSES, JobRecord, NewJob

if TYPE_CHECKING:
    from docqa.app.library import Docqa

MAX_PAGE = 1000
SNIFF_HEAD = 64 * 1024  # bytes of a file the type sniffer sees (a zip: all of it)
WAIT_POLL_S = 0.1


@dataclass
class QueueStats:
    """The queue as the database has it: jobs by status, the oldest queued job's age, workers seen."""

    counts: dict[str, int]
    oldest_queued_s: float
    workers: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _remaining(file: IO[bytes]) -> int:
    at = file.tell()
    size = file.seek(0, os.SEEK_END) - at
    file.seek(at)
    return size


def _sniffable(data: bytes | IO[bytes]) -> bytes:
    """What the type sniffer needs: the head, or the whole file for a zip (docx: its directory is at the end)."""
    if isinstance(data, bytes):
        return data
    at = data.tell()
    head = data.read(SNIFF_HEAD)
    if head.startswith(b"PK"):
        data.seek(at)
        head = data.read()
    data.seek(at)
    return head


class JobQueue:
    def __init__(self, library: Docqa) -> None:
        self.library = library
        self.settings = library.settings
        self.collection = library.collection
        self._finished = threading.Condition()  # notified when a worker of this process ends a job
        self.pools: list[JobWorkers] = []

    # --- submitting -------------------------------------------------------------
    def submit(
        self,
        data: bytes | IO[bytes],
        filename: str,
        *,
        source: str = "",
        document_id: str | None = None,
        content_type_hint: str | None = None,
        metadata: dict[str, Any] | None = None,
        refuse_unsupported: bool = False,
    ) -> JobRecord:
        """Queue one file: its bytes, or a seekable binary file (e.g. a spooled upload) read from its offset
        and stored piece by piece. `refuse_unsupported`: content of no supported type is refused now (415)."""
        size = len(data) if isinstance(data, bytes) else _remaining(data)
        limit = self.settings.max_upload_bytes
        if size > limit:
            raise PayloadTooLarge(f"{filename}: {size} bytes exceeds the limit of {limit}", limit=limit, size=size)
        if refuse_unsupported:
            check_supported(_sniffable(data), filename, content_type_hint)
        job = NewJob(
            collection=self.collection,
            filename=filename,
            data=data,
            content_type=content_type_hint or "",
            source=source,
            metadata=dict(metadata or {}),
            document_id=document_id,
            max_attempts=self.settings.job_max_attempts,
        )
        with self.library.writing(), self.library.db.connection() as conn:  # a full disk: health's writes_failing
            job_id = jobs.submit(conn, job)
            record = jobs.get(conn, job_id)
        for pool in self.pools:
            pool.wake()
        assert record is not None
        return record

    def submit_paths(
        self,
        paths: Iterable[Path],
        *,
        recursive: bool = False,
        pattern: str | None = None,
        exclude: Iterable[str] = (),
        metadata: dict[str, Any] | None = None,
    ) -> tuple[list[JobRecord], list[str]]:
        """Queue every file found (as `docqa ingest` finds them; the path is the source). Returns (jobs, skipped)."""
        files, skipped = discover(paths, recursive, pattern, exclude)
        out = []
        for file in files:
            if file.stat().st_size > self.settings.max_upload_bytes:
                skipped.append(f"{file} (over the {self.settings.max_upload_bytes}-byte limit)")
                continue
            with file.open("rb") as handle:  # stored piece by piece, like an upload
                out.append(self.submit(handle, file.name, source=str(file), metadata=metadata))
        return out, skipped

    # --- following --------------------------------------------------------------
    def get(self, job_id: str) -> JobRecord:
        with self.library.db.connection() as conn:
            job = jobs.get(conn, job_id)
        if job is None or job.collection != self.collection:
            raise NotFound(f"job {job_id} not found", job_id=job_id)
        return job

    def get_many(self, ids: list[str]) -> list[JobRecord]:
        """Jobs by id, in that order (ids not found left out)."""
        with self.library.db.connection() as conn:
            found = {j.id: j for j in jobs.get_many(conn, ids)}
        return [found[i] for i in ids if i in found and found[i].collection == self.collection]

    def list_jobs(self, status: str | None = None, limit: int = 100, offset: int = 0) -> list[JobRecord]:
        if status is not None and status not in STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(STATUSES)}, not {status!r}", field="status")
        if not 1 <= limit <= MAX_PAGE or offset < 0:
            raise InvalidInput(f"limit must be 1..{MAX_PAGE} and offset >= 0", field="limit")
        with self.library.db.connection() as conn:
            return jobs.list_jobs(conn, self.collection, status, limit, offset)

    def wait(self, job_id: str, timeout_s: float) -> JobRecord:
        """The job once it is finished, or as it stands after `timeout_s` (woken at once by this process's
        workers, else it looks every WAIT_POLL_S)."""
        deadline = time.monotonic() + timeout_s
        while True:
            job = self.get(job_id)
            left = deadline - time.monotonic()
            if job.finished or left <= 0:
                return job
            with self._finished:
                self._finished.wait(min(WAIT_POLL_S, left))

    def cancel(self, job_id: str) -> JobRecord:
        """Queued: cancelled now. Running: stops at its next step (the returned job says cancel_requested).
        Finished: Conflict (409)."""
        with self.library.db.connection() as conn:
            return jobs.cancel(conn, self.collection, job_id)

    def caught_up(self, job: JobRecord) -> None:
        """Read-your-writes after a job done elsewhere: this process's index has applied its change."""
        seq = int((job.result or {}).get("seq") or 0)
        if seq:
            self.library.wait_applied(seq, MIN_SEQ_WAIT_S)

    # --- the queue --------------------------------------------------------------
    def stats(self) -> QueueStats:
        window = 3 * self.settings.job_lease_s  # a worker heartbeats every lease/3: three missed, it is gone
        with self.library.read_db.connection() as conn:  # reads only: a standby answers while the primary is away
            counts = jobs.counts(conn, self.collection)
            oldest = jobs.oldest_queued_age(conn, self.collection)
            seen = job_workers.seen(conn, self.collection, window)
        return QueueStats(counts, round(oldest, 3), [asdict(w) for w in seen])

    def pool(self, concurrency: int, name: str = "worker", catch_up: bool = False) -> JobWorkers:
        """A worker pool for this collection (not started); a submit in this process wakes it.
        `catch_up`: the pool runs inside a service: each write is applied to its index before the job ends."""
        from docqa.app.job_runner import worker_pool

        pool = worker_pool(self.settings, self.library, concurrency, name, catch_up)
        pool.listeners.append(self._notify)
        self.pools.append(pool)
        return pool

    def _notify(self, job: JobRecord, status: str, seconds: float) -> None:
        with self._finished:
            self._finished.notify_all()
