"""What the sync engine has done since the service started, for people watching (the web page, /health):
when it last ran and changed something, and how much drift it found and repaired."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from docqa.app.events import drift_found
from docqa.types import SyncReport


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int((t % 1) * 1000):03d}Z"


@dataclass
class SyncHistory:
    """`last_sync_at`: the last engine run (a catch-up of new changes included); `last_verified_at`: the last
    run that proved the index equal to the database (in_sync, repaired, rebuilt); `last_change_at`: the last
    one that changed the index; `drift_*`: syncs that found the index differing from the database (events.drift_found), the
    chunk ids they repaired or the vectors a rebuild added and removed, and the last such finding."""

    syncs: int = 0
    last_sync_at: str | None = None
    last_verified_at: str | None = None
    last_change_at: str | None = None
    drift_found: int = 0
    drift_repaired_ids: int = 0
    last_drift_at: str | None = None
    last_drift_action: str | None = None
    last_drift_cause: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class SyncHistoryRecorder:
    """A sync listener keeping a `SyncHistory` (thread-safe: the engine calls it from any thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._history = SyncHistory()

    def on_sync(self, report: SyncReport) -> None:
        now = _iso(time.time())
        drift = drift_found(report)
        with self._lock:
            h = self._history
            h.syncs += 1
            h.last_sync_at = now
            if report.status in ("in_sync", "repaired", "rebuilt"):
                h.last_verified_at = now
            if report.sync_performed and (report.added or report.removed or report.repaired):
                h.last_change_at = now
            if drift is not None:
                h.drift_found += 1
                h.drift_repaired_ids += report.repaired if drift == "repaired" else report.added + report.removed
                h.last_drift_at, h.last_drift_action, h.last_drift_cause = now, drift, report.cause

    def snapshot(self) -> SyncHistory:
        with self._lock:
            return SyncHistory(**asdict(self._history))
