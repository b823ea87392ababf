"""Optional webhook: POST a JSON event when a sync fails or finds drift.

Registered as a sync-engine listener. The listener only enqueues; one daemon
thread delivers with a timeout, so a slow or dead receiver never blocks or
breaks a sync. A degraded state is announced once per distinct reason, not
on every retry.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

from docqa.app.events import drift_found
from docqa.logging import get_logger, log_event
from docqa.types import SyncReport

log = get_logger("docqa.webhook")

_STOP = object()


def event_for(report: SyncReport) -> str | None:
    if report.status == "degraded":
        return "sync_failed"
    drift = drift_found(report)
    if drift == "repaired":
        return "drift_repaired"
    if drift == "rebuilt":
        return "index_rebuilt"  # the index was lost, stale or foreign
    return None


class WebhookNotifier:
    def __init__(self, url: str, timeout_s: float, max_queue: int = 100) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_queue)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._announced_degraded = ""
        self.sent = 0
        self.failed = 0

    def on_sync(self, report: SyncReport) -> None:
        event = event_for(report)
        if report.status != "degraded":
            self._announced_degraded = ""
        if event is not None:
            self._send(event, report.reason, report.collection, report.status, report.to_dict())

    def store_unavailable(self, reason: str, collection: str) -> None:
        """The store could not even be opened (database down, wrong embedder): no sync ran, but operators want to know."""
        self._send("sync_failed", reason, collection, "degraded", None)

    def _send(self, event: str, reason: str, collection: str, status: str, report: dict[str, Any] | None) -> None:
        if event == "sync_failed":
            if self._announced_degraded == reason:
                return
            self._announced_degraded = reason
        payload = {
            "event": event,
            "service": "docqa",
            "collection": collection,
            "status": status,
            "reason": reason,
            "report": report,
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        self._ensure_thread()
        try:
            self._queue.put_nowait(payload)
        except queue.Full:
            log_event(log, "Webhook queue full, event dropped", logging.WARNING, webhook_event=event)

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._deliver_loop, name="docqa-webhook", daemon=True)
                self._thread.start()

    def _deliver_loop(self) -> None:
        import httpx

        with httpx.Client(timeout=self.timeout_s) as client:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    return
                try:
                    response = client.post(self.url, json=item)
                    response.raise_for_status()
                    self.sent += 1
                    log_event(log, "Webhook delivered", webhook_event=item["event"], status_code=response.status_code)
                except Exception as exc:  # never let a receiver problem escape
                    self.failed += 1
                    log_event(
                        log,
                        "Webhook delivery failed",
                        logging.WARNING,
                        webhook_event=item["event"],
                        error=f"{type(exc).__name__}: {exc}",
                    )

    def close(self, timeout_s: float = 2.0) -> None:
        with self._lock:
            thread = self._thread
        if thread is None:
            return
        try:
            self._queue.put(_STOP, timeout=timeout_s)
        except queue.Full:
            return
        thread.join(timeout_s)
