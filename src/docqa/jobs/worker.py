"""A pool of job workers: `concurrency` threads claiming and running jobs, one heartbeat thread.

    pool = JobWorkers(lambda: db, runner, WorkerConfig(collection="default", concurrency=2))
    pool.start(); ...; pool.stop()      # stop: running jobs go back to the queue at their next step

Each thread claims the oldest runnable job (storage/jobs.claim), runs it and
ends it: `done`, `failed` for good when the runner says the input is at fault
(a file that does not parse fails the same way every time), or back to the
queue after an exception (a database or embedder error), with a growing delay,
until `max_attempts` is spent. The heartbeat extends the leases of running
jobs every `lease_s / 3`, writes their progress, picks up cancel requests,
and refreshes this pool's row in `job_workers`. A worker that dies stops
heartbeating: its jobs are claimed again once their lease expires. Idle
threads poll every `poll_s`; `wake()` (a submit in this process) skips the
wait, and on PostgreSQL so does a submit anywhere (LISTEN/NOTIFY).
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from docqa.errors import DocqaError
from docqa.jobs.control import JobControl, JobInterrupted, JobOutcome
from docqa.logging import get_logger, log_event
from docqa.storage import job_data, job_workers, jobs
from docqa.storage.db import Database
from docqa.storage.job_notify import JobNotifications
from docqa.storage.jobs import JobRecord

log = get_logger("docqa.jobs")

Runner = Callable[[JobRecord, IO[bytes], JobControl], JobOutcome]  # the job's bytes: a file at offset 0
Listener = Callable[[JobRecord, str, float], None]  # (job, final status, seconds it ran)
PURGE_EVERY_S = 60.0
MAX_RETRY_DELAY_S = 60.0
LISTEN_WAKE_S = 0.5  # a LISTEN wait returns at least this often to notice stop()
SPOOL_IN_MEMORY = 1 << 20  # a job's bytes are spooled to a temporary file beyond 1 MiB


@dataclass(frozen=True)
class WorkerConfig:
    collection: str
    concurrency: int = 1
    lease_s: float = 15.0
    poll_s: float = 0.25
    retry_delay_s: float = 1.0  # after a failed attempt, doubled each attempt
    retention_s: float = 7 * 86_400.0  # finished jobs are forgotten after this
    name: str = "worker"


class JobWorkers:
    def __init__(self, db: Callable[[], Database | None], run: Runner, config: WorkerConfig) -> None:
        self._db = db
        self._run = run
        self.config = config
        self.id = f"{socket.gethostname()}:{os.getpid()}:{config.name}:{uuid.uuid4().hex[:8]}"
        self.listeners: list[Listener] = []
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._running: dict[str, JobControl] = {}
        self._lock = threading.Lock()
        self.done = 0
        self.failed = 0
        self._purged_at = 0.0
        self._claim_error = ""

    # --- lifecycle -------------------------------------------------------------
    def start(self) -> None:
        if self._threads:
            return
        self._stopping.clear()
        for i in range(self.config.concurrency):
            t = threading.Thread(target=self._loop, name=f"docqa-job-{self.config.name}-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        beat = threading.Thread(target=self._heartbeat_loop, name=f"docqa-job-{self.config.name}-beat", daemon=True)
        beat.start()
        self._threads.append(beat)
        db = self._db()
        if db is not None and db.is_pg:
            listen = threading.Thread(target=self._listen_loop, args=(db,), name="docqa-job-listen", daemon=True)
            listen.start()
            self._threads.append(listen)
        log_event(log, "Job workers started", worker=self.id, concurrency=self.config.concurrency)

    def stop(self, timeout_s: float | None = None) -> None:
        """Stop claiming; running jobs return to the queue at their next step (or finish first)."""
        if not self._threads:
            return
        self._stopping.set()
        self._wake.set()
        deadline = time.monotonic() + (self.config.lease_s if timeout_s is None else timeout_s)
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self._threads = []
        db = self._db()
        if db is not None:
            try:
                with db.connection() as conn:
                    job_workers.leave(conn, self.id)
            except DocqaError:
                pass
        log_event(log, "Job workers stopped", worker=self.id, done=self.done, failed=self.failed)

    def wake(self) -> None:
        self._wake.set()

    @property
    def running(self) -> int:
        with self._lock:
            return len(self._running)

    def state(self) -> dict[str, object]:
        return {
            "id": self.id,
            "concurrency": self.config.concurrency,
            "running": self.running,
            "done": self.done,
            "failed": self.failed,
            "alive": bool(self._threads) and not self._stopping.is_set(),
        }

    # --- claiming ----------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stopping.is_set():
            db = self._db()
            if db is None:
                self._stopping.wait(self.config.poll_s)
                continue
            try:
                with db.connection() as conn:
                    job = jobs.claim(conn, self.config.collection, self.id, self.config.lease_s)
            except DocqaError as exc:
                if exc.message != self._claim_error:  # once per outage, not every second
                    log_event(log, "Job claim failed, retrying", logging.WARNING, error=exc.message)
                self._claim_error = exc.message
                self._stopping.wait(max(self.config.poll_s, 1.0))
                continue
            self._claim_error = ""
            if job is None:
                self._wake.wait(self.config.poll_s)
                self._wake.clear()
                continue
            try:
                self._execute(db, job)
            except Exception as exc:  # the job's end could not be recorded (the database went away): its lease
                # runs out and it is claimed again; this thread goes on
                log_event(log, "Job end not recorded", logging.WARNING, job_id=job.id, error=str(exc))
                self._stopping.wait(max(self.config.poll_s, 1.0))

    def _execute(self, db: Database, job: JobRecord) -> None:
        control = JobControl(job, self._stopping, lambda: self._cancel_requested(db, job.id))
        with self._lock:
            self._running[job.id] = control
        log_event(log, "Job started", job_id=job.id, file=job.filename, attempt=job.attempts, worker=self.id)
        start = time.perf_counter()
        status = "running"
        try:
            status = self._attempt(db, job, control)
        finally:
            with self._lock:
                self._running.pop(job.id, None)
            seconds = time.perf_counter() - start
            if status in jobs.FINISHED:
                with self._lock:
                    self.done += int(status == "done")
                    self.failed += int(status == "failed")
                for listener in self.listeners:
                    try:
                        listener(job, status, seconds)
                    except Exception:  # a metrics hook must never fail a job
                        log.debug("job listener failed", exc_info=True)
            log_event(log, "Job ended", job_id=job.id, status=status, seconds=round(seconds, 3), worker=self.id)

    def _attempt(self, db: Database, job: JobRecord, control: JobControl) -> str:
        """Run one attempt and record its end. Returns the job's status afterwards."""
        try:
            with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as data:
                with db.connection() as conn:
                    job_data.copy(conn, job.id, data)
                control.check()
                outcome = self._run(job, data, control)
        except JobInterrupted as exc:
            return self._interrupted(db, job, exc.reason, control)
        except Exception as exc:  # anything the attempt raised: retried until max_attempts, then the job's error
            message = exc.message if isinstance(exc, DocqaError) else f"{type(exc).__name__}: {exc}"
            code = exc.code if isinstance(exc, DocqaError) else "job_error"
            if job.attempts >= job.max_attempts:
                return self._end(db, job, control, "failed", error=message, error_code=code)
            delay = min(self.config.retry_delay_s * 2 ** (job.attempts - 1), MAX_RETRY_DELAY_S)
            log_event(
                log,
                "Job attempt failed, will retry",
                logging.WARNING,
                job_id=job.id,
                error=message,
                attempt=job.attempts,
                max_attempts=job.max_attempts,
                retry_in_s=delay,
            )
            with db.connection() as conn:
                jobs.retry_later(conn, job.id, self.id, message, delay)
            return "queued"
        return self._end(
            db,
            job,
            control,
            outcome.status,
            document_id=outcome.document_id,
            result=outcome.result,
            error=outcome.error,
            error_code=outcome.error_code,
        )

    def _interrupted(self, db: Database, job: JobRecord, reason: str, control: JobControl) -> str:
        if reason == "cancelled":
            return self._end(db, job, control, "cancelled", error="cancelled on request", error_code="cancelled")
        if reason == "stopping":  # not the job's fault: back to the queue, the attempt not counted
            with db.connection() as conn:
                jobs.retry_later(conn, job.id, self.id, "worker stopped; job returned to the queue", 0.0, False)
            return "queued"
        log_event(log, "Job lease lost: another worker runs it now", logging.WARNING, job_id=job.id)
        return "lost"

    def _end(self, db: Database, job: JobRecord, control: JobControl, status: str, **fields: Any) -> str:
        with db.connection() as conn:
            ours = jobs.finish(conn, job.id, self.id, status, progress=control.snapshot(), **fields)
        return status if ours else "lost"

    def _cancel_requested(self, db: Database, job_id: str) -> bool:
        with db.connection() as conn:
            return bool(conn.scalar("SELECT cancel_requested FROM jobs WHERE id = ?", (job_id,), default=1))

    def _listen_loop(self, db: Database) -> None:
        """PostgreSQL: wake the idle threads when a job is queued anywhere (polling stays the safety net)."""
        listener: JobNotifications | None = None
        while not self._stopping.is_set():
            try:
                listener = listener or JobNotifications(db.parsed.target)
                if listener.wait(self.config.collection, LISTEN_WAKE_S):
                    self._wake.set()
            except DocqaError:
                if listener is not None:
                    listener.close()
                listener = None
                self._stopping.wait(max(self.config.poll_s, 1.0))
        if listener is not None:
            listener.close()

    # --- heartbeat -----------------------------------------------------------------
    def _heartbeat_loop(self) -> None:
        interval = max(0.05, self.config.lease_s / 3)
        while True:
            self._beat()
            if self._stopping.is_set():
                if not self.running:
                    return
                time.sleep(interval)  # draining: keep the leases of jobs still finishing
            else:
                self._stopping.wait(interval)

    def _beat(self) -> None:
        db = self._db()
        if db is None:
            return
        with self._lock:
            running = list(self._running.items())
        try:
            with db.connection() as conn:
                for job_id, control in running:
                    done, total = control.snapshot()
                    ours, cancel = jobs.heartbeat(conn, job_id, self.id, self.config.lease_s, done, total)
                    control.lease_lost = control.lease_lost or not ours
                    control.cancel_requested = control.cancel_requested or cancel
                if not self._stopping.is_set():
                    job_workers.beat(
                        conn,
                        self.id,
                        self.config.collection,
                        socket.gethostname(),
                        os.getpid(),
                        self.config.concurrency,
                        len(running),
                        self.done,
                        self.failed,
                    )
                if time.monotonic() - self._purged_at > PURGE_EVERY_S:
                    self._purged_at = time.monotonic()
                    jobs.purge_finished(conn, self.config.retention_s)
        except DocqaError as exc:  # leases run out if this lasts: another worker will take the jobs over
            log_event(log, "Job heartbeat failed", logging.WARNING, error=exc.message, worker=self.id)
