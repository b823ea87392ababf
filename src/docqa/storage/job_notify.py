"""PostgreSQL: wake idle job workers the moment a job is queued (LISTEN/NOTIFY), wherever they run.

`storage.jobs.submit` sends `pg_notify('docqa_jobs', collection)` in the
submit's transaction (delivered at commit); a pool's listener thread waits on
a dedicated autocommit connection and wakes the pool. Polling stays as the
safety net (a lost connection, a notification sent while reconnecting);
SQLite has only polling.
"""

from __future__ import annotations

from docqa.errors import DatabaseUnavailable

CHANNEL = "docqa_jobs"


class JobNotifications:
    def __init__(self, dsn: str) -> None:
        import psycopg

        try:
            self.conn = psycopg.connect(dsn, autocommit=True, connect_timeout=5)
            self.conn.execute(f"LISTEN {CHANNEL}")
        except psycopg.Error as exc:
            raise DatabaseUnavailable(f"cannot LISTEN on {CHANNEL}: {str(exc).strip().splitlines()[0]}") from exc

    def wait(self, collection: str, timeout: float) -> bool:
        """True when a job of `collection` was queued within `timeout` seconds."""
        import psycopg

        try:
            return any(n.payload == collection for n in self.conn.notifies(timeout=timeout, stop_after=1))
        except psycopg.Error as exc:
            raise DatabaseUnavailable(f"job listener lost its connection: {exc}") from exc

    def close(self) -> None:
        try:
            self.conn.close()
        except Exception:  # closing a dead connection may fail; nothing to do
            pass
