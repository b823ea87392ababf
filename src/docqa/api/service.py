"""The running service: the store (once open), its health, the worker, metrics and webhook.

Startup (`start`, called from the lifespan in a thread) opens the store and
runs the sync engine before any request is accepted, within
`startup_sync_timeout_s`. When the database is down or the sync is degraded
the service still starts, *degraded*: `/health` says why, reads and writes
that need the index answer 503, and the worker retries with backoff.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from docqa.api.metrics import Metrics
from docqa.api.webhook import WebhookNotifier
from docqa.config import Settings
from docqa.errors import DatabaseUnavailable, DocqaError, ServiceDegraded
from docqa.logging import get_logger, log_event
from docqa.sync.worker import SyncWorker
from docqa.types import SyncReport

if TYPE_CHECKING:
    from docqa.app import Store

log = get_logger("docqa.api")


@dataclass(frozen=True)
class Health:
    status: str  # healthy | degraded
    reason: str = ""

    @property
    def healthy(self) -> bool:
        return self.status == "healthy"


class Service:
    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings = settings
        self._store = store
        self._owns_store = store is None
        self._open_lock = threading.Lock()
        self.open_error = ""
        self.embedder_ready = False
        self.embedder_error = ""
        self.startup_pending = False
        self.started = False
        self.started_at = time.time()
        self.metrics = Metrics(self)
        self.webhook = (
            WebhookNotifier(settings.webhook_url, settings.webhook_timeout_s) if settings.webhook_url else None
        )
        self.worker = SyncWorker(settings, self.ensure_store)
        if store is not None:
            self._attach(store)

    # --- store -------------------------------------------------------------
    @property
    def store(self) -> Store | None:
        return self._store

    def ensure_store(self) -> Store | None:
        """The open store, opening it now if needed; None while the database is unreachable."""
        if self._store is not None:
            return self._store
        with self._open_lock:
            if self._store is None:
                self._store = self._open()
        return self._store

    def _open(self) -> Store | None:
        from docqa.app import Store

        log_event(log, "Connecting to database...", database=_describe(self.settings))
        try:
            store = Store.open(self.settings)
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
            log, "Database connection established", database=store.db.describe(), model=store.model, dim=store.dim
        )
        self._attach(store)
        return store

    def _attach(self, store: Store) -> None:
        threading.Thread(target=self._warm_up, args=(store,), name="docqa-embedder-warm-up", daemon=True).start()
        store.engine.listeners.append(self.metrics.on_sync)
        if self.webhook is not None:
            store.engine.listeners.append(self.webhook.on_sync)

    # --- lifecycle -----------------------------------------------------------
    def start(self) -> None:
        """Open, sync within the time budget, start the worker. Never raises for a down database."""
        log_event(
            log,
            "Starting docqa service",
            collection=self.settings.collection,
            embedder=self.settings.embedder,
            index_type=self.settings.index_type,
        )
        store = self.ensure_store()
        finished = store is None or self._startup_sync(store)
        self.started = True
        if finished or not self.startup_pending:
            self.worker.start()  # else the startup sync starts it when it completes
        health = self.health()
        if health.healthy:
            log_event(log, "docqa service ready", vectors=len(store.engine) if store else 0)
        else:
            log_event(log, "docqa service started in degraded mode", logging.WARNING, reason=health.reason)

    def _startup_sync(self, store: Store) -> bool:
        """Run the first sync; False when it outlived its time budget (it keeps running)."""
        done = threading.Event()
        result: list[SyncReport] = []

        def run() -> None:
            try:
                result.append(store.sync("auto"))
            finally:
                self.startup_pending = False
                done.set()
                if self.started:
                    self.worker.start()

        self.startup_pending = True
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

    def _warm_up(self, store: Store) -> None:
        """Load the model in the background (lazy models take seconds) so the first query does not pay for it.

        `/health/ready` stays 503 until it is loaded."""
        try:
            start = time.perf_counter()
            store.embedder.embed_query("warm up")
            self.embedder_error, self.embedder_ready = "", True
            log_event(log, "Embedder ready", model=store.model, load_ms=round((time.perf_counter() - start) * 1000, 1))
        except Exception as exc:  # the first real request will report the problem too
            self.embedder_error = f"{type(exc).__name__}: {exc}"
            log_event(log, "Embedder warm-up failed", logging.WARNING, model=store.model, error=self.embedder_error)

    def stop(self) -> None:
        log_event(log, "Stopping docqa service")
        self.worker.stop()
        if self.webhook is not None:
            self.webhook.close()
        store = self._store
        if store is not None:
            store.engine.listeners[:] = [
                f
                for f in store.engine.listeners
                if f not in (self.metrics.on_sync, getattr(self.webhook, "on_sync", None))
            ]
            if self._owns_store:
                store.close()
                self._store = None
        log_event(log, "docqa service stopped")

    # --- health --------------------------------------------------------------
    def health(self) -> Health:
        store = self._store
        if store is None:
            return Health("degraded", self.open_error or "database not connected yet")
        engine = store.engine
        last = engine.last_report
        if self.startup_pending and last is None:
            return Health("degraded", "startup index sync still running")
        if last is None or not engine.ready:
            return Health("degraded", "index not loaded: no sync has completed yet")
        if last.status == "degraded":
            return Health("degraded", last.reason or "last index sync failed")
        return Health("healthy")

    def ready_store(self) -> Store:
        """The store, when the index can be trusted; else ServiceDegraded (503) naming the reason."""
        health = self.health()
        if not health.healthy or self._store is None:
            raise ServiceDegraded(f"service is degraded: {health.reason}", reason=health.reason)
        return self._store

    def open_store(self) -> Store:
        """The store even when degraded (for reads that only need the database)."""
        if self._store is None:
            reason = self.health().reason
            raise ServiceDegraded(f"service is degraded: {reason}", reason=reason)
        return self._store


def _describe(settings: Settings) -> str:
    from docqa.storage.db import Database

    try:
        return Database(settings.resolved_database_url).describe()
    except Exception:  # an invalid URL is reported by Store.open
        return "?"
