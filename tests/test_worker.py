"""The background sync worker against real SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest

from docqa.app import Docqa
from docqa.embedders.hash import HashEmbedder
from docqa.sync.worker import SyncWorker
from tests.conftest import random_unit
from tests.helpers import TOPICS, RawSQL, make_chunks
from tests.test_api_support import wait_for


@pytest.fixture
def opened(settings, embedder):
    store = Docqa.open(settings, embedder=embedder)
    store.sync()
    store.add_document(make_chunks(TOPICS[:4]), document_id="seed")
    yield store
    store.close()


def started(settings, store, **changes) -> SyncWorker:
    worker = SyncWorker(settings.replace(**changes), lambda: store.engine)
    worker.start()
    return worker


def test_applies_rows_written_by_another_program(settings, opened):
    # On PostgreSQL the poll interval is irrelevant: LISTEN/NOTIFY wakes the worker.
    worker = started(settings, opened, poll_interval_s=30.0 if opened.db.is_pg else 0.05)
    raw = RawSQL(settings.database_url)
    try:
        if opened.db.is_pg:
            time.sleep(0.3)  # let the listener connect
        vector = random_unit(1, seed=5)[0]
        start = time.monotonic()
        chunk_id = raw.insert_chunk(raw.insert_document(), "written elsewhere", vector)
        wait_for(lambda: len(opened.engine) == 5, timeout_s=2.0, interval_s=0.005)
        latency = time.monotonic() - start
        assert latency < (0.5 if opened.db.is_pg else 1.0), latency
        assert opened.search(vector, k=1)[0].chunk_id == chunk_id
        raw.delete_chunk(chunk_id)
        wait_for(lambda: len(opened.engine) == 4, timeout_s=2.0)
    finally:
        raw.close()
        worker.stop()
    assert opened.engine.last_report.status in ("caught_up", "in_sync")


def test_listens_on_postgres_and_polls_on_sqlite(settings, opened):
    """PostgreSQL: with polling slowed to 30 s, only LISTEN/NOTIFY can bring a plain-SQL write in within seconds."""
    pg = opened.db.is_pg
    worker = started(settings, opened, poll_interval_s=30.0 if pg else 0.05)
    raw = RawSQL(settings.database_url)
    try:
        assert worker.state()["notifications"] == ("listen" if pg else "poll")
        wait_for(lambda: worker.running and opened.engine.last_report is not None)
        chunk = raw.insert_chunk(raw.insert_document(), "written by another program", random_unit(1, seed=5)[0])
        wait_for(lambda: len(opened.engine) == 5, timeout_s=10.0)
        assert opened.search(random_unit(1, seed=5)[0], k=1)[0].chunk_id == chunk
    finally:
        raw.close()
        worker.stop()


def test_periodic_verification_repairs_silent_drift_and_compacts_the_log(settings, opened):
    victim = opened.search(TOPICS[1], k=1)[0].chunk_id
    raw = RawSQL(settings.database_url)
    try:
        new_vector = random_unit(1, seed=11)[0]
        raw.update_embedding_silently(victim, new_vector)
        before = raw.scalar("SELECT count(*) FROM index_changes")
        worker = started(settings, opened, verify_interval_s=0.2, poll_interval_s=0.05, change_log_retention=2)
        try:
            wait_for(lambda: opened.engine.last_report.status == "repaired", timeout_s=5.0)
            assert opened.engine.last_report.repaired == 1
            assert opened.search(new_vector, k=1)[0].chunk_id == victim
            wait_for(lambda: raw.scalar("SELECT count(*) FROM index_changes") <= 2, timeout_s=5.0)
        finally:
            worker.stop()
        assert before > 2
    finally:
        raw.close()


def test_deep_verification_runs_on_its_own_interval(settings, opened):
    index = opened.engine.index
    ids, vectors = index.contents()
    victim = int(ids[0])
    index.raw_vectors()[index.rows_of([victim])] = vectors[1]  # a vector that no longer matches its kept hash
    before = opened.engine.last_report
    worker = started(settings, opened, verify_interval_s=0.1, deep_verify_interval_s=3600.0, poll_interval_s=0.05)
    try:
        wait_for(lambda: opened.engine.last_report is not before, timeout_s=2.0)
        time.sleep(0.4)  # several plain verifications: they compare hashes, so they cannot see it
        assert opened.engine.last_report.status == "in_sync"
    finally:
        worker.stop()
    worker = started(settings, opened, verify_interval_s=0.1, deep_verify_interval_s=0.2, poll_interval_s=0.05)
    try:
        wait_for(lambda: opened.engine.last_report.status == "repaired", timeout_s=5.0)
        assert opened.engine.last_report.repaired == 1
        got_ids, got = opened.engine.index.get([victim])
        assert got_ids.tolist() == [victim] and (got[0] == vectors[0]).all()
    finally:
        worker.stop()


def test_recovers_with_exponential_backoff_once_the_store_opens(settings, opened):
    calls: list[float] = []

    def provider():
        calls.append(time.monotonic())
        return opened.engine if len(calls) > 5 else None

    worker = SyncWorker(settings.replace(retry_initial_s=0.02, retry_max_s=0.16), provider)
    worker.start()
    try:
        wait_for(lambda: len(calls) >= 6 and worker.retries == 0, timeout_s=5.0)
    finally:
        worker.stop()
    gaps = [b - a for a, b in zip(calls, calls[1:6])]
    assert gaps[0] < gaps[2] < gaps[3] + 0.05 and gaps[3] >= 0.14, gaps  # 0.02, 0.04, 0.08, 0.16 (capped)
    assert opened.engine.last_report.status != "degraded"


def test_survives_errors_in_an_iteration(settings, opened):
    calls = []

    def provider():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("transient bug")
        return opened.engine

    worker = SyncWorker(settings.replace(retry_initial_s=0.01, poll_interval_s=0.02), provider)
    worker.start()
    try:
        wait_for(lambda: len(calls) >= 2 and worker.running, timeout_s=3.0)
        opened.add_document(make_chunks(["after the error"]), document_id="later", sync=False)
        wait_for(lambda: len(opened.engine) == 5, timeout_s=3.0)
    finally:
        worker.stop()


def test_stop_is_prompt_and_final(settings, opened):
    worker = started(settings, opened, poll_interval_s=0.05)
    time.sleep(0.3)
    start = time.monotonic()
    worker.stop()
    assert time.monotonic() - start < 1.0
    assert not worker.running
    worker.start()  # a stopped worker stays stopped
    assert not worker.running


def test_unknown_rows_of_another_model_are_not_indexed(settings, opened):
    worker = started(settings, opened, poll_interval_s=0.05)
    raw = RawSQL(settings.database_url)
    try:
        other = raw.insert_chunk(
            raw.insert_document(), "other model", HashEmbedder(dim=8).embed(["x"])[0], model="hash-8"
        )
        after = raw.insert_chunk(raw.insert_document(), "the same model, later", random_unit(1, seed=6)[0])
        wait_for(lambda: len(opened.engine) == 5, timeout_s=10.0)  # the worker applied the log past both rows
        assert opened.engine.applied_seq >= int(raw.scalar("SELECT max(seq) FROM index_changes"))
        assert opened.search(random_unit(1, seed=6)[0], k=5)[0].chunk_id == after
        assert other not in {h.chunk_id for h in opened.search(random_unit(1, seed=6)[0], k=5)}
        assert opened.stats().indexable_chunks == 5 and opened.stats().total_chunks == 6
    finally:
        raw.close()
        worker.stop()


def test_the_default_verification_interval_follows_what_a_verification_costs(settings):
    from docqa.sync.worker import verify_interval

    adaptive = settings.replace(verify_interval_s=0.0, verify_budget=0.05)
    assert verify_interval(adaptive, None) == adaptive.verify_min_interval_s  # nothing measured yet: soon
    assert verify_interval(adaptive, 0.01) == adaptive.verify_min_interval_s  # cheap: as often as allowed
    assert verify_interval(adaptive, 1.0) == pytest.approx(20.0)  # 1 s of work per 20 s = 5% of a core
    assert verify_interval(adaptive, 60.0) == adaptive.verify_max_interval_s  # bounded
    assert verify_interval(settings.replace(verify_interval_s=42.0), 1.0) == 42.0  # a setting wins


def test_with_default_settings_drift_no_trigger_saw_is_found_within_seconds(settings, opened):
    """A change that bypassed the change log (triggers dropped) is repaired by the next verification."""
    assert settings.verify_interval_s == 0.0  # the default: adaptive
    victim = opened.search(TOPICS[2], k=1)[0].chunk_id
    worker = started(settings, opened, poll_interval_s=0.05)
    raw = RawSQL(settings.database_url)
    try:
        wait_for(lambda: opened.engine.last_report is not None, timeout_s=5.0)
        new_vector = random_unit(1, seed=12)[0]
        raw.update_embedding_silently(victim, new_vector)
        wait_for(lambda: opened.engine.last_report.status == "repaired", timeout_s=15.0)
        assert opened.search(new_vector, k=1)[0].chunk_id == victim
        assert worker.state()["verify_every_s"] <= settings.verify_max_interval_s
    finally:
        raw.close()
        worker.stop()
