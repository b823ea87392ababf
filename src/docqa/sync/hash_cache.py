"""SQLite row hashes a sync computed from embeddings, waiting to be stored (docqa.storage.stored_hashes).

A sync notes the rows whose stored hash was missing or wrong; storing them re-reads those rows'
embeddings under the write lock, so it is kept off the sync's own path when there are many: a
catch-up's few are stored right away, a backlog (the first sync after an upgrade or a bulk load:
every row) by the background worker or at close. Until then a verification simply hashes those
rows again. Nothing here touches the index, so it never holds the engine's sync lock.
"""

from __future__ import annotations

import logging
import threading
import time

import numpy as np
import numpy.typing as npt

from docqa.errors import DocqaError
from docqa.logging import log_event
from docqa.storage import stored_hashes
from docqa.storage.db import Database
from docqa.sync.events import log

INLINE_MAX = 10_000  # stored at the end of the sync that found them; more wait for the worker or close()
INLINE_WAIT_MS = 0  # ... and only if no other writer holds the lock right then


class PendingHashes:
    def __init__(self, db: Database, collection: str) -> None:
        self._db, self._collection = db, collection
        self._ids: npt.NDArray[np.int64] = np.empty(0, dtype=np.int64)
        self._lock = threading.Lock()  # guards _ids
        self._storing = threading.Lock()  # one writer of the cache at a time

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, ids: npt.NDArray[np.int64]) -> None:
        if len(ids):
            with self._lock:
                self._ids = np.union1d(self._ids, ids)

    def store(self, wait_ms: int | None = None) -> int:
        """Store the pending hashes. Best effort: a database that takes no writes now only makes the next
        verification hash these rows again. `wait_ms`: give up (keeping the rest pending) when another
        writer holds the lock longer (a sync's inline store must not hold up following the log).
        Returns how many were stored."""
        with self._storing:
            with self._lock:
                ids, self._ids = self._ids, np.empty(0, dtype=np.int64)
            if not len(ids):
                return 0
            t0 = time.perf_counter()
            try:
                with self._db.connection() as conn:
                    written, left = stored_hashes.store(conn, ids, wait_ms)
                self.add(left)
            except DocqaError as exc:
                self.add(ids)
                log_event(
                    log, "Row hashes not stored", logging.WARNING, collection=self._collection, reason=exc.message
                )
                return 0
            level = logging.INFO if written >= INLINE_MAX else logging.DEBUG
            ms = round((time.perf_counter() - t0) * 1000, 2)
            log_event(log, "Row hashes stored", level, collection=self._collection, rows=written, duration_ms=ms)
            return written
