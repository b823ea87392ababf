"""The sync decision rules, without I/O."""

from docqa.sync.plan import Action, StartFacts, check_reason, final_status, plan_repair, plan_start, plan_verify


def facts(**kw) -> StartFacts:
    base = dict(
        mode="auto",
        has_index=True,
        snapshot_problem="",
        index_identity="db1",
        db_identity="db1",
        applied_seq=10,
        db_max_seq=12,
        log_floor=0,
    )
    base.update(kw)
    return StartFacts(**base)


def test_force_always_rebuilds():
    assert plan_start(facts(mode="force")).action is Action.REBUILD


def test_no_index_rebuilds_with_the_snapshot_problem_as_reason():
    d = plan_start(facts(has_index=False, snapshot_problem="index.faiss checksum does not match"))
    assert d.action is Action.REBUILD and "checksum" in d.reason


def test_foreign_database_rebuilds():
    d = plan_start(facts(index_identity="other"))
    assert d.action is Action.REBUILD and "other" in d.reason


def test_restored_database_behind_the_index_rebuilds():
    d = plan_start(facts(applied_seq=50, db_max_seq=12))
    assert d.action is Action.REBUILD and "restored" in d.reason


def test_compacted_log_rebuilds():
    d = plan_start(facts(applied_seq=5, log_floor=8))
    assert d.action is Action.REBUILD and "compacted" in d.reason


def test_otherwise_catch_up():
    assert plan_start(facts()).action is Action.CATCH_UP
    assert plan_start(facts(applied_seq=12)).action is Action.CATCH_UP


def test_a_missing_snapshot_is_reported_as_missing():
    d = plan_start(facts(has_index=False, snapshot_problem="snapshot missing", snapshot_kind="missing"))
    assert d.action is Action.REBUILD and d.reason == "snapshot missing" and d.cause == "missing"
    d = plan_start(
        facts(has_index=False, snapshot_problem="index parameters changed: m 32 -> 16", snapshot_kind="settings")
    )
    assert d.cause == "settings" and "m 32 -> 16" in d.reason
    d = plan_start(
        facts(has_index=False, snapshot_problem="index.faiss checksum does not match", snapshot_kind="invalid")
    )
    assert d.cause == "invalid"
    assert plan_start(facts(mode="force")).cause == "forced"


def test_check_reason_says_what_a_sync_would_do():
    assert check_reason("in_sync") == ""
    assert check_reason("caught_up", pending=3, added=2, removed=1) == "would catch up 3 change(s) (+2 -1)"
    assert check_reason("repaired", repair=2, why="count differs").startswith("would repair 2 id(s): count differs")
    said = check_reason("repaired", pending=1, removed=1, repair=2, why="x")
    assert said.endswith("(after it would catch up 1 change(s) (+0 -1))")
    assert check_reason("rebuilt", pending=4, why="snapshot missing") == "would rebuild: snapshot missing"


def test_verify_compares_count_and_digest():
    assert plan_verify(3, 99, 3, 99).action is Action.IN_SYNC
    assert "count" in plan_verify(3, 99, 2, 99).reason
    assert "digest" in plan_verify(3, 99, 3, 98).reason


def test_repair_below_threshold_rebuild_above():
    assert plan_repair(5, 1_000_000, 0.1).action is Action.REPAIR
    assert plan_repair(200_000, 1_000_000, 0.1).action is Action.REBUILD
    assert plan_repair(900, 10, 0.1).action is Action.REPAIR  # small collections: floor of 1000


def test_final_status():
    assert final_status(True, 0, 0) == "rebuilt"
    assert final_status(False, 2, 0) == "repaired"
    assert final_status(False, 0, 1) == "caught_up"  # changes applied, even ones that cancel out
    assert final_status(False, 0, 0) == "in_sync"


def test_diff_rows_finds_missing_extra_and_changed_ids_in_any_order():
    import numpy as np

    from docqa.sync.plan import diff_rows

    db_ids = np.array([9, 1, 5, 7, 3], dtype=np.int64)
    db_h = np.array([90, 10, 50, 70, 30], dtype=np.uint64)
    idx_ids = np.array([3, 4, 7, 1], dtype=np.int64)
    idx_h = np.array([30, 40, 71, 10], dtype=np.uint64)
    only_db, only_index, changed = diff_rows(db_ids, db_h, idx_ids, idx_h)
    assert only_db.tolist() == [5, 9] and only_index.tolist() == [4] and changed.tolist() == [7]
    empty = np.empty(0, dtype=np.int64), np.empty(0, dtype=np.uint64)
    assert [a.tolist() for a in diff_rows(db_ids, db_h, *empty)] == [[1, 3, 5, 7, 9], [], []]
    assert [a.tolist() for a in diff_rows(*empty, idx_ids, idx_h)] == [[], [1, 3, 4, 7], []]
    assert [a.tolist() for a in diff_rows(db_ids, db_h, db_ids[::-1], db_h[::-1])] == [[], [], []]


def test_diff_rows_agrees_with_set_arithmetic_on_random_cases():
    import numpy as np

    from docqa.sync.plan import diff_rows

    rng = np.random.default_rng(4)
    for _ in range(50):
        db = {int(i): int(rng.integers(0, 3)) for i in rng.choice(60, rng.integers(0, 40), replace=False)}
        ix = {int(i): int(rng.integers(0, 3)) for i in rng.choice(60, rng.integers(0, 40), replace=False)}
        arr = lambda d: (np.array(list(d), dtype=np.int64), np.array(list(d.values()), dtype=np.uint64))  # noqa: E731
        got = [a.tolist() for a in diff_rows(*arr(db), *arr(ix))]
        want = [
            sorted(db.keys() - ix.keys()),
            sorted(ix.keys() - db.keys()),
            sorted(k for k in db.keys() & ix.keys() if db[k] != ix[k]),
        ]
        assert got == want
