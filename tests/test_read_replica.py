"""DOCQA_READ_DATABASE_URL: a replica whose index follows a PostgreSQL hot standby, writes going to the primary.

A primary and a streaming standby the test makes itself (tests/pg_standby.py), never the shared server.
The replica polls the standby (LISTEN is refused during recovery), honours `min_seq` by waiting for the
standby to replay it (a 503 naming the standby's position once replay is paused), keeps searching with
the primary down while health says `writes_failing` and writes answer 503, starts on the standby alone,
and returns to healthy with the primary.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from docqa.app import Docqa
from docqa.config import Settings
from docqa.errors import InvalidInput
from tests.fleet import Replica, poll
from tests.pg_standby import PrimaryAndStandby, skip_unless_available


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrimaryAndStandby]:
    skip_unless_available()
    with PrimaryAndStandby() as pair:
        yield pair


def text(i: int) -> str:
    return f"standby follower document {i}: words only it has, sb{i}x{i * 7919}"


def test_a_replica_reading_a_standby(cluster: PrimaryAndStandby, tmp_path: Path):
    primary, standby = cluster.primary.url("docqa"), cluster.standby.url("docqa")
    replica = Replica("r", primary, tmp_path / "data", tmp_path, read_database_url=standby)
    try:
        replica.start()
        health = replica.wait_healthy()
        assert health["worker"]["notifications"] == "poll" and "reads:" in health["database"], health

        for i in range(3):  # read-your-writes: the write's seq, waited for until the standby replayed it
            seq = replica.write(f"sb-{i}", [text(i)])["seq"]
            assert replica.top_document(text(i), min_seq=seq) == f"sb-{i}"
        ahead = replica.search("x", min_seq=seq + 1000)
        assert ahead.status_code == 422 and "ahead of the change log" in ahead.json()["error"]["message"]

        cluster.standby.replay(paused=True)  # the standby falls behind: min_seq waits, then a clear 503
        try:
            seq = replica.write("sb-paused", [text(99)])["seq"]
            lagging = replica.search(text(99), min_seq=seq)
            assert lagging.status_code == 503, lagging.text
            error = lagging.json()["error"]
            assert "standby" in error["message"] and str(seq) in error["message"], error
        finally:
            cluster.standby.replay(paused=False)
        assert replica.top_document(text(99), min_seq=seq) == "sb-paused"

        cluster.primary.stop("fast")  # the primary goes down: searches stay, writes 503, health says so
        try:
            state = replica.wait_state("writes_failing", timeout_s=30)
            assert state["ready"] and "primary" in state["reason"], state
            assert replica.http.get("/health/ready").status_code == 200
            assert replica.top_document(text(1)) == "sb-1"
            refused = replica.http.post(
                "/api/v1/index/", json={"document_id": "no", "chunks": [{"index": 0, "content": "x"}]}
            )
            assert refused.status_code == 503, refused.text

            replica.kill9()  # and a replica starting with only the standby up opens on it
            replica.start()
            assert replica.wait_state("writes_failing", timeout_s=60)["ready"]
            assert replica.top_document(text(2)) == "sb-2"
            stats = replica.stats()  # the index equals what the standby holds, at the seq it reports
            assert stats["total_vectors"] == stats["indexable_chunks"] == 4 and stats["lag"] == 0, stats
        finally:
            cluster.primary.start()
        replica.wait_healthy(timeout_s=30)
        seq = replica.write("sb-after", [text(100)])["seq"]

        def served() -> bool:  # the standby's WAL receiver reconnects to the restarted primary first
            found = replica.search(text(100), min_seq=seq)
            assert found.status_code in (200, 503), found.text
            return found.status_code == 200 and found.json()["results"][0]["document_id"] == "sb-after"

        poll(served, 30, "the standby to replay the write made after the primary returned")
    finally:
        replica.close()


def test_a_read_database_that_is_not_a_copy_is_refused(pg_url: str, pg_server, tmp_path: Path):
    other = pg_server.new_database()
    Docqa.open(Settings(data_dir=tmp_path / "o", database_url=other, embedder="hash")).close()  # another identity
    settings = Settings(data_dir=tmp_path / "d", database_url=pg_url, read_database_url=other, embedder="hash")
    with pytest.raises(InvalidInput, match="not a copy of DOCQA_DATABASE_URL"):
        Docqa.open(settings)


def test_a_read_database_needs_postgresql(tmp_path: Path):
    sqlite = f"sqlite:///{tmp_path / 'a.db'}"
    settings = Settings(data_dir=tmp_path, database_url=sqlite, read_database_url=sqlite, embedder="hash")
    with pytest.raises(InvalidInput, match="needs PostgreSQL"):
        Docqa.open(settings)
