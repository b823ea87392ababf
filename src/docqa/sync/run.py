"""One sync, inside one consistent read transaction of the database.

load -> catch up from the change log -> verify by count and content digest ->
repair the ids that differ, or rebuild when it must. The decisions are the
pure functions of docqa.sync.plan; this module gathers their inputs and
carries them out. A check takes every step on a view of the index and the
pending changes without applying anything, and reports what a sync would do.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from docqa.index import snapshot
from docqa.index.base import Hashes, Ids, VectorIndex, empty_hashes, empty_ids
from docqa.index.factory import new_index
from docqa.logging import log_event
from docqa.storage import changes, rowhash, vectors
from docqa.storage.db import Connection
from docqa.storage.migrate import db_identity
from docqa.sync import events
from docqa.sync.events import log
from docqa.sync.loading import SnapshotLoad
from docqa.sync.pending import Pending, read_pending
from docqa.sync.plan import (
    Action,
    Decision,
    StartFacts,
    check_reason,
    diff_rows,
    final_status,
    plan_repair,
    plan_start,
    plan_verify,
)
from docqa.sync.state import EngineConfig, IndexHolder
from docqa.types import SyncReport


@dataclass(frozen=True)
class View:
    """The index a sync works on: the engine's own, or for a check with none loaded, one read for the check alone."""

    index: VectorIndex | None
    identity: str
    applied_seq: int
    problem: str = ""
    kind: str = ""


