"""What a running job sees of its worker: whether to stop, and where to report progress.

The runner calls `check()` between its steps (between batches, once ingest
streams): it raises `JobInterrupted` when the job was cancelled, when its
lease went to another worker, or when this worker is shutting down. Nothing is
written after an interruption, and a document is written in one transaction,
so an interrupted job leaves nothing half-written.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from docqa.storage.jobs import JobRecord


class JobInterrupted(Exception):
    def __init__(self, reason: str) -> None:  # cancelled | stopping | lease_lost
        super().__init__(reason)
        self.reason = reason


@dataclass
class JobOutcome:
    """What the runner made of a job: `done` (document_id, result) or `failed` for good (the input's fault)."""

    status: str
    document_id: str | None = None
    result: dict[str, object] | None = None
    error: str | None = None
    error_code: str | None = None


class JobControl:
    def __init__(self, job: JobRecord, stopping: threading.Event, read_cancel: Callable[[], bool]) -> None:
        self.job = job
        self._stopping = stopping
        self._read_cancel = read_cancel
        self.cancel_requested = job.cancel_requested
        self.lease_lost = False
        self.done = 0
        self.total = 0
        self._lock = threading.Lock()

    def progress(self, done: int, total: int) -> None:
        """Chunks done of total; written to the job by the next heartbeat."""
        with self._lock:
            self.done, self.total = done, total

    def snapshot(self) -> tuple[int, int]:
        with self._lock:
            return self.done, self.total

    def reason(self) -> str:
        if self.lease_lost:
            return "lease_lost"
        if self.cancel_requested:
            return "cancelled"
        if self._stopping.is_set():
            return "stopping"
        try:  # read at every check (one primary-key lookup): the check before the write must be current
            self.cancel_requested = self._read_cancel()
        except Exception:  # the database is away: the write would fail too; the heartbeat tells the lease
            pass
        return "cancelled" if self.cancel_requested else ""

    def cancelled(self) -> bool:
        """The hook for a pipeline that takes `cancel: Callable[[], bool]`: True when it should stop."""
        return bool(self.reason())

    def check(self) -> None:
        reason = self.reason()
        if reason:
            raise JobInterrupted(reason)
