"""PostgreSQL: wake idle job workers the moment a job is queued (LISTEN/NOTIFY), wherever they run.

`storage.jobs.submit` sends `pg_notify('docqa_jobs', collection)` in the
submit's transaction (delivered at commit); a pool's listener thread waits on
a dedicated autocommit connection and wakes the pool. Polling stays as the
safety net (a lost connection, a notification sent while reconnecting);
SQLite has only polling.
"""

from __future__ import annotations

from docqa.storage.listen import PgListener

CHANNEL = "docqa_jobs"


class JobNotifications:
    def __init__(self, dsn: str) -> None:
        self.listener = PgListener(dsn, CHANNEL, "job listener")

    def wait(self, collection: str, timeout: float) -> bool:
        """True when a job of `collection` was queued within `timeout` seconds."""
        return collection in self.listener.payloads(timeout)

    def close(self) -> None:
        self.listener.close()
