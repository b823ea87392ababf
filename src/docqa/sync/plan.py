"""Pure sync decisions. No I/O: every input is a plain value, so each rule is
tested on its own (tests/test_plan.py).

The engine asks three questions in order:
1. `plan_start`: given what was loaded and what the DB says, rebuild now or
   catch up from the change log?
2. `plan_verify`: after catching up, do the DB and the index agree by count
   and content digest?
3. `plan_repair`: when they differ, repair the differing ids or rebuild?
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

Ids = npt.NDArray[np.int64]
Hashes = npt.NDArray[np.uint64]


class Action(StrEnum):
    REBUILD = "rebuild"
    CATCH_UP = "catch_up"
    IN_SYNC = "in_sync"
    REPAIR = "repair"


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str = ""
    # why a rebuild: forced | missing | settings | compaction | invalid | drift (see docqa.sync.events)
    cause: str = ""


@dataclass(frozen=True)
class StartFacts:
    mode: str  # auto | check | force | catch_up
    has_index: bool  # an index is in memory or a valid snapshot was loaded
    snapshot_problem: str  # why no snapshot could be loaded ("" if one was)
    index_identity: str  # db identity recorded with the index
    db_identity: str
    applied_seq: int
    db_max_seq: int
    log_floor: int
    # what kind of problem (docqa.index.snapshot.RejectionKind): missing | settings | incomplete | invalid
    snapshot_kind: str = ""


def plan_start(f: StartFacts) -> Decision:
    if f.mode == "force":
        return Decision(Action.REBUILD, "forced rebuild requested", "forced")
    if not f.has_index:
        if f.snapshot_kind == "missing" or not f.snapshot_problem:
            return Decision(Action.REBUILD, "snapshot missing", "missing")
        return Decision(Action.REBUILD, f.snapshot_problem, "settings" if f.snapshot_kind == "settings" else "invalid")
    if f.index_identity != f.db_identity:
        return Decision(
            Action.REBUILD,
            f"index was built against database {f.index_identity or '?'}, this is {f.db_identity}",
            "invalid",
        )
    if f.applied_seq > f.db_max_seq:
        return Decision(
            Action.REBUILD,
            f"index has applied change {f.applied_seq} but the database log ends at {f.db_max_seq} (restored or foreign database)",
            "invalid",
        )
    if f.applied_seq < f.log_floor:
        return Decision(
            Action.REBUILD,
            f"change log was compacted past the index's position ({f.applied_seq} < {f.log_floor})",
            "invalid",
        )
    return Decision(Action.CATCH_UP)


def plan_verify(db_count: int, db_digest: int, index_count: int, index_digest: int) -> Decision:
    if db_count == index_count and db_digest == index_digest:
        return Decision(Action.IN_SYNC)
    if db_count != index_count:
        return Decision(Action.REPAIR, f"count differs: DB {db_count}, index {index_count}")
    return Decision(Action.REPAIR, f"content digest differs with equal counts ({db_count})")


def plan_repair(differing: int, db_count: int, max_fraction: float) -> Decision:
    """Repair by id while the drift is small; past the threshold a rebuild is cheaper."""
    limit = max(1000, int(max_fraction * db_count))
    if differing <= limit:
        return Decision(Action.REPAIR, f"{differing} id(s) differ")
    return Decision(Action.REBUILD, f"{differing} id(s) differ, more than the repair limit {limit}", "drift")


def diff_rows(
    db_ids: npt.ArrayLike, db_hashes: npt.ArrayLike, idx_ids: npt.ArrayLike, idx_hashes: npt.ArrayLike
) -> tuple[Ids, Ids, Ids]:
    """(ids only in the DB, ids only in the index, ids in both with another row hash), each sorted.

    Ids are unique on each side. One sort per side and a binary search: 0.2 s
    at 1M rows, where np.setdiff1d took 1.3 s per call.
    """
    a_ids, a_h = np.asarray(db_ids, dtype=np.int64), np.asarray(db_hashes, dtype=np.uint64)
    b_ids, b_h = np.asarray(idx_ids, dtype=np.int64), np.asarray(idx_hashes, dtype=np.uint64)
    a_order, b_order = np.argsort(a_ids, kind="stable"), np.argsort(b_ids, kind="stable")
    a_ids, a_h, b_ids, b_h = a_ids[a_order], a_h[a_order], b_ids[b_order], b_h[b_order]
    pos = np.searchsorted(b_ids, a_ids)
    clipped = np.minimum(pos, max(len(b_ids) - 1, 0))
    in_b = (pos < len(b_ids)) & (b_ids[clipped] == a_ids) if len(b_ids) else np.zeros(len(a_ids), bool)
    in_a = np.zeros(len(b_ids), dtype=bool)
    in_a[pos[in_b]] = True
    changed = in_b.copy()
    changed[in_b] = a_h[in_b] != b_h[pos[in_b]]
    return a_ids[~in_b], b_ids[~in_a], a_ids[changed]


def final_status(rebuilt: bool, repaired: int, applied: int) -> str:
    """`applied`: changes (chunk ids) taken from the log, even when they cancel out (the index's position moved)."""
    if rebuilt:
        return "rebuilt"
    if repaired:
        return "repaired"
    if applied:
        return "caught_up"
    return "in_sync"


def check_reason(
    status: str, *, pending: int = 0, added: int = 0, removed: int = 0, repair: int = 0, why: str = ""
) -> str:
    """What a sync would do, as a check reports it (the check itself changes nothing):
    "would catch up 3 change(s) (+2 -1)", "would repair 2 id(s): ...", "would rebuild: snapshot missing"."""
    catch_up = f"catch up {pending} change(s) (+{added} -{removed})" if pending else ""
    if status == "caught_up":
        return f"would {catch_up}"
    if status == "repaired":
        return f"would repair {repair} id(s): {why}" + (f" (after it would {catch_up})" if catch_up else "")
    if status == "rebuilt":
        return f"would rebuild: {why}"
    return why
