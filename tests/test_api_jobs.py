"""`/api/v1/jobs` and the upload's compatibility through the real app, on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest

from docqa.config import Settings
from tests.helpers import TOPICS
from tests.test_api_support import assert_error, fast, running

TEXT = ("\n\n".join(TOPICS) + "\n").encode()
ADMIN, READER = "admin-key-123", "read-key-456"


def submit(client, name="topics.txt", data=TEXT, **form):
    return client.post("/api/v1/jobs", files={"file": (name, data)}, data=form)


def wait_done(client, job_id: str, timeout_s: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/jobs/{job_id}").json()
        if body["status"] in ("done", "failed", "cancelled"):
            return body
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} did not finish: {body}")


@pytest.fixture
def base(settings: Settings) -> Settings:
    return fast(settings, job_poll_s=0.02, max_upload_bytes=100_000)


def test_a_job_is_accepted_at_once_and_followed_to_done(base):
    with running(base) as client:
        accepted = submit(client, metadata='{"team": "a"}', source="share://topics.txt")
        assert accepted.status_code == 202, accepted.text
        job = accepted.json()
        assert job["status"] in ("queued", "running") and job["job_id"] and job["attempts"] <= 1
        done = wait_done(client, job["job_id"])
        assert done["status"] == "done" and done["document_id"] and done["error"] is None
        assert done["progress"]["chunks_done"] == done["progress"]["chunks_total"] == done["result"]["chunks"] > 0
        assert done["created_at"].endswith("Z") and done["finished_at"] >= done["started_at"]
        status = client.get(f"/api/v1/index/status/{done['document_id']}").json()
        assert status["status"] == "indexed"
        page = client.get("/api/v1/jobs", params={"status": "done"}).json()
        assert [j["job_id"] for j in page["jobs"]] == [job["job_id"]] and page["next_offset"] is None
        assert client.get("/api/v1/jobs", params={"status": "queued"}).json()["jobs"] == []
        assert_error(client.delete(f"/api/v1/jobs/{job['job_id']}"), 409, "conflict")
        health = client.get("/health").json()
        assert health["jobs"]["counts"]["done"] == 1 and health["jobs"]["in_process"]["concurrency"] == 1
        assert len(health["jobs"]["workers"]) == 1
        metrics = client.get("/metrics").text
        assert 'docqa_jobs{status="done"} 1.0' in metrics and 'docqa_jobs_finished_total{status="done"} 1.0' in metrics
        assert "docqa_job_duration_seconds_count" in metrics and "docqa_job_workers_seen 1.0" in metrics


def test_bad_input_to_every_jobs_route_is_a_clear_4xx(base):
    with running(base.replace(job_workers=0)) as client:
        assert_error(client.get("/api/v1/jobs/00000000-0000-0000-0000-000000000000"), 404, "not_found")
        assert_error(client.delete("/api/v1/jobs/00000000-0000-0000-0000-000000000000"), 404, "not_found")
        assert_error(client.get("/api/v1/jobs/not%20an%20id"), 422)
        assert_error(client.get("/api/v1/jobs", params={"status": "sleeping"}), 422)
        assert_error(client.get("/api/v1/jobs", params={"limit": 0}), 422)
        assert_error(client.post("/api/v1/jobs", data={"source": "x"}), 415)  # not multipart
        assert_error(client.post("/api/v1/jobs", files={"other": ("a.txt", b"x")}), 422)  # no 'file' field
        assert_error(submit(client, "a.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64), 415)
        assert_error(submit(client, data=b"x" * 100_001), 413)
        assert_error(submit(client, metadata="[1, 2]"), 422)
        assert_error(submit(client, document_id="bad id!"), 422)
        assert client.get("/api/v1/jobs").json()["jobs"] == []  # nothing refused was queued


def test_cancel_a_queued_job_and_see_it_listed(base):
    with running(base.replace(job_workers=0)) as client:
        job = submit(client).json()
        cancelled = client.delete(f"/api/v1/jobs/{job['job_id']}")
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        assert client.get("/api/v1/jobs", params={"status": "cancelled"}).json()["jobs"][0]["job_id"] == job["job_id"]
        assert_error(client.delete(f"/api/v1/jobs/{job['job_id']}"), 409, "conflict")


def test_jobs_survive_a_restart_and_the_upload_answers_202_when_it_cannot_wait(base):
    with running(base.replace(job_workers=0, upload_wait_s=0.0)) as client:
        queued = client.post("/api/v1/index/upload", files={"file": ("topics.txt", TEXT)})
        assert queued.status_code == 202, queued.text
        job = queued.json()
        assert job["status"] == "queued" and job["job_id"]
        assert client.get("/health").json()["jobs"]["counts"]["queued"] == 1
        assert 'docqa_jobs{status="queued"} 1.0' in client.get("/metrics").text
    with running(base) as client:  # a new service, with a worker: the job was kept and now runs
        done = wait_done(client, job["job_id"])
        assert done["status"] == "done" and done["result"]["status"] == "added"
        query = {"query": TOPICS[3], "limit": 1, "min_seq": done["result"]["seq"]}  # read-your-writes
        found = client.post("/api/v1/search/", json=query).json()
        assert found["results"][0]["document_id"] == done["document_id"]


def test_the_upload_still_answers_its_body_when_the_job_is_quick(base):
    with running(base) as client:
        response = client.post("/api/v1/index/upload", files={"file": ("topics.txt", TEXT)})
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"document_id", "filename", "status", "chunks", "embedded", "seq", "processing_time_ms"}
        assert body["status"] == "added" and body["seq"] > 0
        # read-your-writes as before: the index has the document when the upload answers
        found = client.post("/api/v1/search/", json={"query": TOPICS[3], "limit": 1}).json()
        assert found["results"][0]["document_id"] == body["document_id"]


def test_jobs_routes_follow_the_keys(base):
    with running(base.replace(api_key=ADMIN, read_api_key=READER, job_workers=0)) as client:
        assert_error(submit(client), 401)
        assert_error(client.post("/api/v1/jobs", files={"file": ("a.txt", TEXT)}, headers={"X-API-Key": READER}), 403)
        job = client.post("/api/v1/jobs", files={"file": ("a.txt", TEXT)}, headers={"X-API-Key": ADMIN}).json()
        path = f"/api/v1/jobs/{job['job_id']}"
        assert client.get(path, headers={"X-API-Key": READER}).json()["status"] == "queued"
        assert client.get("/api/v1/jobs", headers={"X-API-Key": READER}).status_code == 200
        assert_error(client.get(path), 401)
        assert_error(client.delete(path, headers={"X-API-Key": READER}), 403)
        assert client.delete(path, headers={"X-API-Key": ADMIN}).status_code == 200
