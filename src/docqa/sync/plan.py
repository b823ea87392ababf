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


class Action(StrEnum):
    REBUILD = "rebuild"
    CATCH_UP = "catch_up"
    IN_SYNC = "in_sync"
    REPAIR = "repair"


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str = ""


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


def plan_start(f: StartFacts) -> Decision:
    if f.mode == "force":
        return Decision(Action.REBUILD, "forced rebuild requested")
    if not f.has_index:
        return Decision(Action.REBUILD, f.snapshot_problem or "no index loaded")
    if f.index_identity != f.db_identity:
        return Decision(
            Action.REBUILD, f"index was built against database {f.index_identity or '?'}, this is {f.db_identity}"
        )
    if f.applied_seq > f.db_max_seq:
        return Decision(
            Action.REBUILD,
            f"index has applied change {f.applied_seq} but the database log ends at {f.db_max_seq} (restored or foreign database)",
        )
    if f.applied_seq < f.log_floor:
        return Decision(
            Action.REBUILD, f"change log was compacted past the index's position ({f.applied_seq} < {f.log_floor})"
        )
    return Decision(
        Action.CATCH_UP, f"{f.db_max_seq - f.applied_seq} change(s) to apply" if f.db_max_seq > f.applied_seq else ""
    )


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
    return Decision(Action.REBUILD, f"{differing} id(s) differ, more than the repair limit {limit}")


def diff_rows(
    db_ids: np.ndarray, db_hashes: np.ndarray, idx_ids: np.ndarray, idx_hashes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids only in the DB, ids only in the index, ids in both with another row hash), each sorted.

    Ids are unique on each side. One sort per side and a binary search: 0.2 s
    at 1M rows, where np.setdiff1d took 1.3 s per call.
    """
    db_order, idx_order = np.argsort(db_ids, kind="stable"), np.argsort(idx_ids, kind="stable")
    db_ids, db_hashes = np.asarray(db_ids)[db_order], np.asarray(db_hashes)[db_order]
    idx_ids, idx_hashes = np.asarray(idx_ids)[idx_order], np.asarray(idx_hashes)[idx_order]
    pos = np.searchsorted(idx_ids, db_ids)
    clipped = np.minimum(pos, max(len(idx_ids) - 1, 0))
    in_index = (pos < len(idx_ids)) & (idx_ids[clipped] == db_ids) if len(idx_ids) else np.zeros(len(db_ids), bool)
    in_db = np.zeros(len(idx_ids), dtype=bool)
    in_db[pos[in_index]] = True
    changed = in_index.copy()
    changed[in_index] = db_hashes[in_index] != idx_hashes[pos[in_index]]
    return db_ids[~in_index], idx_ids[~in_db], db_ids[changed]


def final_status(rebuilt: bool, repaired: int, added: int, removed: int) -> str:
    if rebuilt:
        return "rebuilt"
    if repaired:
        return "repaired"
    if added or removed:
        return "caught_up"
    return "in_sync"
