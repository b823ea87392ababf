"""Background live sync: follow the change log, verify periodically, recover when degraded.

One thread per running service. While healthy it waits for changes —
LISTEN/NOTIFY on PostgreSQL (the change-log triggers `pg_notify('docqa_changes')`
on commit), polling every `poll_interval_s` on SQLite and on a PostgreSQL hot standby (`read_database_url`:
LISTEN is refused during recovery) — and applies them with
`engine.sync("catch_up")`, so rows written by this process, another replica
or plain SQL become searchable without a restart. Periodically (every
`verify_interval_s`, or by default as often as 5% of a core allows: see `verify_interval`)
it runs a full `sync("auto")` (count + content digest, repair by id; every
`deep_verify_interval_s` also re-hashing the index's own vectors), compacts
the change log and refreshes PostgreSQL's planner statistics when a restore or
a bulk ingest left them missing or stale. When the database cannot be opened or a sync reports
`degraded`, it retries with exponential backoff until the service is healthy.

The worker never decides what is in the index: the engine does. It only
decides *when* to ask.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from docqa.config import Settings
from docqa.errors import DatabaseUnavailable
from docqa.logging import get_logger, log_event
from docqa.storage import changes, planner_stats
from docqa.storage.db import Database
from docqa.storage.listen import PgListener
from docqa.sync.engine import SyncEngine

log = get_logger("docqa.sync.worker")

CHANNEL = "docqa_changes"
LISTEN_WAKE_S = 0.25  # a LISTEN wait wakes at least this often to notice stop() and run a safety check


class _Waiter(Protocol):
    def wait(self, timeout: float) -> None: ...

    def close(self) -> None: ...


class _Poll:
    """SQLite (or PostgreSQL without a listener): just sleep until the next poll."""

    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop

    def wait(self, timeout: float) -> None:
        self._stop.wait(timeout)

    def close(self) -> None:
        pass


class _PgListener:
    """A dedicated autocommit connection LISTENing on the change channel."""

    def __init__(self, dsn: str) -> None:
        self.listener = PgListener(dsn, CHANNEL, "change listener")

    def wait(self, timeout: float) -> None:
        self.listener.payloads(timeout)

    def close(self) -> None:
        self.listener.close()


def verify_interval(settings: Settings, last_cost_s: float | None) -> float:
    """Seconds between full verifications: the setting when given, else derived from what one costs.

    Adaptive (`verify_interval_s = 0`): spend at most `verify_budget` of one core on proving the
    index, and never wait longer than `verify_max_interval_s` or less than `verify_min_interval_s`.
    PostgreSQL's digest is one aggregate (~0.1 s at 100k rows), so drift is found within seconds;
    SQLite hashes the stream in Python (~2 s at 1M), so it verifies less often there."""
    if settings.verify_interval_s > 0:
        return settings.verify_interval_s
    if last_cost_s is None:
        return settings.verify_min_interval_s
    wanted = last_cost_s / settings.verify_budget
    return min(settings.verify_max_interval_s, max(settings.verify_min_interval_s, wanted))


def is_healthy(engine: SyncEngine) -> bool:
    last = engine.last_report
    return engine.ready and last is not None and last.status != "degraded"


class SyncWorker:
    """Runs in one daemon thread; `stop()` ends it within about a quarter of a second."""

    def __init__(
        self,
        settings: Settings,
        get_engine: Callable[[], SyncEngine | None],
        get_primary: Callable[[], Database | None] | None = None,
    ) -> None:
        self.settings = settings
        self._get_engine = get_engine
        # the database upkeep writes to (compaction, ANALYZE): the primary when the engine follows a standby
        self._get_primary = get_primary or (lambda: None)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._last_verify = time.monotonic()
        self._last_deep = time.monotonic()
        self.retries = 0
        self.verify_every_s = verify_interval(settings, None)
        self.next_retry_in_s: float | None = None
        listens = settings.resolved_database_url.startswith("postgres") and not settings.read_database_url
        self.notifications = "listen" if listens else "poll"

    # --- lifecycle ---------------------------------------------------------
    def start(self) -> None:
        """Idempotent and thread-safe; does nothing once stopped."""
        with self._start_lock:
            if self._thread is not None or self._stop.is_set():
                return
            self._last_verify = time.monotonic()
            self._thread = threading.Thread(target=self._run, name="docqa-sync-worker", daemon=True)
            self._thread.start()
        log_event(
            log,
            "Background index sync started",
            mode=self.notifications,
            poll_interval_s=self.settings.poll_interval_s,
            verify_interval_s=self.settings.verify_interval_s or "adaptive",
        )

    def stop(self, timeout_s: float = 10.0) -> None:
        with self._start_lock:
            self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log_event(log, "Background index sync did not stop in time", logging.WARNING, timeout_s=timeout_s)
            self._thread = None
        engine = self._get_engine()
        if engine is not None:
            engine.background_saves = False  # nobody saves in the background any more: syncs save inline again

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def state(self) -> dict[str, Any]:
        return {
            "running": self.running,
            "notifications": self.notifications,
            "retries": self.retries,
            "next_retry_in_s": self.next_retry_in_s,
            "verify_every_s": round(self.verify_every_s, 3),
        }

    # --- the loop ----------------------------------------------------------
    def _run(self) -> None:
        backoff = self.settings.retry_initial_s
        while not self._stop.is_set():
            try:
                engine = self._get_engine()
                if engine is None or not is_healthy(engine):
                    if not self._recover(engine, backoff):
                        backoff = min(backoff * 2, self.settings.retry_max_s)
                        continue
                    engine = self._get_engine()
                assert engine is not None
                if self.retries:
                    self._recovered(engine)
                backoff = self.settings.retry_initial_s
                engine.background_saves = True  # snapshots are saved here (save_due), not on callers' threads
                self._follow(engine)
                if self._verify_due() and not self._stop.is_set():
                    self._verify(engine)
                    engine.save_due()
            except Exception:  # the loop must survive anything; the engine reports the details
                log.exception("background index sync iteration failed")
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.settings.retry_max_s)

    def _recover(self, engine: SyncEngine | None, backoff: float) -> bool:
        """One recovery attempt; on failure wait `backoff` seconds. True once healthy."""
        reason = "database unavailable"
        if engine is not None:
            engine.db.close()  # drop idle pooled connections: after an outage they are all dead
            report = engine.sync("auto")
            if report.status != "degraded":
                self._last_verify = time.monotonic()
                return True
            reason = report.reason
        self.retries += 1
        self.next_retry_in_s = backoff
        log_event(
            log,
            f"Service degraded, retrying index sync in {backoff:.2f}s",
            logging.WARNING,
            reason=reason,
            retries=self.retries,
        )
        self._stop.wait(backoff)
        return False

    def _recovered(self, engine: SyncEngine) -> None:
        log_event(log, "Index sync recovered, service is healthy", retries=self.retries, vectors=len(engine))
        self.retries, self.next_retry_in_s = 0, None

    def _verify_due(self) -> bool:
        return time.monotonic() - self._last_verify >= self.verify_every_s

    def _verify(self, engine: SyncEngine) -> None:
        every = self.settings.deep_verify_interval_s
        deep = every > 0 and time.monotonic() - self._last_deep >= every
        started = time.monotonic()
        report = engine.sync("auto", deep=deep)
        self._last_verify = time.monotonic()
        if not deep and report.status in ("in_sync", "caught_up"):
            # what a plain proof costs; a repair or rebuild (or a deep check) says nothing about the next one
            self.verify_every_s = verify_interval(self.settings, self._last_verify - started)
        if deep and report.status != "degraded":
            self._last_deep = self._last_verify
        if report.status == "degraded":
            return
        primary = self._get_primary() or engine.db
        try:
            with primary.connection() as conn:
                changes.compact(conn, self.settings.change_log_retention)
        except DatabaseUnavailable as exc:
            log_event(log, "Change log compaction skipped", logging.WARNING, reason=exc.message)
        engine.hashes.store()  # SQLite: a backlog of row hashes a sync computed (docqa.sync.hash_cache)
        self._refresh_statistics(primary)

    def _refresh_statistics(self, db: Database) -> None:
        """ANALYZE the tables whose planner statistics are missing (a restore) or stale (a bulk ingest),
        here in the background rather than on the start-up path (docqa.storage.planner_stats)."""
        if not db.is_pg:
            return  # SQLite's planner needs none for docqa's statements (and never has them unless asked)
        started = time.monotonic()
        try:
            with db.connection() as conn:
                analysed = planner_stats.refresh(conn)
        except Exception as exc:  # a standby or a role that may not ANALYZE: the next round tries again
            log_event(log, "Planner statistics not refreshed", logging.WARNING, reason=str(exc).splitlines()[0])
            return
        if analysed:
            ms = round((time.monotonic() - started) * 1000, 1)
            log_event(log, "Planner statistics refreshed", tables=analysed, duration_ms=ms)

    def _follow(self, engine: SyncEngine) -> None:
        """Apply changes as they arrive until a sync degrades, a verify is due, or stop()."""
        waiter: _Waiter | None = None
        try:
            while not self._stop.is_set() and not self._verify_due():
                if waiter is None:
                    waiter = self._new_waiter(engine)
                try:
                    waiter.wait(self._wait_s(waiter))
                except DatabaseUnavailable as exc:
                    log_event(log, "Change listener interrupted", logging.WARNING, reason=exc.message)
                    waiter.close()
                    waiter = None
                if self._stop.is_set():
                    return
                if not self._apply_changes(engine):
                    return
                engine.save_due()
        finally:
            if waiter is not None:
                waiter.close()

    def _new_waiter(self, engine: SyncEngine) -> _Waiter:
        if self.notifications == "poll" or not engine.db.is_pg:
            return _Poll(self._stop)
        try:
            return _PgListener(engine.db.parsed.target)
        except DatabaseUnavailable as exc:
            log_event(log, "LISTEN unavailable, polling instead", logging.WARNING, reason=exc.message)
            return _Poll(self._stop)

    def _wait_s(self, waiter: _Waiter) -> float:
        if isinstance(waiter, _PgListener):
            return LISTEN_WAKE_S
        return self.settings.poll_interval_s

    def _apply_changes(self, engine: SyncEngine) -> bool:
        """Catch up when the log moved. False when the sync degraded."""
        try:
            with engine.db.connection() as conn:
                top = changes.max_seq(conn)
            if top == engine.applied_seq:
                return True
        except DatabaseUnavailable:
            pass  # let the engine record the failure in its report
        report = engine.sync("catch_up")
        return report.status != "degraded"
