"""Workers seen: one row per worker pool (a `docqa worker` process, or a service's in-process workers).

Each pool refreshes its row while it runs, idle or not; `seen` reports those
refreshed within a window (a few heartbeats), so a SIGKILLed worker drops out
of /health and /metrics on its own. Rows left by dead workers are deleted
after a day.
"""

from __future__ import annotations

from dataclasses import dataclass

from docqa.storage.db import Connection
from docqa.storage.jobs import now_sql

FORGET_AFTER_S = 86_400.0


@dataclass(frozen=True)
class WorkerSeen:
    id: str
    host: str
    pid: int
    concurrency: int
    running: int
    jobs_done: int
    jobs_failed: int
    started_at: float
    last_seen_s_ago: float


def beat(
    conn: Connection,
    worker_id: str,
    collection: str,
    host: str,
    pid: int,
    concurrency: int,
    running: int,
    done: int,
    failed: int,
) -> None:
    now = now_sql(conn)
    conn.execute(f"DELETE FROM job_workers WHERE last_seen < {now} - ?", (FORGET_AFTER_S,))
    conn.execute(
        f"""INSERT INTO job_workers (id, collection, host, pid, concurrency, running, jobs_done, jobs_failed,
            started_at, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, {now}, {now})
            ON CONFLICT (id) DO UPDATE SET running = excluded.running, jobs_done = excluded.jobs_done,
            jobs_failed = excluded.jobs_failed, last_seen = excluded.last_seen""",
        (worker_id, collection, host, pid, concurrency, running, done, failed),
    )


def leave(conn: Connection, worker_id: str) -> None:
    conn.execute("DELETE FROM job_workers WHERE id = ?", (worker_id,))


def seen(conn: Connection, collection: str, within_s: float) -> list[WorkerSeen]:
    now = now_sql(conn)
    rows = conn.fetchall(
        f"""SELECT id, host, pid, concurrency, running, jobs_done, jobs_failed, started_at, {now} - last_seen
            FROM job_workers WHERE collection = ? AND last_seen >= {now} - ? ORDER BY started_at, id""",
        (collection, within_s),
    )
    return [
        WorkerSeen(
            str(r[0]),
            str(r[1]),
            int(r[2]),
            int(r[3]),
            int(r[4]),
            int(r[5]),
            int(r[6]),
            float(r[7]),
            round(max(0.0, float(r[8])), 3),
        )
        for r in rows
    ]
