"""The sync engine: the only writer of a collection's FAISS index.

One code path for startup, the background worker, the CLI and the rebuild
endpoint (docqa.sync.run): inside one consistent read transaction of the
database, load -> catch up from the change log -> verify by count and content
digest -> repair the ids that differ, or rebuild when it must; then save a
snapshot. Searches keep running on the current index throughout; a rebuilt
index is swapped in atomically.

`sync("check")` takes the same path without changing anything — no file
written, renamed or removed, nothing in memory that a later save would
persist — and reports what a sync would do: `in_sync` only when the index is
provably in sync with nothing pending, else the status a sync would reach
(`caught_up` / `repaired` / `rebuilt`) with `sync_performed=False`.

At startup the snapshot is read from disk on a second thread while the
database computes its side of the proof (docqa.sync.loading).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from docqa.errors import DatabaseUnavailable, DocqaError, InvalidInput, SnapshotSaveFailed
from docqa.index import snapshot
from docqa.index.base import Ids, Scores, VectorIndex
from docqa.logging import log_event
from docqa.storage import rowhash, stored_hashes
from docqa.storage.db import Database
from docqa.sync import events
from docqa.sync.events import log
from docqa.sync.hash_cache import INLINE_MAX, INLINE_WAIT_MS, PendingHashes
from docqa.sync.loading import SnapshotLoad
from docqa.sync.run import SyncRun, adopt
from docqa.sync.state import EngineConfig, IndexHolder
from docqa.types import SyncReport

__all__ = ["MODES", "EngineConfig", "SyncEngine"]

MODES = ("auto", "check", "force", "catch_up")


class SyncEngine:
    def __init__(self, db: Database, config: EngineConfig) -> None:
        self.db = db
        self.cfg = config
        self._held = IndexHolder()
        self._sync_lock = threading.RLock()  # one sync or save at a time: only they change the index
        self._force_done: threading.Event | None = None
        self._force_report: SyncReport | None = None
        self._force_cond = threading.Condition()
        self.last_report: SyncReport | None = None
        self.listeners: list[Callable[[SyncReport], None]] = []
        self.hashes = PendingHashes(db, config.collection)  # SQLite row hashes to store (docqa.sync.hash_cache)
        # Set by the service's background worker: snapshots are then saved on its thread (save_due), never on
        # the thread of a sync that made one due -- a write's catch-up does not wait for a 1.5 GB fsync.
        self.background_saves = False
        self._publishing = threading.Event()  # clear while a background save is fsyncing outside the sync lock
        self._publishing.set()

    # --- reads -------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return self._held.index is not None

    def __len__(self) -> int:
        return len(self._held)

    @property
    def index(self) -> VectorIndex | None:
        """The index as it stands, for inspection (tests, tools, the independent checker's peers).

        Read it; never change it through this handle: the engine is its only writer, and a
        change made here is exactly the drift the next verification will find and repair."""
        return self._held.index

    @property
    def dirty(self) -> bool:
        """The index changed since its snapshot was last written or loaded."""
        return self._held.dirty

    @property
    def applied_seq(self) -> int:
        return self._held.applied_seq

    @property
    def repairing(self) -> str:
        """Why a repair or rebuild is running right now ("" when none is): for health."""
        return self._held.repairing

    @property
    def index_type(self) -> str:
        return self.cfg.index_type

    def search(
        self,
        queries: npt.NDArray[np.float32],
        k: int,
        allowed: npt.NDArray[np.int64] | None = None,
        ef_search: int | None = None,
    ) -> tuple[Scores, Ids]:
        """(scores, ids) of the k nearest members per query row, ids -1 padding a short row.
        `ef_search` overrides the HNSW query breadth for this call (the flat index ignores it)."""
        return self._held.search(queries, k, allowed, ef_search)

    def wait_for_seq(self, seq: int, timeout_s: float) -> bool:
        """Block until the index has applied change `seq` (read-your-writes)."""
        return self._held.wait_for_seq(seq, timeout_s)

    # --- the sync entry point ----------------------------------------------
    def sync(self, mode: str = "auto", deep: bool = False) -> SyncReport:
        """mode: auto (catch up + verify + repair/rebuild), catch_up (log only),
        check (prove, change nothing; report what a sync would do), force (rebuild from the DB).

        deep (auto, check): also re-hash every vector the index holds and compare it with
        the row hash it keeps. The digest proves the index's *hashes* equal the database's;
        this proves its vectors are the ones those hashes describe (bookkeeping, memory).
        O(N) in this process: ~0.3 s more at 1M on SQLite, ~1.8 s more on PostgreSQL (sha256).
        """
        if mode not in MODES:
            raise InvalidInput(f"unknown sync mode {mode!r}; choose one of {', '.join(MODES)}", field="mode")
        if mode == "force":
            return self._force()
        with self._sync_lock:
            return self._run(mode, deep and mode in ("auto", "check"))

    def _force(self) -> SyncReport:
        """A second concurrent forced rebuild waits for the running one and shares its report."""
        with self._force_cond:
            running = self._force_done
            if running is None:
                self._force_done = threading.Event()
        if running is not None:
            running.wait()
            assert self._force_report is not None
            return self._force_report
        try:
            with self._sync_lock:
                report = self._run("force")
            self._force_report = report
            return report
        finally:
            with self._force_cond:
                done, self._force_done = self._force_done, None
            assert done is not None
            done.set()

    def _run(self, mode: str, deep: bool = False) -> SyncReport:
        start = time.perf_counter()
        cfg, held = self.cfg, self._held
        expect = self._expectation()
        loading: SnapshotLoad | None = None
        if held.index is None and mode != "force":
            loading = SnapshotLoad(cfg.index_root, expect, tidy=mode != "check")
        if mode != "catch_up":
            events.checking(cfg.collection, mode)
        try:
            with self.db.connection() as conn, conn.transaction(read_only=True):
                report = SyncRun(held, cfg, expect, conn, mode, deep, start).run(loading)
                if mode != "check":  # a check writes nothing, not even this cache
                    self.hashes.add(stored_hashes.take(conn))
            if 0 < len(self.hashes) <= INLINE_MAX:
                self.hashes.store(wait_ms=INLINE_WAIT_MS)
        except DatabaseUnavailable as exc:
            report = self._failed(start, exc.message, "Index sync failed: database unavailable")
        except DocqaError as exc:
            report = self._failed(start, exc.message, "Index sync failed")
        except Exception as exc:  # the engine must never take the service down
            log.exception("Index sync failed unexpectedly", extra={"collection": cfg.collection})
            report = self._failed(start, f"{type(exc).__name__}: {exc}", "")
        finally:
            held.repairing = ""
            if loading is not None and mode != "check":  # stays loaded for the next attempt, even if the DB failed
                adopt(held, loading, cfg.collection)
        report.duration_ms = round((time.perf_counter() - start) * 1000, 2)
        level = logging.INFO if report.status != "degraded" else logging.WARNING
        if mode == "check":  # a check is not a sync: nothing saved, no listener told, last_report kept
            log_event(log, "Index sync check complete", level, **report.to_dict())
            return report
        if report.status != "degraded":
            self._maybe_save(force=report.status in ("rebuilt", "repaired"))
        self.last_report = report
        if mode != "catch_up" or report.sync_performed:
            log_event(log, "Index sync complete", level, **report.to_dict())
        for listener in self.listeners:
            try:
                listener(report)
            except Exception:  # a metrics/webhook hook must not break sync
                log.exception("sync listener failed")
        return report

    def _expectation(self) -> snapshot.Expectation:
        cfg = self.cfg
        return snapshot.Expectation(
            cfg.collection, cfg.model, cfg.dim, cfg.index_type, rowhash.name_for(self.db.is_pg), cfg.index_params or {}
        )

    def _failed(self, start: float, reason: str, event: str) -> SyncReport:
        """A degraded report: the database count is unknown (-1)."""
        if event:
            log_event(log, event, logging.ERROR, reason=reason, collection=self.cfg.collection)
        return SyncReport(
            status="degraded",
            sync_performed=False,
            db_count=-1,
            index_count=len(self),
            applied_seq=self.applied_seq,
            duration_ms=round((time.perf_counter() - start) * 1000, 2),
            reason=reason,
            collection=self.cfg.collection,
        )

    # --- persistence -------------------------------------------------------
    def _maybe_save(self, force: bool = False) -> None:
        """Save when due (or leave it to the background worker). A save that fails (a full disk) is logged
        and retried at the next one: the snapshot is a cache, the index in memory is proven, and the write
        that caused this sync is already committed — failing it now would answer an error for a write that
        was stored."""
        held = self._held
        held.save_wanted = held.save_wanted or force
        if self.background_saves:
            return
        if self._save_is_due():
            try:
                self._save_now()
            except SnapshotSaveFailed as exc:
                self._save_failed(exc)

    def _save_is_due(self) -> bool:
        held = self._held
        interval_over = time.monotonic() - held.last_save >= self.cfg.snapshot_interval_s
        return held.dirty and held.index is not None and (held.save_wanted or interval_over)

    def save_due(self) -> bool:
        """The background worker's save, when one is due: the files are written under the sync lock (the
        index must not change meanwhile; ~1 s at 1M) and made durable (fsync, renames) outside it, so syncs
        -- a write's catch-up -- wait for the copy, not for the disk. When another save holds the snapshot
        folder (this process's close, another process's save or check), it waits for the next turn instead
        of waiting with the sync lock held. Returns whether one was saved."""
        held = self._held
        if not self._save_is_due():  # a first look without the lock: an idle worker never waits for a sync
            return False
        with self._sync_lock:
            index = held.index
            if index is None or not self._save_is_due():
                return False
            try:
                staged = snapshot.stage(self.cfg.index_root, index, self._manifest_fields(), wait=False)
            except Exception as exc:  # SnapshotSaveFailed, or anything unexpected: never out of the worker
                self._save_failed(self._as_failure(exc))
                return False
            if staged is None:
                return False
            saved_version, held.save_wanted = held.version, False
            self._publishing.clear()
        try:
            try:
                staged.publish()
            except Exception as exc:
                with self._sync_lock:
                    self._save_failed(self._as_failure(exc))
                return False
            with self._sync_lock:
                self._saved()
                held.dirty = held.version != saved_version  # a sync since the copy: that change is not saved yet
            return True
        finally:
            self._publishing.set()

    def _as_failure(self, exc: Exception) -> SnapshotSaveFailed:
        if isinstance(exc, SnapshotSaveFailed):
            return exc
        log.exception("Index snapshot save failed unexpectedly", extra={"collection": self.cfg.collection})
        root = self.cfg.index_root
        return SnapshotSaveFailed(
            f"cannot save the index snapshot in {root}: {type(exc).__name__}: {exc}", directory=str(root)
        )

    def _save_failed(self, exc: SnapshotSaveFailed) -> None:
        held = self._held
        why = exc.message
        if why != held.save_error:  # once per distinct reason, not on every write
            log_event(
                log,
                "Index snapshot could not be saved; will retry",
                logging.WARNING,
                collection=self.cfg.collection,
                error=why,
                retry_in_s=self.cfg.snapshot_interval_s,
            )
        held.save_error = why
        held.save_wanted = False
        held.last_save = time.monotonic()  # back off a whole interval: a full disk stays full for a while

    def _saved(self) -> None:
        held = self._held
        held.last_save = time.monotonic()
        if held.save_error:
            log_event(log, "Index snapshot saved again", collection=self.cfg.collection)
            held.save_error = ""

    @property
    def snapshot_save_error(self) -> str:
        """Why the last snapshot save failed, "" once one succeeds (for health and metrics)."""
        return self._held.save_error

    def save(self, force: bool = False) -> bool:
        """Write a snapshot of the index if it changed since the last one was written or loaded
        (always, with `force`, when there is an index).

        Returns whether one was written. Waits for a running sync: the snapshot is consistent
        (only a sync changes the index, and none runs while it is written)."""
        self._publishing.wait()  # a background save on disk: this one then saves only what came after it
        with self._sync_lock:
            if not (self._held.dirty or (force and self._held.index is not None)):
                return False
            self._save_now()
            return True

    def save_soon(self) -> None:
        """Save now; with background saves, have the worker save at its next turn (a job's ingest)."""
        if self.background_saves:
            self._held.save_wanted = self._held.save_wanted or self._held.dirty
            return
        self.save()

    def _manifest_fields(self) -> snapshot.SaveInfo:
        held = self._held
        return {
            "db_identity": held.identity,
            "collection": self.cfg.collection,
            "applied_seq": held.applied_seq,
            "model": self.cfg.model,
            "row_hash": rowhash.name_for(self.db.is_pg),
        }

    def _save_now(self) -> None:
        held = self._held
        if held.index is None:
            return
        snapshot.save(self.cfg.index_root, held.index, self._manifest_fields())
        held.dirty, held.save_wanted = False, False
        self._saved()

    def close(self) -> None:
        """Save the snapshot if the index changed since the last one; store pending SQLite row hashes."""
        self.hashes.store()
        self._publishing.wait()  # a background save on disk (a worker that did not stop in time): let it end
        with self._sync_lock:
            if self._held.dirty:
                try:
                    self._save_now()
                except Exception:
                    log.exception("could not save the index snapshot at shutdown")
