"""docqa as a black box: its CLI and `docqa serve` run as child processes, configured by DOCQA_* variables.

The command is `.venv/bin/docqa` of this repository unless DOCQA_FAULTS_DOCQA names another (a shell-split
command line, e.g. a wrapper that runs a frozen copy of the code).
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def docqa_cmd() -> list[str]:
    custom = os.environ.get("DOCQA_FAULTS_DOCQA")
    return shlex.split(custom) if custom else [str(REPO / ".venv" / "bin" / "docqa")]


def env_for(db_url: str, data_dir: Path, index_type: str = "flat", **settings: object) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCQA_") or k == "DOCQA_FAULTS_DOCQA"}
    env.update(
        DOCQA_DATABASE_URL=db_url,
        DOCQA_DATA_DIR=str(data_dir),
        DOCQA_EMBEDDER="hash",
        DOCQA_INDEX_TYPE=index_type,
        DOCQA_LOG_JSON="true",
        OMP_NUM_THREADS="1",
    )
    for key, value in settings.items():
        env[f"DOCQA_{key.upper()}"] = str(value)
    return env


@dataclass
class Ran:
    rc: int
    seconds: float
    stdout: str
    stderr: str


def run(args: list[str], env: dict[str, str], timeout: float = 120.0) -> Ran:
    t0 = time.perf_counter()
    proc = subprocess.run([*docqa_cmd(), *args], env=env, capture_output=True, text=True, timeout=timeout)
    return Ran(proc.returncode, time.perf_counter() - t0, proc.stdout, proc.stderr)


def start(args: list[str], env: dict[str, str], log: Path | None = None) -> subprocess.Popen:
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [*docqa_cmd(), *args], env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )


def kill9(proc: subprocess.Popen) -> bool:
    """SIGKILL the one process we started, by its pid, and reap it. False if it had already exited."""
    alive = proc.poll() is None
    if alive:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    return alive


def stop(proc: subprocess.Popen, timeout: float = 30.0) -> int | None:
    """SIGTERM (graceful: the service saves its snapshot), SIGKILL if it does not exit in time."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            kill9(proc)
            return None
    return proc.returncode


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(url: str, timeout: float = 5.0) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read() or b"{}")
        except ValueError:
            return exc.code, {}


def wait_healthy(base: str, proc: subprocess.Popen | None = None, timeout: float = 60.0) -> float | None:
    """Seconds until /health says healthy (None: not within `timeout`, or the process died)."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if proc is not None and proc.poll() is not None:
            return None
        try:
            code, body = get_json(base + "/health", timeout=2)
            if code == 200 and body.get("status") == "healthy":
                return time.perf_counter() - t0
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    return None


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def serve(db_url: str, data_dir: Path, index_type: str, log: Path | None = None, **settings: object):
    """Start `docqa serve` on a free loopback port; returns (process, base url)."""
    port = free_port()
    env = env_for(db_url, data_dir, index_type, **settings)
    proc = start(["serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"], env, log)
    return proc, f"http://127.0.0.1:{port}"


def commit() -> str:
    """The commit of the docqa under test: DOCQA_FAULTS_COMMIT when the command is a frozen copy of one
    (DOCQA_FAULTS_DOCQA), else this repository's HEAD, marked when src/ has uncommitted changes."""
    if os.environ.get("DOCQA_FAULTS_COMMIT"):
        return os.environ["DOCQA_FAULTS_COMMIT"]
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "log", "-1", "--format=%h %s"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "src"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head[:100] + (" (+ uncommitted changes in src/)" if dirty else "")
