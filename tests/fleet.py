"""`docqa serve` replicas as real processes for the replica tests: start, wait, write, search, SIGKILL, restart.

Each replica runs this checkout's code (`python -m docqa.cli.main serve` with this interpreter and
PYTHONPATH), on a free loopback port, with the hash embedder and its own data dir unless told otherwise.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

SRC = Path(__file__).resolve().parents[1] / "src"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def poll(check: Callable[[], Any], timeout_s: float, what: str, every_s: float = 0.05) -> Any:
    """The first truthy result of `check()` within `timeout_s`, else an AssertionError naming `what`."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except httpx.TransportError as exc:
            last = exc
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what} (last: {last!r})")


class Replica:
    def __init__(self, name: str, db_url: str, data_dir: Path, log_dir: Path, **settings: object) -> None:
        self.name, self.db_url, self.data_dir = name, db_url, data_dir
        self.log = log_dir / f"{name}.log"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.settings = settings
        self.proc: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(base_url=self.base, timeout=30.0)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCQA_")}
        env.update(
            PYTHONPATH=f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
            DOCQA_DATABASE_URL=self.db_url,
            DOCQA_DATA_DIR=str(self.data_dir),
            DOCQA_EMBEDDER="hash",
            DOCQA_POLL_INTERVAL_S="0.05",
            DOCQA_LOG_JSON="true",
            OMP_NUM_THREADS="1",
        )
        env.update({f"DOCQA_{k.upper()}": str(v) for k, v in self.settings.items()})
        return env

    def start(self) -> Replica:
        cmd = [sys.executable, "-m", "docqa.cli.main", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(cmd, env=self.env(), stdout=out, stderr=subprocess.STDOUT)
        return self

    def health(self) -> dict[str, Any]:
        body: dict[str, Any] = self.http.get("/health", timeout=2.0).json()
        return body

    def wait_state(self, *states: str, timeout_s: float = 60.0) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}")
            body = self.health()
            return body if body["status"] in states else None

        result: dict[str, Any] = poll(check, timeout_s, f"{self.name} to be {'/'.join(states)}", every_s=0.1)
        return result

    def wait_healthy(self, timeout_s: float = 60.0) -> dict[str, Any]:
        return self.wait_state("healthy", timeout_s=timeout_s)

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:]) if self.log.exists() else ""

    def events(self) -> list[dict[str, Any]]:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def close(self) -> None:
        self.stop()
        self.http.close()

    # --- the API ----------------------------------------------------------------------
    def write(self, document_id: str, texts: list[str]) -> dict[str, Any]:
        body = {"document_id": document_id, "chunks": [{"index": i, "content": t} for i, t in enumerate(texts)]}
        resp = self.http.post("/api/v1/index/", json=body)
        assert resp.status_code == 200, (self.name, resp.status_code, resp.text)
        written: dict[str, Any] = resp.json()
        return written

    def delete(self, document_id: str) -> dict[str, Any]:
        resp = self.http.delete(f"/api/v1/index/{document_id}")
        assert resp.status_code == 200, (self.name, resp.status_code, resp.text)
        deleted: dict[str, Any] = resp.json()
        return deleted

    def search(self, query: str, min_seq: int | None = None, limit: int = 3) -> httpx.Response:
        body: dict[str, Any] = {"query": query, "limit": limit}
        if min_seq is not None:
            body["min_seq"] = min_seq
        return self.http.post("/api/v1/search/", json=body)

    def top_document(self, query: str, min_seq: int | None = None) -> str | None:
        resp = self.search(query, min_seq)
        assert resp.status_code == 200, (self.name, resp.status_code, resp.text)
        results = resp.json()["results"]
        return results[0]["document_id"] if results and results[0]["score"] > 0.999 else None

    def stats(self) -> dict[str, Any]:
        resp = self.http.get("/api/v1/search/stats")
        assert resp.status_code == 200, (self.name, resp.status_code, resp.text)
        stats: dict[str, Any] = resp.json()
        return stats

    def applied_seq(self) -> int:
        return int(self.health()["index"]["applied_seq"])
