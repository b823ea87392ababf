"""Three replicas and standalone `docqa worker` processes on one PostgreSQL (issue 14, items 2-3).

Jobs are submitted through random replicas. A worker is killed with SIGKILL in the middle of a job;
the job's lease runs out, another worker runs it again, and every job ends `done` with exactly one
document per file. Every replica then serves every document once it has applied the jobs' seqs.
Skipped until the jobs layer (`docqa worker`, /api/v1/jobs) is in this tree.
"""

from __future__ import annotations

import importlib.util
import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fleet import Replica, poll

ROOT = Path(__file__).resolve().parents[1]
JOBS_PRESENT = importlib.util.find_spec("docqa.cli.cmd_worker") is not None and (ROOT / "tests/slow_docqa.py").exists()
pytestmark = pytest.mark.skipif(not JOBS_PRESENT, reason="the jobs layer (docqa worker) is not in this tree")


def text(i: int) -> str:
    return f"worker replica file {i}: words of its own wq{i}x{i * 104729}\n"


def start_worker(db_url: str, tmp_path: Path, name: str, **extra: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCQA_")}
    env.update(
        DOCQA_EMBEDDER="hash",
        DOCQA_DATABASE_URL=db_url,
        DOCQA_DATA_DIR=str(tmp_path / f"data-{name}"),
        DOCQA_JOB_POLL_S="0.05",
        DOCQA_JOB_LEASE_S="1",
        DOCQA_JOB_RETRY_DELAY_S="0",
        PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")]),
        **extra,
    )
    with open(tmp_path / f"{name}.log", "ab") as out:
        cmd = [sys.executable, "-m", "tests.slow_docqa", "worker", "--concurrency", "1"]
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


@pytest.fixture
def fleet(pg_url: str, tmp_path: Path) -> Iterator[list[Replica]]:
    replicas = [Replica(n, pg_url, tmp_path / f"data-{n}", tmp_path, job_workers=0) for n in "abc"]
    try:
        for r in replicas:
            r.start()
        for r in replicas:
            r.wait_healthy()
        yield replicas
    finally:
        for r in replicas:
            r.close()


def submit(replica: Replica, i: int) -> str:
    resp = replica.http.post("/api/v1/jobs", files={"file": (f"file-{i}.txt", text(i).encode(), "text/plain")})
    assert resp.status_code == 202, resp.text
    return str(resp.json()["job_id"])


def job(replica: Replica, job_id: str) -> dict[str, Any]:
    body: dict[str, Any] = replica.http.get(f"/api/v1/jobs/{job_id}").json()
    return body


def test_replicas_and_workers_on_one_postgresql(fleet: list[Replica], pg_url: str, tmp_path: Path):
    rng = random.Random(3)
    marker = tmp_path / "embedding"
    workers: list[subprocess.Popen[bytes]] = []
    try:
        doomed = start_worker(
            pg_url, tmp_path, "doomed", DOCQA_TEST_EMBED_STALL_S="120", DOCQA_TEST_EMBED_MARKER=str(marker)
        )
        workers.append(doomed)
        jobs = [submit(fleet[0], 0)]
        poll(marker.exists, 60, "the doomed worker to be mid-job")
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)
        workers += [start_worker(pg_url, tmp_path, f"w{n}") for n in (1, 2)]
        jobs += [submit(rng.choice(fleet), i) for i in range(1, 8)]

        def all_done() -> list[dict[str, Any]] | None:
            states = [job(rng.choice(fleet), j) for j in jobs]
            assert not [s for s in states if s["status"] in ("failed", "cancelled")], states
            return states if all(s["status"] == "done" for s in states) else None

        done = poll(all_done, 120, "every job to end done", every_s=0.2)
    finally:
        for w in workers:
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)
                w.wait(15)
    assert done[0]["attempts"] >= 2, done[0]  # the killed worker's job ran again
    documents = [d["document_id"] for d in done]
    assert len(set(documents)) == len(jobs)  # one document per file
    last = max(d["result"]["seq"] for d in done)
    for r in fleet:
        for i, document_id in enumerate(documents):
            assert r.top_document(text(i), min_seq=last) == document_id, (r.name, i)
        stats = r.stats()
        assert stats["total_documents"] == len(jobs) and stats["total_vectors"] == stats["indexable_chunks"], stats
