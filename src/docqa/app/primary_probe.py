"""With a standby to read from, is the primary still there to write to?

A replica whose index follows a hot standby keeps answering searches when the primary goes down;
its writes then answer 503. Health should say so before the first write fails (`writes_failing`,
still ready: the load balancer keeps sending it searches), and stop saying so once the primary is
back. One daemon thread asks the primary every PROBE_INTERVAL_S whether it takes writes: it is
reachable and not itself in recovery (a primary demoted to a standby refuses writes too).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from docqa.errors import DatabaseUnavailable
from docqa.logging import get_logger, log_event
from docqa.storage.db import Database

log = get_logger("docqa.primary_probe")

PROBE_INTERVAL_S = 1.0


def probe(db: Database) -> str:
    """Why `db` cannot take writes now, "" when it can."""
    try:
        with db.connection() as conn:
            if conn.scalar("SELECT pg_is_in_recovery()"):
                return "the primary database is in recovery (a standby): it takes no writes"
    except DatabaseUnavailable as exc:
        return f"primary {exc.message}"
    return ""


class PrimaryProbe:
    def __init__(self, db: Database, report: Callable[[str], None], interval_s: float = PROBE_INTERVAL_S) -> None:
        self._db, self._report, self._interval_s = db, report, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="docqa-primary-probe", daemon=True)
        self._last = ""

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            reason = probe(self._db)
            if reason != self._last:
                level = logging.WARNING if reason else logging.INFO
                event = "Primary database takes no writes" if reason else "Primary database takes writes again"
                log_event(log, event, level, reason=reason)
                self._last = reason
            self._report(reason)
            self._stop.wait(self._interval_s)
