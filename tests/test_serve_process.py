"""`docqa serve` as a real uvicorn process: start, wait for /health, index, search, stop cleanly."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.helpers import TOPICS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(base: str, proc: subprocess.Popen, timeout_s: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
        try:
            body = httpx.get(f"{base}/health", timeout=1.0).json()
            if body["status"] == "healthy":
                return body
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("server did not become healthy")


def test_serve_starts_answers_and_stops_cleanly(tmp_path: Path):
    port = free_port()
    env = {
        **os.environ,
        "DOCQA_EMBEDDER": "hash",
        "DOCQA_DATA_DIR": str(tmp_path / "data"),
        "DOCQA_DATABASE_URL": f"sqlite:///{tmp_path / 'docqa.db'}",
        "DOCQA_POLL_INTERVAL_S": "0.05",
    }
    env.pop("DOCQA_API_KEY", None)
    cmd = [sys.executable, "-m", "docqa.cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)]
    log_path = tmp_path / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        health = wait_healthy(base, proc)
        assert health["last_sync"]["status"] == "rebuilt" and health["worker"]["running"]
        body = {"document_id": "served", "chunks": [{"index": i, "content": t} for i, t in enumerate(TOPICS)]}
        written = httpx.post(f"{base}/api/v1/index/", json=body, timeout=10).json()
        assert written["vectors_added"] == len(TOPICS)
        found = httpx.post(
            f"{base}/api/v1/search/", json={"query": TOPICS[6], "limit": 3, "min_seq": written["seq"]}, timeout=10
        ).json()
        assert found["results"][0]["content"] == TOPICS[6] and found["total_results"] == 3
        assert "docqa_index_vectors 10.0" in httpx.get(f"{base}/metrics", timeout=5).text
        assert "<title>docqa</title>" in httpx.get(f"{base}/", timeout=5).text
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal: -15 is its clean exit
    assert code in (0, -signal.SIGTERM), code
    events = [json.loads(line)["event"] for line in log_path.read_text().splitlines() if line.startswith("{")]
    for expected in [
        "Checking FAISS index synchronization with database...",
        "FAISS index synchronized successfully",
        "docqa service ready",
        "Stopping docqa service",
        "docqa service stopped",
        "Application shutdown complete.",
    ]:
        assert expected in events, expected
    manifest = json.loads((tmp_path / "data" / "index" / "default" / "manifest.json").read_text())
    assert manifest["count"] == 10 and manifest["applied_seq"] == written["seq"]  # saved at shutdown
