"""The runtime: owns the lifecycle around the library — open, startup sync within its budget, worker, health.

    runtime = Runtime(settings)
    runtime.start()                  # the service: never raises for a down database; health says why
    docqa = runtime.serving()        # the library, when the index can answer (else ServiceDegraded, 503)
    runtime.stop()

    docqa = Runtime(settings).connect()   # the CLI: open and sync now, raising what went wrong

`start` opens the library and runs the sync engine before any request is
accepted, within `startup_sync_timeout_s`. When the database is down or the
sync degrades, the service still starts, degraded: `health()` says why, the
use cases that need the index raise ServiceDegraded, and the worker retries.
Both the CLI and the HTTP app use this class; neither opens the library itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from docqa.app.health import Health, HealthFacts, HealthState, assess
from docqa.app.library import Docqa
from docqa.app.primary_probe import PrimaryProbe
from docqa.app.sync_history import SyncHistoryRecorder
from docqa.app.warm import warm_query_path
from docqa.app.webhook import WebhookNotifier
from docqa.config import Settings
from docqa.errors import DatabaseUnavailable, DocqaError, ServiceDegraded
from docqa.jobs import JobWorkers
from docqa.jobs.worker import Listener as JobListener
from docqa.logging import get_logger, log_event
from docqa.storage.db import Database
from docqa.sync.engine import SyncEngine
from docqa.sync.worker import SyncWorker
from docqa.types import SyncReport

log = get_logger("docqa.runtime")

SyncListener = Callable[[SyncReport], None]
JOBS_STATE_TTL_S = 1.0  # /health reads the job queue at most once a second


class Runtime:
    def __init__(self, settings: Settings, library: Docqa | None = None) -> None:
        self.settings = settings
        self._library = library
        self._owns_library = library is None
        self._open_lock = threading.Lock()
        self._listeners: list[SyncListener] = []
        self._job_listeners: list[JobListener] = []
        self._warmers: list[Callable[[], None]] = []
        self.open_error = ""
        self.embedder_ready = False
        self.embedder_error = ""
        self.startup_pending = False
        self.started = False
        self.started_at = time.time()
        self._stopping = threading.Event()
        self.webhook = (
            WebhookNotifier(settings.webhook_url, settings.webhook_timeout_s) if settings.webhook_url else None
        )
        if self.webhook is not None:
            self._listeners.append(self.webhook.on_sync)
        self.sync_history = SyncHistoryRecorder()
        self._listeners.append(self.sync_history.on_sync)
        self.worker = SyncWorker(settings, self._engine, self._primary)
        self._probe: PrimaryProbe | None = None  # with a standby: is the primary taking writes (health)
        self.job_pool: JobWorkers | None = None  # the service's in-process job workers (settings.job_workers)
        self._jobs_wanted = False
        self._jobs_lock = threading.Lock()
        self._jobs_cache: tuple[float, dict[str, object]] = (-1e9, {})
        if library is not None:
            self._attach(library)

    # --- the library -------------------------------------------------------------
    @property
    def library(self) -> Docqa | None:
        """The open library, or None while the database has not been reached."""
        return self._library

    def connect(self, sync: bool = True) -> Docqa:
        """Open now (and sync, unless told not to), raising what went wrong: the CLI's way in."""
        with self._open_lock:
            if self._library is None:
                self._library = Docqa.open(self.settings)
                self._attach(self._library, warm_up=False)
        if sync:
            report = self._library.sync()
            if report.status == "degraded":
                raise ServiceDegraded(f"index is degraded: {report.reason}", reason=report.reason)
        return self._library

    def ensure_open(self) -> Docqa | None:
        """The open library, opening it now if needed; None while it cannot be opened (the reason is kept)."""
        if self._library is not None:
            return self._library
        with self._open_lock:
            if self._library is None:
                self._library = self._open()
        return self._library

    def _engine(self) -> SyncEngine | None:
        library = self.ensure_open()
        return library.engine if library is not None else None

    def _primary(self) -> Database | None:
        library = self._library
        return library.db if library is not None else None

    def _open(self) -> Docqa | None:
        log_event(log, "Connecting to database...", database=_describe(self.settings))
        try:
            library = Docqa.open(self.settings)
        except DocqaError as exc:  # database down, or a configuration the operator must fix: say which
            self.open_error = exc.message
            event = (
                "Database connection failed, service degraded"
                if isinstance(exc, DatabaseUnavailable)
                else "Store could not be opened, service degraded"
            )
            log_event(log, event, logging.ERROR, reason=exc.message, code=exc.code)
            if self.webhook is not None:
                self.webhook.store_unavailable(exc.message, self.settings.collection)
            return None
        self.open_error = ""
        log_event(
            log,
            "Database connection established",
            database=library.db.describe(),
            model=library.model,
            dim=library.dim,
        )
        self._attach(library)
        if self._jobs_wanted:
            self._start_jobs(library)
        return library

    def _attach(self, library: Docqa, warm_up: bool = True) -> None:
        if warm_up:
            threading.Thread(target=self._warm_up, args=(library,), name="docqa-embedder-warm-up", daemon=True).start()
        library.engine.listeners.extend(self._listeners)
        if warm_up and library.databases.split and self._probe is None:

            def report(reason: str) -> None:
                library.primary_failure = reason

            self._probe = PrimaryProbe(library.db, report)
            self._probe.start()

    def add_sync_listener(self, listener: SyncListener) -> None:
        """Call `listener` with every sync report (metrics, webhooks)."""
        self._listeners.append(listener)
        if self._library is not None:
            self._library.engine.listeners.append(listener)

    def add_job_listener(self, listener: JobListener) -> None:
        """Call `listener(job, status, seconds)` when an in-process worker ends a job (metrics)."""
        self._job_listeners.append(listener)
        if self.job_pool is not None:
            self.job_pool.listeners.append(listener)

    def add_warmer(self, warmer: Callable[[], None]) -> None:
        """Call `warmer()` (best effort) once the model and index are loaded, before ready: an adapter's first-use costs."""
        self._warmers.append(warmer)

    def _run_warmers(self, library: Docqa) -> None:
        for warmer in (lambda: warm_query_path(library), *self._warmers):
            try:
                warmer()
            except Exception as exc:  # best effort: the first real request reports what is wrong
                log.info("warm-up %s skipped: %s", getattr(warmer, "__name__", warmer), exc)

    # --- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        """Open, sync within the time budget, start the worker. Never raises for a down database."""
        log_event(
            log,
            "Starting docqa service",
            collection=self.settings.collection,
            embedder=self.settings.embedder,
            index_type=self.settings.index_type,
        )
        self.startup_pending = True
        self._jobs_wanted = self.settings.job_workers > 0
        library = self.ensure_open()
        if library is not None and self._jobs_wanted:
            self._start_jobs(library)
        finished = library is None or self._startup_sync(library)
        if library is None:
            self.startup_pending = False
        self.started = True
        if finished or not self.startup_pending:
            self.worker.start()  # else the startup sync starts it when it completes
        health = self.health()
        if health.serving:
            log_event(log, "docqa service ready", vectors=len(library.engine) if library else 0, state=health.state)
        else:
            log_event(log, "docqa service started in degraded mode", logging.WARNING, reason=health.reason)

    def _start_jobs(self, library: Docqa) -> None:
        """Run `job_workers` in-process job workers: ingest jobs need the database only, not the index."""
        with self._jobs_lock:
            if self.job_pool is None:
                self.job_pool = library.jobs.pool(self.settings.job_workers, name="serve", catch_up=True)
                self.job_pool.listeners.extend(self._job_listeners)
                self.job_pool.start()

    def _startup_sync(self, library: Docqa) -> bool:
        """Run the first sync; False when it outlived its time budget (it keeps running)."""
        done = threading.Event()
        result: list[SyncReport] = []

        def run() -> None:
            try:
                result.append(library.sync("auto"))
            finally:
                self.startup_pending = False
                done.set()
                if self.started:
                    self.worker.start()

        threading.Thread(target=run, name="docqa-startup-sync", daemon=True).start()
        if not done.wait(self.settings.startup_sync_timeout_s):
            log_event(
                log,
                "Startup index sync exceeded its time budget; serving degraded until it completes",
                logging.WARNING,
                timeout_s=self.settings.startup_sync_timeout_s,
            )
            return False
        report = result[0] if result else None
        if report is not None:
            log_event(
                log,
                "Index synchronization on startup complete",
                status=report.status,
                sync_performed=report.sync_performed,
                vectors=report.index_count,
                duration_ms=report.duration_ms,
            )
        return True

    def _warm_up(self, library: Docqa) -> None:
        """Load the model in the background (lazy models take seconds) so the first query does not pay for it.

        Health says `warming_up` (not ready) until it is loaded; a failure is retried with backoff
        (a model file still being copied, an embedding server not up yet) until it loads or the runtime stops."""
        delay = self.settings.retry_initial_s
        while not self._stopping.is_set():
            try:
                start = time.perf_counter()
                library.embedder.embed_query("warm up")
                while (self.startup_pending or not self.started) and not self._stopping.wait(0.01):
                    pass  # the warm queries need the service started and the index its startup sync loads
                if self._stopping.is_set():
                    return
                self._run_warmers(library)
                self.embedder_error, self.embedder_ready = "", True
                log_event(
                    log, "Embedder ready", model=library.model, load_ms=round((time.perf_counter() - start) * 1000, 1)
                )
                return
            except Exception as exc:  # any failure of a model backend; health reports it, and we try again
                self.embedder_error = f"{type(exc).__name__}: {exc}"
                log_event(
                    log,
                    "Embedder warm-up failed, retrying",
                    logging.WARNING,
                    model=library.model,
                    error=self.embedder_error,
                    retry_in_s=delay,
                )
                self._stopping.wait(delay)
                delay = min(delay * 2, max(self.settings.retry_max_s, 30.0))

    def stop(self) -> None:
        log_event(log, "Stopping docqa service")
        self._stopping.set()
        self._jobs_wanted = False
        if self.job_pool is not None:
            self.job_pool.stop()  # running jobs go back to the queue at their next step
            self.job_pool = None
        self.worker.stop()
        if self._probe is not None:
            self._probe.stop()
        if self.webhook is not None:
            self.webhook.close()
        library = self._library
        if library is not None:
            library.engine.listeners[:] = [f for f in library.engine.listeners if f not in self._listeners]
            if self._owns_library:
                _final_catch_up(library)
                library.close()
                self._library = None
        log_event(log, "docqa service stopped")

    def close(self) -> None:
        """The CLI's end: close the library if this runtime opened it (saving the snapshot when it changed)."""
        if self._library is not None and self._owns_library:
            self._library.close()
            self._library = None

    # --- health ------------------------------------------------------------------------
    def health(self) -> Health:
        library = self._library
        if library is None:
            return assess(HealthFacts(opened=False, open_error=self.open_error, startup_pending=self.startup_pending))
        engine = library.engine
        last = engine.last_report
        return assess(
            HealthFacts(
                opened=True,
                startup_pending=self.startup_pending,
                index_ready=engine.ready,
                last_sync_status=last.status if last else None,
                last_sync_reason=last.reason if last else "",
                repairing=engine.repairing,
                write_failure=library.write_failure,
                embedder_ready=self.embedder_ready,
                embedder_error=self.embedder_error,
            )
        )

    def jobs_state(self) -> dict[str, object] | None:
        """The job queue (by status, oldest queued, workers seen) and this process's workers; None unopened."""
        library = self._library
        if library is None:
            return None
        state: dict[str, object] = {"in_process": self.job_pool.state() if self.job_pool else None}
        cached_at, queue = self._jobs_cache
        if time.monotonic() - cached_at > JOBS_STATE_TTL_S:
            try:  # not while degraded: a database that does not answer would hold /health for its timeout
                if self.health().state is HealthState.DEGRADED:
                    raise ServiceDegraded("the database is not reachable: the queue cannot be read")
                queue = library.jobs.stats().to_dict()
            except DocqaError as exc:
                queue = {"error": exc.message}
            self._jobs_cache = (time.monotonic(), queue)
        state.update(queue)
        return state

    def worker_state(self) -> dict[str, object]:
        """The background follower: running, notifications (listen/poll), retries, the verification interval."""
        return self.worker.state()

    def serving(self) -> Docqa:
        """The library, when its index can answer; else ServiceDegraded (503) naming the reason."""
        health = self.health()
        if not health.serving or self._library is None:
            raise ServiceDegraded(
                f"service is {health.state}: {health.reason}", reason=health.reason, state=str(health.state)
            )
        return self._library

    def opened(self) -> Docqa:
        """The library even when degraded (for reads that only need the database)."""
        if self._library is None:
            health = self.health()
            raise ServiceDegraded(
                f"service is {health.state}: {health.reason}", reason=health.reason, state=str(health.state)
            )
        return self._library


def _describe(settings: Settings) -> str:
    try:
        return Database(settings.resolved_database_url).describe()
    except DocqaError:  # an invalid URL is reported by Docqa.open
        return "?"


def _final_catch_up(library: Docqa) -> None:
    """Apply what was committed while the service stopped (a job's write just before its worker stopped, another
    process's writes) so the snapshot saved at close is current, not merely honest. Best effort: a database
    that is gone leaves the honest, older snapshot, which the next start catches up from."""
    if not library.engine.ready:
        return
    try:
        library.engine.sync("catch_up")
    except Exception as exc:  # shutting down: report, never raise
        log.warning("final catch-up before the snapshot save skipped: %s", exc)
