"""Ingest jobs through the library and a worker pool, on SQLite and PostgreSQL: lifecycle, leases, cancel, poison."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator

import pytest

from docqa.app import Docqa
from docqa.config import Settings
from docqa.embedders.hash import HashEmbedder
from docqa.errors import Conflict, InvalidInput, NotFound
from docqa.ingest import stream
from docqa.storage import job_data
from docqa.storage import jobs as job_sql
from tests.helpers import TOPICS, RawSQL

TEXT = ("\n\n".join(TOPICS) + "\n").encode()
# ~60 chunks of one paragraph each: several batches of a streaming ingest (see `small_batches`)
MANY = "\n\n".join(" ".join([f"{TOPICS[i % len(TOPICS)]} (note {i})."] * 14) for i in range(60)).encode()


@pytest.fixture
def small_batches(monkeypatch):
    """Ingest streams in batches (512 chunks): make them small, so a cancel or a stop is seen between them."""
    monkeypatch.setattr(stream, "BATCH_CHUNKS", 16)


def wait_for(predicate, timeout_s: float = 30.0, every_s: float = 0.02):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError("condition not reached in time")


class GatedEmbedder(HashEmbedder):
    """The hash embedder, stopping inside `embed` until the test opens the gate (a job that is mid-run)."""

    def __init__(self) -> None:
        super().__init__(dim=384)
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.fail_with: str = ""

    def embed(self, texts):
        self.entered.set()
        if self.fail_with:
            raise RuntimeError(self.fail_with)
        assert self.gate.wait(30), "the test never opened the gate"
        return super().embed(texts)


@pytest.fixture
def job_settings(settings: Settings) -> Settings:
    return settings.replace(job_poll_s=0.02, job_retry_delay_s=0.0, job_lease_s=2.0, job_max_attempts=2)


@pytest.fixture
def gated(job_settings: Settings) -> Iterator[tuple[Docqa, GatedEmbedder]]:
    embedder = GatedEmbedder()
    library = Docqa.open(job_settings, embedder=embedder)
    yield library, embedder
    embedder.gate.set()
    for pool in library.jobs.pools:
        pool.stop(timeout_s=10)
    library.close()


def finished(library: Docqa, job_id: str):
    job = library.jobs.get(job_id)
    return job if job.finished else None


def test_a_job_runs_to_done_once_and_its_bytes_are_cleared(gated, job_settings):
    library, embedder = gated
    embedder.gate.set()
    job = library.jobs.submit(TEXT, "topics.txt", metadata={"team": "a"})
    assert job.status == "queued" and job.attempts == 0 and job.size_bytes == len(TEXT)
    assert library.jobs.stats().counts["queued"] == 1
    pool = library.jobs.pool(1)
    pool.start()
    done = wait_for(lambda: finished(library, job.id))
    assert done.status == "done" and done.attempts == 1 and done.error is None
    assert done.result["status"] == "added" and done.chunks_total == done.result["chunks"] > 0
    assert done.chunks_done == done.chunks_total and done.started_at and done.finished_at >= done.started_at
    doc = library.get_document(done.result_document_id)
    assert doc.status == "indexed" and doc.metadata["team"] == "a"
    raw = RawSQL(job_settings.resolved_database_url)
    assert raw.execute(raw.q("SELECT data FROM jobs WHERE id = ?"), (job.id,)).fetchone()[0] is None
    again = library.jobs.submit(TEXT, "topics.txt", metadata={"team": "a"})  # the identity rule: the same document
    second = wait_for(lambda: finished(library, again.id))
    assert second.result["status"] == "unchanged" and second.result_document_id == done.result_document_id
    assert len(library.list_documents()) == 1
    stats = library.jobs.stats()
    assert stats.counts["done"] == 2 and stats.counts["queued"] == 0
    assert [w["id"] for w in stats.workers] == [pool.id]
    assert library.jobs.list_jobs("done")[0].id == again.id  # newest first
    with pytest.raises(InvalidInput):
        library.jobs.list_jobs("sleeping")


def test_a_claim_is_exclusive_and_an_expired_lease_is_claimed_again(store, settings):
    job = store.jobs.submit(TEXT, "topics.txt")
    with store.db.connection() as a, store.db.connection() as b:
        first = job_sql.claim(a, settings.collection, "worker-a", lease_s=60)
        assert first is not None and first.id == job.id and first.attempts == 1 and first.status == "running"
        assert job_sql.claim(b, settings.collection, "worker-b", lease_s=60) is None  # held
        a.execute("UPDATE jobs SET lease_expires_at = lease_expires_at - 120")  # worker-a went silent
        taken = job_sql.claim(b, settings.collection, "worker-b", lease_s=60)
        assert taken is not None and taken.attempts == 2 and taken.lease_owner == "worker-b"
        # the first worker wakes up: nothing it does counts any more
        assert job_sql.heartbeat(a, job.id, "worker-a", 60, 1, 2) == (False, False)
        assert not job_sql.finish(a, job.id, "worker-a", "done")
        assert job_sql.finish(b, job.id, "worker-b", "done", document_id="d1")
    assert store.jobs.get(job.id).status == "done"


@pytest.mark.parametrize("as_file", [False, True])
def test_a_jobs_bytes_go_in_and_out_piece_by_piece(store, monkeypatch, as_file):
    data = TEXT * 3 + bytes(range(256))  # any bytes, NUL included
    monkeypatch.setattr(job_data, "PIECE", 7)
    upload = io.BytesIO(b"skipped" + data)
    upload.seek(7)  # from the file's offset on
    job = store.jobs.submit(upload if as_file else data, "topics.txt")
    assert job.size_bytes == len(data)
    out = io.BytesIO()
    with store.db.connection() as conn:
        assert job_data.copy(conn, job.id, out, piece=5) == len(data)
        if conn.is_pg:  # the large object used on the way in is gone
            assert conn.scalar("SELECT count(*) FROM pg_largeobject_metadata") == 0
    assert out.read() == data


def test_a_worker_lost_on_the_last_attempt_fails_the_job(store, settings):
    job = store.jobs.submit(TEXT, "topics.txt")
    with store.db.connection() as conn:
        for attempt in range(settings.job_max_attempts):
            assert job_sql.claim(conn, settings.collection, f"w{attempt}", lease_s=60) is not None
            conn.execute("UPDATE jobs SET lease_expires_at = lease_expires_at - 120")
        assert job_sql.claim(conn, settings.collection, "last", lease_s=60) is None
    failed = store.jobs.get(job.id)
    assert failed.status == "failed" and failed.error_code == "worker_lost"
    assert f"attempt {settings.job_max_attempts} of {settings.job_max_attempts}" in failed.error


def test_cancel_a_queued_job_and_refuse_to_cancel_a_finished_or_unknown_one(store):
    job = store.jobs.submit(TEXT, "topics.txt")
    cancelled = store.jobs.cancel(job.id)
    assert cancelled.status == "cancelled" and cancelled.cancel_requested and cancelled.finished_at
    with pytest.raises(Conflict):
        store.jobs.cancel(job.id)
    with pytest.raises(NotFound):
        store.jobs.cancel("00000000-0000-0000-0000-000000000000")
    with pytest.raises(NotFound):
        store.jobs.get("no-such-job")
    with store.db.connection() as conn:  # nothing claims it
        assert job_sql.claim(conn, store.collection, "w", 60) is None


def test_cancel_a_running_job_stops_it_before_anything_is_written(gated, small_batches):
    library, embedder = gated
    job = library.jobs.submit(MANY, "many.txt")
    library.jobs.pool(1).start()
    assert embedder.entered.wait(30)
    running = library.jobs.cancel(job.id)
    assert running.status == "running" and running.cancel_requested
    embedder.gate.set()  # the embedding finishes; the write must not happen
    ended = wait_for(lambda: finished(library, job.id))
    assert ended.status == "cancelled" and ended.error_code == "cancelled"
    assert library.list_documents() == []


def test_a_poison_job_ends_failed_after_max_attempts_with_its_error(gated, job_settings):
    library, embedder = gated
    embedder.fail_with = "model server crashed"
    job = library.jobs.submit(TEXT, "topics.txt")
    library.jobs.pool(1).start()
    ended = wait_for(lambda: finished(library, job.id))
    assert ended.status == "failed" and ended.attempts == job_settings.job_max_attempts
    assert "model server crashed" in ended.error and ended.error_code == "job_error"
    assert library.list_documents() == []  # the job holds this failure: no document row was made


def test_a_file_that_does_not_parse_fails_at_once(gated):
    library, embedder = gated
    embedder.gate.set()
    job = library.jobs.submit(b"%PDF-1.4 this is not really a pdf", "scan.pdf")
    library.jobs.pool(1).start()
    ended = wait_for(lambda: finished(library, job.id))
    assert ended.status == "failed" and ended.attempts == 1 and "scan.pdf" in ended.error
    # the content's failure is the document's (as for every ingest): the job points at that row
    doc = library.get_document(ended.result_document_id)
    assert doc.status == "failed" and doc.error == ended.error


def test_stopping_a_worker_returns_its_job_to_the_queue_uncounted(gated, small_batches):
    library, embedder = gated
    job = library.jobs.submit(MANY, "many.txt")
    pool = library.jobs.pool(1)
    pool.start()
    assert embedder.entered.wait(30)
    stopper = threading.Thread(target=pool.stop)
    stopper.start()
    wait_for(lambda: not pool.state()["alive"])
    embedder.gate.set()
    stopper.join(30)
    back = library.jobs.get(job.id)
    assert back.status == "queued" and back.attempts == 0 and back.lease_owner is None
    assert library.list_documents() == []
    assert library.jobs.stats().workers == []  # it left


def test_a_heartbeating_worker_keeps_its_job_past_many_leases(job_settings):
    embedder = GatedEmbedder()
    library = Docqa.open(job_settings.replace(job_lease_s=0.3), embedder=embedder)
    try:
        job = library.jobs.submit(TEXT, "topics.txt")
        pool = library.jobs.pool(1)
        pool.start()
        assert embedder.entered.wait(30)
        deadline = time.monotonic() + 2.0  # about 7 leases
        with library.db.connection() as conn:
            while time.monotonic() < deadline:  # another worker keeps trying to take it over
                assert job_sql.claim(conn, job_settings.collection, "thief", 60) is None
                time.sleep(0.05)
        embedder.gate.set()
        done = wait_for(lambda: finished(library, job.id))
        assert done.status == "done" and done.attempts == 1
        pool.stop(timeout_s=10)
    finally:
        embedder.gate.set()
        library.close()


def test_a_worker_thread_survives_a_database_error_while_ending_a_job(gated, monkeypatch):
    library, embedder = gated
    embedder.gate.set()
    real_finish, calls = job_sql.finish, []

    def flaky_finish(*args, **kwargs):
        calls.append(args[1])
        if len(calls) == 1:
            from docqa.errors import DatabaseUnavailable

            raise DatabaseUnavailable("database unavailable: the server closed the connection")
        return real_finish(*args, **kwargs)

    monkeypatch.setattr(job_sql, "finish", flaky_finish)
    first = library.jobs.submit(TEXT, "one.txt")
    library.jobs.pool(1).start()
    # the first end is lost; its lease runs out and the same thread (still alive) runs it again
    ended = wait_for(lambda: finished(library, first.id))
    assert ended.status == "done" and ended.attempts == 2 and calls[0] == first.id
    second = library.jobs.submit(b"another document about bicycles\n", "two.txt")
    assert wait_for(lambda: finished(library, second.id)).status == "done"
    assert len(library.list_documents()) == 2


def test_finished_jobs_are_forgotten_after_the_retention_period(store):
    kept = store.jobs.submit(TEXT, "queued.txt")
    gone = store.jobs.submit(TEXT, "cancelled.txt")
    store.jobs.cancel(gone.id)
    with store.db.connection() as conn:
        assert job_sql.purge_finished(conn, older_than_s=3600) == 0
        conn.execute("UPDATE jobs SET finished_at = finished_at - 7200 WHERE id = ?", (gone.id,))
        assert job_sql.purge_finished(conn, older_than_s=3600) == 1
    assert [j.id for j in store.jobs.list_jobs()] == [kept.id]


def test_a_services_worker_applies_its_write_to_the_index_before_the_job_ends(store):
    """In `docqa serve` (catch_up): a shutdown right after a job saves a snapshot that has it (fault campaign)."""
    store.jobs.pool(1, catch_up=True).start()
    job = store.jobs.submit(TEXT, "topics.txt")
    done = wait_for(lambda: finished(store, job.id))
    assert done.status == "done" and store.index_state().applied_seq >= done.result["seq"] > 0
    for pool in store.jobs.pools:
        pool.stop(timeout_s=10)


def test_submitting_a_file_never_holds_it_whole_in_memory(store, tmp_path):
    import tracemalloc

    big = tmp_path / "big.txt"
    with big.open("wb") as out:
        for i in range(8):  # 8 MiB, written a MiB at a time
            out.write((f"part {i} " + TOPICS[i % len(TOPICS)] + "\n").encode().ljust(1 << 20, b"."))
    tracemalloc.start()
    try:
        with big.open("rb") as file:
            job = store.jobs.submit(file, "big.txt")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert job.size_bytes == 8 << 20
    assert peak < 4 << 20, f"peak {peak / 2**20:.1f} MiB while storing an 8 MiB file"


def test_two_processes_worth_of_workers_run_each_job_exactly_once(job_settings):
    """Two libraries (two pools of 2 threads, their own connections) drain one queue: SKIP LOCKED / IMMEDIATE."""
    first, second = Docqa.open(job_settings), Docqa.open(job_settings)
    try:
        ids = [first.jobs.submit(f"{TOPICS[i % 10]} number {i}.\n".encode(), f"f{i}.txt").id for i in range(24)]
        pools = [first.jobs.pool(2, name="a"), second.jobs.pool(2, name="b")]
        for pool in pools:
            pool.start()
        wait_for(lambda: all(j.finished for j in first.jobs.get_many(ids)), timeout_s=60)
        for pool in pools:
            pool.stop(timeout_s=10)
        ended = first.jobs.get_many(ids)
        assert {j.status for j in ended} == {"done"} and {j.attempts for j in ended} == {1}
        assert len(first.list_documents()) == 24
        assert sum(p.done for p in pools) == 24
    finally:
        first.close()
        second.close()


def test_postgresql_wakes_an_idle_worker_of_another_process_at_once(pg_url, tmp_path):
    """LISTEN/NOTIFY: a worker polling only every 60 s still takes a job queued elsewhere at once."""
    s = Settings(data_dir=tmp_path / "data", database_url=pg_url, embedder="hash", job_poll_s=60.0)
    worker_side, submitter = Docqa.open(s), Docqa.open(s)  # two libraries: no in-process wake between them
    try:
        pool = worker_side.jobs.pool(1)
        pool.start()
        time.sleep(0.5)  # the pool's first claim found nothing: it is idle for the next 60 s
        job = submitter.jobs.submit(TEXT, "topics.txt")
        done = wait_for(lambda: finished(submitter, job.id), timeout_s=20)  # far below the poll interval
        assert done.status == "done"
        pool.stop(timeout_s=10)
    finally:
        worker_side.close()
        submitter.close()
