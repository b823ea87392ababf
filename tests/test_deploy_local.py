"""deploy/run-local.sh and deploy/haproxy.cfg, run as shipped: replicas behind haproxy on one PostgreSQL.

Writes and reads through the load balancer (a write's seq as min_seq on whichever replica haproxy
picks next), a replica killed with SIGKILL taken out of rotation by the /health/ready check while
the others keep answering, and `stop` leaving no process behind. Needs haproxy (Debian: `apt-get
install haproxy`); skipped without it, or without PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import IN_CI
from tests.fleet import SRC, free_port, poll

SCRIPT = Path(__file__).resolve().parents[1] / "deploy" / "run-local.sh"


def free_ports_in_a_row(n: int) -> int:
    """A port p with p .. p + n - 1 all free now (a free port's neighbours may belong to anyone: a busy
    machine's other services took one and the replica on it never came up)."""
    import socket

    for _ in range(100):
        base = free_port()
        sockets = []
        try:
            for port in range(base, base + n):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise AssertionError(f"no {n} free ports in a row")


@pytest.fixture
def run_local(pg_url: str, tmp_path: Path):
    if shutil.which("haproxy") is None:
        if IN_CI:  # .ci/run installs it
            pytest.fail("haproxy is not installed (.ci/run installs it: apt-get install -y haproxy)")
        pytest.skip("haproxy is not installed (apt-get install haproxy)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCQA_")}
    base = free_ports_in_a_row(3)  # replicas on base, base + 1, base + 2
    lb = free_port()
    while base <= lb <= base + 2:
        lb = free_port()
    env.update(
        RUN_DIR=str(tmp_path / "run"),
        DOCQA_DATABASE_URL=pg_url,
        DOCQA_EMBEDDER="hash",
        DOCQA_LB_PORT=str(lb),
        DOCQA_REPLICA_PORT=str(base),
        DOCQA_CMD=f"{sys.executable} -m docqa.cli.main",
        PYTHONPATH=f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    )

    def run(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(SCRIPT), *args], env={**env, **extra}, capture_output=True, text=True, timeout=240
        )

    yield run, tmp_path / "run", f"http://127.0.0.1:{lb}"
    run("stop")


def test_replicas_behind_haproxy(run_local):
    run, run_dir, lb = run_local
    started = run("start", "3")
    assert started.returncode == 0, started.stderr
    endpoints = dict(line.split("=", 1) for line in (run_dir / "endpoints").read_text().split())
    assert endpoints["lb"] == lb and len([k for k in endpoints if k.startswith("replica-")]) == 3
    with httpx.Client(base_url=lb, timeout=30) as http:
        for i in range(6):  # each request may land on another replica: min_seq makes the read see the write
            body = {"document_id": f"lb-{i}", "chunks": [{"index": 0, "content": f"behind the balancer {i} zq{i}"}]}
            seq = http.post("/api/v1/index/", json=body).json()["seq"]
            found = http.post("/api/v1/search/", json={"query": f"behind the balancer {i} zq{i}", "min_seq": seq})
            assert found.status_code == 200 and found.json()["results"][0]["document_id"] == f"lb-{i}"

        victim = int((run_dir / "replica-2.pid").read_text())
        os.kill(victim, signal.SIGKILL)
        poll(lambda: "DOWN" in (run_dir / "haproxy.log").read_text(), 30, "haproxy to mark the killed replica down")
        for _ in range(20):  # the survivors answer every request
            assert http.post("/api/v1/search/", json={"query": "behind the balancer 3 zq3"}).status_code == 200

    status = run("status")
    assert f"replica-2 pid {victim} gone" in status.stdout, status.stdout
    pids = [int(p.read_text()) for p in run_dir.glob("*.pid")]
    assert len(pids) == 4  # three replicas (one dead) and haproxy
    stopped = run("stop")
    assert stopped.returncode == 0, stopped.stderr
    assert not list(run_dir.glob("*.pid"))
    assert [pid for pid in pids if alive(pid)] == []


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"


def test_refuses_sqlite_and_a_bad_count(run_local, tmp_path: Path):
    run, run_dir, _ = run_local
    bad = run("start", "4")
    assert bad.returncode == 2 and "REPLICAS must be 1, 2 or 3" in bad.stderr
    sqlite = run("start", "1", DOCQA_DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}")
    assert sqlite.returncode == 2 and "PostgreSQL" in sqlite.stderr
    assert not run_dir.exists() or not list(run_dir.glob("*.pid"))


def test_a_replica_whose_port_is_taken_fails_the_start_at_once_with_its_log(run_local):
    """Not a 180-second wait for a replica that died at once: the script says which one and shows its log."""
    import socket

    run, _, _ = run_local
    base = free_ports_in_a_row(3)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", base + 1))
        taken.listen()
        started = run("start", "3", DOCQA_REPLICA_PORT=str(base))
    assert started.returncode == 1, started.stderr
    assert "replica-2 exited before it was ready" in started.stderr, started.stderr
    assert "address already in use" in started.stderr.lower(), started.stderr
