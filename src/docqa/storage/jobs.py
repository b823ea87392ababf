"""The jobs table: ingest work any worker process can claim, lease, heartbeat and finish.

Every state change is one short statement or transaction, and every change a
worker makes after its claim is guarded by `lease_owner = <me>`: a worker whose
lease expired (it was killed, or stalled past the lease) and was replaced
changes nothing any more. Times come from the database's clock.

Claiming: PostgreSQL picks the oldest runnable job with `FOR UPDATE SKIP
LOCKED` (concurrent claimers never wait on each other nor take the same row);
SQLite claims inside a `BEGIN IMMEDIATE` transaction (one writer at a time).
A job is runnable when queued (and past its retry delay) or when it is running
under an expired lease. A job whose lease expired after its last allowed
attempt is failed instead (the worker died on it every time: a poison job).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import IO, Any

from docqa.errors import Conflict, NotFound
from docqa.storage.db import Connection, Row

STATUSES = ("queued", "running", "done", "failed", "cancelled")
FINISHED = ("done", "failed", "cancelled")
_COLUMNS = (
    "id, collection, status, filename, content_type, source, metadata, document_id, size_bytes, chunks_done, "
    "chunks_total, result_document_id, result, error, error_code, attempts, max_attempts, lease_owner, "
    "lease_expires_at, heartbeat_at, cancel_requested, created_at, started_at, finished_at, updated_at"
)
LOST = "the worker running it stopped answering (lease expired)"


def now_sql(conn: Connection) -> str:
    """The database clock in epoch seconds, as SQL."""
    if conn.is_pg:
        return "extract(epoch from clock_timestamp())::double precision"
    return "((julianday('now') - 2440587.5) * 86400.0)"


@dataclass
class NewJob:
    collection: str
    filename: str
    data: bytes | IO[bytes]  # a file: stored piece by piece from its current offset to its end (job_data.store)
    content_type: str = ""
    source: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    document_id: str | None = None
    max_attempts: int = 3


@dataclass
class JobRecord:
    id: str
    collection: str
    status: str
    filename: str
    content_type: str
    source: str
    metadata: dict[str, Any]
    document_id: str | None  # as asked by the submitter (None: the identity rule decides)
    size_bytes: int
    chunks_done: int
    chunks_total: int
    result_document_id: str | None
    result: dict[str, Any] | None  # the ingest outcome once done
    error: str | None
    error_code: str | None
    attempts: int
    max_attempts: int
    lease_owner: str | None
    lease_expires_at: float | None
    heartbeat_at: float | None
    cancel_requested: bool
    created_at: float
    started_at: float | None
    finished_at: float | None
    updated_at: float

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


def _record(row: Row) -> JobRecord:
    values = list(row)
    values[6] = json.loads(values[6] or "{}")
    values[12] = json.loads(values[12]) if values[12] else None
    values[20] = bool(values[20])
    return JobRecord(*values)


def submit(conn: Connection, job: NewJob) -> str:
    """Queue a job, its bytes with it (a file's in pieces: never the whole upload in this process's memory)."""
    from docqa.storage import job_data

    job_id = str(uuid.uuid4())
    now = now_sql(conn)
    inline = job.data if isinstance(job.data, bytes) else None
    with conn.transaction():
        conn.execute(
            f"""INSERT INTO jobs (id, collection, filename, content_type, source, metadata, document_id, data,
                size_bytes, max_attempts, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {now}, {now})""",
            (
                job_id,
                job.collection,
                job.filename,
                job.content_type,
                job.source,
                json.dumps(job.metadata, ensure_ascii=False, sort_keys=True),
                job.document_id,
                inline,
                len(inline) if inline is not None else 0,
                job.max_attempts,
            ),
        )
        if not isinstance(job.data, bytes):
            size = job_data.store(conn, job_id, job.data)
            conn.execute("UPDATE jobs SET size_bytes = ? WHERE id = ?", (size, job_id))
        if conn.is_pg:  # idle workers anywhere wake at the commit (storage/job_notify.py)
            conn.execute("SELECT pg_notify('docqa_jobs', ?)", (job.collection,))
    return job_id


def get(conn: Connection, job_id: str) -> JobRecord | None:
    row = conn.fetchone(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
    return _record(row) if row else None


def get_many(conn: Connection, ids: list[str], batch: int = 500) -> list[JobRecord]:
    out: list[JobRecord] = []
    for start in range(0, len(ids), batch):
        part = ids[start : start + batch]
        marks = ", ".join("?" * len(part))
        out.extend(_record(r) for r in conn.fetchall(f"SELECT {_COLUMNS} FROM jobs WHERE id IN ({marks})", part))
    return out


def list_jobs(
    conn: Connection, collection: str, status: str | None = None, limit: int = 100, offset: int = 0
) -> list[JobRecord]:
    where, params = "collection = ?", [collection]
    if status:
        where, params = where + " AND status = ?", [*params, status]
    rows = conn.fetchall(
        f"SELECT {_COLUMNS} FROM jobs WHERE {where} ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
        (*params, limit, offset),
    )
    return [_record(r) for r in rows]


def claim(conn: Connection, collection: str, owner: str, lease_s: float) -> JobRecord | None:
    """The oldest runnable job of `collection`, now running under `owner`'s lease (attempts + 1), or None.

    An idle poll is one read and takes no lock (SQLite's BEGIN IMMEDIATE would take the write lock)."""
    now = now_sql(conn)
    runnable = f"""collection = ? AND ((status = 'queued' AND run_after <= {now})
        OR (status = 'running' AND lease_expires_at < {now}))"""
    if conn.scalar(f"SELECT 1 FROM jobs WHERE {runnable} LIMIT 1", (collection,)) is None:
        return None
    reap_expired(conn, collection)  # its own statements: never holds the claim's row locks while it waits
    with conn.transaction():
        lock = " FOR UPDATE SKIP LOCKED" if conn.is_pg else ""
        job_id = conn.scalar(
            f"SELECT id FROM jobs WHERE {runnable} ORDER BY created_at, id LIMIT 1{lock}", (collection,)
        )
        if job_id is None:
            return None
        conn.execute(
            f"""UPDATE jobs SET status = 'running', lease_owner = ?, lease_expires_at = {now} + ?,
                heartbeat_at = {now}, attempts = attempts + 1, started_at = COALESCE(started_at, {now}),
                chunks_done = 0, updated_at = {now} WHERE id = ?""",
            (owner, lease_s, job_id),
        )
        return get(conn, job_id)


def reap_expired(conn: Connection, collection: str) -> int:
    """Jobs whose worker vanished on their last allowed attempt end `failed`; a cancelled one `cancelled`."""
    now = now_sql(conn)
    expired = f"collection = ? AND status = 'running' AND lease_expires_at < {now}"
    cancelled = conn.execute(
        f"""UPDATE jobs SET status = 'cancelled', data = NULL, lease_owner = NULL, finished_at = {now},
            updated_at = {now} WHERE {expired} AND cancel_requested <> 0""",
        (collection,),
    ).rowcount
    failed = conn.execute(
        f"""UPDATE jobs SET status = 'failed', data = NULL, lease_owner = NULL, finished_at = {now},
            updated_at = {now}, error_code = 'worker_lost',
            error = ? || ' on attempt ' || attempts || ' of ' || max_attempts
            WHERE {expired} AND attempts >= max_attempts""",
        (LOST, collection),
    ).rowcount
    return int(cancelled or 0) + int(failed or 0)


def heartbeat(conn: Connection, job_id: str, owner: str, lease_s: float, done: int, total: int) -> tuple[bool, bool]:
    """Extend the lease and record progress. Returns (still ours, cancel requested)."""
    now = now_sql(conn)
    conn.execute(
        f"""UPDATE jobs SET lease_expires_at = {now} + ?, heartbeat_at = {now}, chunks_done = ?, chunks_total = ?,
            updated_at = {now} WHERE id = ? AND lease_owner = ? AND status = 'running'""",
        (lease_s, done, total, job_id, owner),
    )
    row = conn.fetchone("SELECT lease_owner, status, cancel_requested FROM jobs WHERE id = ?", (job_id,))
    if row is None:
        return False, True
    return row[0] == owner and row[1] == "running", bool(row[2])


def finish(
    conn: Connection,
    job_id: str,
    owner: str,
    status: str,
    *,
    document_id: str | None = None,
    result: dict[str, Any] | None = None,
    error: str | None = None,
    error_code: str | None = None,
    progress: tuple[int, int] = (0, 0),
) -> bool:
    """End a job the caller holds (done | failed | cancelled) and clear its bytes. False when it is not ours.

    `progress`: the chunks done / total the runner last reported (a job may end before any heartbeat)."""
    now = now_sql(conn)
    done, total = progress
    cur = conn.execute(
        f"""UPDATE jobs SET status = ?, result_document_id = COALESCE(?, result_document_id), result = ?, error = ?,
            error_code = ?, data = NULL, lease_owner = NULL, lease_expires_at = NULL, chunks_done = ?,
            chunks_total = ?, finished_at = {now}, updated_at = {now}
            WHERE id = ? AND lease_owner = ? AND status = 'running'""",
        (
            status,
            document_id,
            json.dumps(result) if result is not None else None,
            error,
            error_code,
            total if status == "done" else done,
            total,
            job_id,
            owner,
        ),
    )
    return bool(cur.rowcount)


def retry_later(
    conn: Connection, job_id: str, owner: str, error: str, delay_s: float, count_attempt: bool = True
) -> bool:
    """Give a held job back to the queue, runnable after `delay_s` (`count_attempt` False: it was not its fault,
    e.g. the worker is shutting down)."""
    now = now_sql(conn)
    undo = "" if count_attempt else ", attempts = attempts - 1"
    cur = conn.execute(
        f"""UPDATE jobs SET status = 'queued', error = ?, lease_owner = NULL, lease_expires_at = NULL,
            run_after = {now} + ?, updated_at = {now}{undo}
            WHERE id = ? AND lease_owner = ? AND status = 'running'""",
        (error, delay_s, job_id, owner),
    )
    return bool(cur.rowcount)


def cancel(conn: Connection, collection: str, job_id: str) -> JobRecord:
    """Queued: cancelled at once. Running: asked to stop at its next step. Finished: Conflict."""
    now = now_sql(conn)
    with conn.transaction():
        # the row locked (PostgreSQL; SQLite's transaction is the only writer): no claim slips in between
        if conn.is_pg:
            conn.execute("SELECT id FROM jobs WHERE id = ? FOR UPDATE", (job_id,))
        job = get(conn, job_id)
        if job is None or job.collection != collection:
            raise NotFound(f"job {job_id} not found", job_id=job_id)
        if job.finished:
            raise Conflict(f"job {job_id} is already {job.status}: nothing to cancel", job_id=job_id, status=job.status)
        if job.status == "queued":
            conn.execute(
                f"""UPDATE jobs SET status = 'cancelled', cancel_requested = 1, data = NULL, finished_at = {now},
                    updated_at = {now} WHERE id = ?""",
                (job_id,),
            )
        else:
            conn.execute(f"UPDATE jobs SET cancel_requested = 1, updated_at = {now} WHERE id = ?", (job_id,))
        found = get(conn, job_id)
        assert found is not None
        return found


def purge_finished(conn: Connection, older_than_s: float) -> int:
    """Forget finished jobs after the retention period."""
    cur = conn.execute(
        f"DELETE FROM jobs WHERE status IN ('done','failed','cancelled') AND finished_at < {now_sql(conn)} - ?",
        (older_than_s,),
    )
    return int(cur.rowcount or 0)


def counts(conn: Connection, collection: str) -> dict[str, int]:
    """Jobs by status (every status present, 0 when none)."""
    rows = conn.fetchall("SELECT status, COUNT(*) FROM jobs WHERE collection = ? GROUP BY status", (collection,))
    found = {str(s): int(n) for s, n in rows}
    return {s: found.get(s, 0) for s in STATUSES}


def oldest_queued_age(conn: Connection, collection: str) -> float:
    value = conn.scalar(
        f"SELECT {now_sql(conn)} - MIN(created_at) FROM jobs WHERE collection = ? AND status = 'queued'",
        (collection,),
        default=0.0,
    )
    return max(0.0, float(value))


def now(conn: Connection) -> float:
    return float(conn.scalar(f"SELECT {now_sql(conn)}"))