class SyncRun:
    def __init__(
        self,
        holder: IndexHolder,
        cfg: EngineConfig,
        expect: snapshot.Expectation,
        conn: Connection,
        mode: str,
        deep: bool,
        start: float,
    ) -> None:
        self.holder, self.cfg, self.expect, self.conn = holder, cfg, expect, conn
        self.mode, self.deep, self.start, self.check = mode, deep, start, mode == "check"
        self.is_pg = conn.is_pg
        self.identity, self.top, self.view = "", 0, View(None, "", 0)
        self.caught_up: dict[str, int] = {}  # what the catch-up applied (or, for a check, would apply)

    def run(self, loading: SnapshotLoad | None) -> SyncReport:
        cfg, conn, check = self.cfg, self.conn, self.check
        self.identity, self.top, floor = db_identity(conn), changes.max_seq(conn), changes.log_floor(conn)
        db_side: vectors.MemberDigest | None = None
        if loading is not None and self.mode in ("auto", "check") and loading.promising(self.identity, self.top, floor):
            db_side = self._db_digest()  # while the snapshot is read on the other thread
        self.view = view = self._view(loading)
        decision = plan_start(
            StartFacts(
                mode=self.mode,
                has_index=view.index is not None,
                snapshot_problem=view.problem,
                snapshot_kind=view.kind,
                index_identity=view.identity,
                db_identity=self.identity,
                applied_seq=view.applied_seq,
                db_max_seq=self.top,
                log_floor=floor,
            )
        )
        if decision.action is Action.REBUILD or view.index is None:
            return self.rebuild(decision)
        index = view.index
        pending = read_pending(conn, index, cfg.collection, cfg.model, view.applied_seq, self.top)
        self.caught_up = {"added": pending.added, "removed": pending.removed, "pending": pending.count}
        if not check:
            if pending.count:
                with self.holder.changing() as changing:
                    pending.apply(changing)
            self.holder.set_applied(self.top)
        if self.mode == "catch_up":
            return self.report(final_status(False, 0, pending.count), pending.count > 0, len(index), len(index))
        if index.compaction_due(*((len(pending.present), len(pending.ids)) if check else (0, 0))):
            return self.rebuild(Decision(Action.REBUILD, "compacting HNSW tombstones", events.COMPACTION))
        return self.verify(index, pending, db_side or self._db_digest())

    def verify(self, index: VectorIndex, pending: Pending, db_side: vectors.MemberDigest) -> SyncReport:
        cfg, check = self.cfg, self.check
        count, digest = (len(index), index.digest)
        if check:
            count, digest = pending.count_after(index), pending.digest_after(index)
        events.sync_check(cfg.collection, db_side.count, count)
        verdict = plan_verify(db_side.count, db_side.digest, count, digest)
        mismatched = self._self_check(index, pending.touched if check else None) if self.deep else empty_ids()
        if verdict.action is Action.IN_SYNC and not len(mismatched):
            events.in_sync(cfg.collection, self.deep)
            status = final_status(False, 0, pending.count)
            if check:
                return self.report(status, False, db_side.count, len(index), reason=self._would(status))
            reason = f"{pending.count} change(s) applied" if pending.count else ""
            return self.report(status, pending.count > 0, db_side.count, count, reason=reason)

        if verdict.action is Action.IN_SYNC:
            only_db, only_index, changed = empty_ids(), empty_ids(), empty_ids()
            why = f"{len(mismatched)} index vector(s) do not match the row hash kept with them"
        else:
            db_ids, db_hashes = vectors.all_hashes(self.conn, cfg.collection, cfg.model, cfg.dim, rehash=self.deep)
            held = pending.hashes_after(index) if check else index.content_hashes()
            only_db, only_index, changed = diff_rows(db_ids, db_hashes, *held)
            why = verdict.reason
            if len(mismatched):
                why += f"; {len(mismatched)} index vector(s) do not match their row hash"
        changed = np.union1d(changed, np.setdiff1d(mismatched, only_index))
        differing = len(only_db) + len(only_index) + len(changed)
        fix = plan_repair(differing, db_side.count, cfg.repair_max_fraction)
        reason, repair = f"{why}; {fix.reason}", fix.action is Action.REPAIR
        if check:
            status = "repaired" if repair else "rebuilt"
            said = self._would(status, repair=differing, why=reason)
            return self.report(
                status,
                False,
                db_side.count,
                len(index),
                reason=said,
                cause=events.DRIFT,
                repaired=differing if repair else 0,
            )
        then = "Repairing differing ids..." if repair else "Starting rebuild..."
        events.out_of_sync(cfg.collection, db_side.count, count, then, reason=reason, differing=differing)
        self.holder.repairing = reason
        if not repair:
            return self.rebuild(Decision(Action.REBUILD, reason, events.DRIFT))
        fetch = np.union1d(only_db, changed)
        ids, vecs, hashes = vectors.fetch_vectors(self.conn, cfg.collection, cfg.model, cfg.dim, fetch)
        with self.holder.changing() as changing:
            changing.remove(np.union1d(only_index, changed))
            changing.add(ids, vecs, hashes)
        if (
            index.digest != db_side.digest
            or len(index) != db_side.count
            or (self.deep and len(self._self_check(index)))
        ):
            return self.rebuild(Decision(Action.REBUILD, "repair did not converge", events.DRIFT))
        log_event(
            log,
            "FAISS index repaired",
            collection=cfg.collection,
            repaired=differing,
            missing=len(only_db),
            extra=len(only_index),
            changed=len(changed),
        )
        return self.report(
            "repaired", True, db_side.count, len(index), repaired=differing, reason=reason, cause=events.DRIFT
        )

    def rebuild(self, decision: Decision) -> SyncReport:
        """Build a new index from the database and swap it in; a check only says it would, and why."""
        cfg, view = self.cfg, self.view
        db_count = vectors.count_vectors(self.conn, cfg.collection, cfg.model, cfg.dim)
        if self.check:
            held = len(view.index) if view.index is not None else 0
            said = check_reason("rebuilt", why=decision.reason)
            return self.report("rebuilt", False, db_count, held, reason=said, cause=decision.cause)
        self.holder.repairing = decision.reason or "rebuilding the index"
        old_ids, old_hashes = self._old_members(decision)
        events.rebuild_starting(cfg.collection, decision.cause, decision.reason, db_count, len(old_ids))
        t0 = time.perf_counter()
        fresh = new_index(cfg.index_type, cfg.dim, cfg.index_params)
        fresh.bulk_load(db_count, vectors.stream_vectors(self.conn, cfg.collection, cfg.model, cfg.dim, cfg.batch_rows))
        added, removed = len(fresh), 0
        if len(old_ids):
            only_new, only_old, changed = diff_rows(*fresh.content_hashes(), old_ids, old_hashes)
            added, removed = len(only_new) + len(changed), len(only_old)
        self.holder.install(fresh, self.identity, self.top, dirty=True)
        events.synchronized(cfg.collection, len(fresh), round((time.perf_counter() - t0) * 1000, 2), added, removed)
        self.caught_up = {**self.caught_up, "added": added, "removed": removed}
        return self.report("rebuilt", True, len(fresh), len(fresh), reason=decision.reason, cause=decision.cause)

    def report(self, status: Any, performed: bool, db_count: int, index_count: int, **extra: Any) -> SyncReport:
        fields = {**self.caught_up, **extra}
        return SyncReport(
            status=status,
            sync_performed=performed,
            db_count=db_count,
            index_count=index_count,
            applied_seq=self.view.applied_seq if self.check else self.holder.applied_seq,
            duration_ms=round((time.perf_counter() - self.start) * 1000, 2),
            collection=self.cfg.collection,
            **fields,
        )

    def _would(self, status: str, repair: int = 0, why: str = "") -> str:
        c = self.caught_up
        return check_reason(
            status, pending=c["pending"], added=c["added"], removed=c["removed"], repair=repair, why=why
        )

    # --- inputs ------------------------------------------------------------
    def _view(self, loading: SnapshotLoad | None) -> View:
        holder = self.holder
        if loading is not None:
            outcome = loading.result()
            if isinstance(outcome, snapshot.SnapshotRejected):
                if outcome.kind != "missing":
                    level = logging.WARNING if outcome.kind in ("invalid", "incomplete") else logging.INFO
                    log_event(
                        log,
                        "FAISS index snapshot not loaded",
                        level,
                        collection=self.cfg.collection,
                        reason=outcome.message,
                    )
                return View(None, "", 0, outcome.message, outcome.kind)
            if self.check:
                return View(outcome.index, outcome.manifest.db_identity, outcome.manifest.applied_seq)
            adopt(holder, loading, self.cfg.collection)
        return View(holder.index, holder.identity, holder.applied_seq)

    def _db_digest(self) -> vectors.MemberDigest:
        cfg = self.cfg
        # deep: SQLite hashes every stored embedding instead of trusting the stored hashes (PostgreSQL's
        # are generated by the server from the row, nothing to re-check there)
        return vectors.content_digest(self.conn, cfg.collection, cfg.model, cfg.dim, cfg.batch_rows, rehash=self.deep)

    def _self_check(self, index: VectorIndex, skip: Ids | None = None) -> Ids:
        """Ids whose vector in the index does not hash to the row hash the index keeps for it (`skip`: ids a
        pending catch-up replaces anyway). No lock needed: only a sync, which is us, changes the index."""
        bad = [ids[rowhash.rows(self.is_pg, ids, vecs) != kept] for ids, vecs, kept in index.content_blocks()]
        found: Ids = np.concatenate(bad) if bad else empty_ids()
        if skip is not None and len(skip):
            found = np.setdiff1d(found, skip)
        if len(found):
            log_event(
                log,
                "FAISS index vectors do not match their row hashes",
                logging.WARNING,
                collection=self.cfg.collection,
                count=len(found),
                ids=found[:10].tolist(),
            )
        return found

    def _old_members(self, decision: Decision) -> tuple[Ids, Hashes]:
        """What the rebuild replaces: the index in use; for a forced rebuild with none loaded (the CLI),
        the snapshot on disk (ids and row hashes only); else nothing."""
        if self.view.index is not None:
            return self.view.index.content_hashes()
        if decision.cause == events.FORCED:
            found = snapshot.members(self.cfg.index_root, self.expect)
            if found is not None:
                return found
        return empty_ids(), empty_hashes()


def adopt(holder: IndexHolder, loading: SnapshotLoad, collection: str) -> None:
    """Install the snapshot the loader read (once); it stays loaded even when the sync then failed."""
    loaded = loading.loaded()
    if loaded is None or loading.adopted:
        return
    loading.adopted = True
    dirty = loaded.index.rewrite_due  # the next save writes what was fixed in memory (deleted vectors zeroed)
    holder.install(loaded.index, loaded.manifest.db_identity, loaded.manifest.applied_seq, dirty=dirty)
    log_event(
        log,
        "FAISS index loaded from disk",
        collection=collection,
        vectors=len(loaded.index),
        applied_seq=loaded.manifest.applied_seq,
    )
    events.swept(collection, loaded.swept, loaded.source)
