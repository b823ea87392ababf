"""`docqa worker` as real processes on SQLite and PostgreSQL: SIGKILL mid-job, SIGTERM, `ingest --queue`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from docqa.app import Docqa
from docqa.config import Settings
from tests.helpers import TOPICS
from tests.test_serve_process import free_port

ROOT = Path(__file__).resolve().parents[1]
# a large file: many chunks, one job
BIG = ("\n\n".join(f"{t} (part {i})." for i in range(40) for t in TOPICS) + "\n").encode()


def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DOCQA_EMBEDDER": "hash",
        "DOCQA_DATA_DIR": str(settings.data_dir),
        "DOCQA_DATABASE_URL": settings.resolved_database_url,
        "DOCQA_JOB_POLL_S": "0.05",
        "DOCQA_JOB_RETRY_DELAY_S": "0",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")]),
        **extra,
    }
    env.pop("DOCQA_API_KEY", None)
    return env


def start_worker(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen:
    with open(log, "a") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.slow_docqa", "worker", "--concurrency", "1", *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_for(predicate, proc: subprocess.Popen | None = None, timeout_s: float = 60.0, log: Path | None = None):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"worker exited with {proc.returncode}: {log.read_text() if log else ''}")
        time.sleep(0.05)
    raise AssertionError(f"condition not reached in time: {log.read_text() if log else ''}")


@pytest.fixture
def library(settings: Settings):
    s = settings.replace(job_workers=0)
    lib = Docqa.open(s)
    yield lib
    lib.close()


def test_a_worker_killed_mid_job_loses_it_to_another_which_finishes_it_once(library, settings, tmp_path):
    marker, log = tmp_path / "embedding", tmp_path / "workers.log"
    job = library.jobs.submit(BIG, "big.txt")
    doomed = start_worker(
        worker_env(
            settings, DOCQA_JOB_LEASE_S="1", DOCQA_TEST_EMBED_STALL_S="120", DOCQA_TEST_EMBED_MARKER=str(marker)
        ),
        log,
    )
    try:
        wait_for(marker.exists, doomed, log=log)
        running = library.jobs.get(job.id)  # mid-embedding
        assert running.status == "running" and running.attempts == 1 and running.chunks_done == 0
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(30)
    finally:
        doomed.kill()
    rescuer = start_worker(worker_env(settings, DOCQA_JOB_LEASE_S="1"), log)
    try:
        done = wait_for(lambda: (j := library.jobs.get(job.id)).finished and j, rescuer, log=log)
    finally:
        rescuer.send_signal(signal.SIGTERM)
        assert rescuer.wait(30) == 0, log.read_text()
    assert done.status == "done" and done.attempts == 2, done
    docs = library.list_documents()
    assert len(docs) == 1 and docs[0].id == done.result_document_id and docs[0].status == "indexed"
    assert docs[0].chunks_total == done.result["chunks"] == done.chunks_total
    assert library.sync().db_count == done.chunks_total  # every chunk in, once


def test_sigterm_returns_the_running_job_to_the_queue_and_exits_cleanly(library, settings, tmp_path):
    marker, log = tmp_path / "embedding", tmp_path / "worker.log"
    job = library.jobs.submit(BIG, "big.txt")
    worker = start_worker(
        worker_env(
            settings,
            DOCQA_JOB_LEASE_S="10",
            DOCQA_TEST_EMBED_STALL_S="1",
            DOCQA_TEST_EMBED_MARKER=str(marker),
            DOCQA_TEST_BATCH_CHUNKS="8",
        ),
        log,
    )
    try:
        wait_for(marker.exists, worker, log=log)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(60) == 0, log.read_text()
    finally:
        worker.kill()
    back = library.jobs.get(job.id)
    assert back.status == "queued" and back.attempts == 0 and back.lease_owner is None, back
    assert library.list_documents() == [] and library.jobs.stats().workers == []


def test_a_job_that_kills_every_worker_ends_failed_after_max_attempts(settings, tmp_path):
    """A poison job: each worker that takes it dies on it (SIGKILL); after max_attempts it is failed, and the
    other jobs run."""
    log = tmp_path / "workers.log"
    library = Docqa.open(settings.replace(job_workers=0, job_max_attempts=2))  # the submitter sets max_attempts
    env = worker_env(settings, DOCQA_JOB_LEASE_S="1", DOCQA_TEST_CRASH_ON="POISON")
    poison = library.jobs.submit(b"this document is POISON for the model\n", "poison.txt")
    healthy = library.jobs.submit(b"an ordinary document about bicycles\n", "fine.txt")
    deaths, worker = 0, start_worker(env, log)
    try:
        deadline = time.monotonic() + 90
        while not all(library.jobs.get(j.id).finished for j in (poison, healthy)) and time.monotonic() < deadline:
            if worker.poll() is not None:  # died on the poison job: an operator's supervisor restarts it
                deaths += 1
                worker = start_worker(env, log)
            time.sleep(0.05)
        failed, done = library.jobs.get(poison.id), library.jobs.get(healthy.id)
        assert failed.status == "failed" and failed.attempts == 2 and failed.error_code == "worker_lost", failed
        assert "attempt 2 of 2" in failed.error and deaths == 2
        assert done.status == "done"
        assert [d.filename for d in library.list_documents()] == ["fine.txt"]
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
        library.close()


def test_ingest_queue_submits_files_as_jobs_and_follows_them(library, settings, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    for i, topic in enumerate(TOPICS[:4]):
        (folder / f"t{i}.txt").write_text(f"{topic}.\n")
    (folder / "scan.pdf").write_bytes(b"%PDF-1.4 not really")
    log, port = tmp_path / "worker.log", free_port()
    worker = start_worker(worker_env(settings, DOCQA_JOB_LEASE_S="5"), log, "--metrics-port", str(port))
    try:
        cli = subprocess.run(
            [sys.executable, "-m", "docqa.cli.main", "ingest", "--queue", str(folder), "--json"],
            cwd=ROOT,
            env=worker_env(settings),
            capture_output=True,
            text=True,
            timeout=120,
        )
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text  # the worker's own
        assert 'docqa_jobs_finished_total{status="done"} 4.0' in metrics, metrics
        assert 'docqa_jobs_finished_total{status="failed"} 1.0' in metrics
        assert 'docqa_job_duration_seconds_count{status="done"} 4.0' in metrics
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
    assert cli.returncode == 1, cli.stdout + cli.stderr  # one file failed
    import json

    summary = json.loads(cli.stdout)
    assert summary["jobs"] == 5 and summary["done"] == 4 and summary["added"] == 4 and summary["failed"] == 1
    assert summary["failures"][0]["file"].endswith("scan.pdf")
    sources = sorted(Path(d.source).name for d in library.list_documents() if d.status == "indexed")
    assert sources == ["t0.txt", "t1.txt", "t2.txt", "t3.txt"]
    check = subprocess.run(  # like a local ingest, a queued one leaves the index in sync on disk
        [sys.executable, "-m", "docqa.cli.main", "sync", "--check"],
        cwd=ROOT,
        env=worker_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0 and check.stdout.startswith("in_sync"), check.stdout + check.stderr
