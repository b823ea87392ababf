"""A private PostgreSQL primary and its streaming hot standby, made by the test itself.

initdb + pg_ctl for the primary (bench/faults/pgcluster.py's PrivateCluster: free loopback port, temp
dir, run as the `postgres` user since initdb refuses root), then `pg_basebackup -R` for a standby on
another free port. Only these two clusters are ever stopped; the shared server on 5432 is never touched.
"""

from __future__ import annotations

import os
import pwd
import time

import pytest
from bench.faults.pgcluster import PrivateCluster, _bin

from tests.conftest import IN_CI


def available() -> bool:
    try:
        _bin("initdb"), _bin("pg_basebackup")
    except FileNotFoundError:
        return False
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return False
    return True


class Standby(PrivateCluster):
    """A hot standby of `primary`, streaming from it (primary_conninfo written by pg_basebackup -R)."""

    def __init__(self, primary: PrivateCluster) -> None:
        super().__init__()
        self.primary = primary

    def init(self) -> None:
        self._run(
            _bin("pg_basebackup"),
            *("-h", "127.0.0.1", "-p", str(self.primary.port), "-U", "postgres"),
            *("-D", str(self.data), "-R", "-X", "stream", "-c", "fast", "--no-sync"),
        )
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as fh:
            fh.write(
                f"\nport = {self.port}\nunix_socket_directories = '{self.dir}'\nhot_standby = on\n"
                "wal_retrieve_retry_interval = 200ms\n"
            )

    def replay(self, paused: bool) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute("SELECT pg_wal_replay_pause()" if paused else "SELECT pg_wal_replay_resume()")

    def wait_for(self, database: str, timeout_s: float = 30.0) -> None:
        """Until the standby has replayed the creation of `database` and accepts connections to it."""
        import psycopg

        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with psycopg.connect(self.url(database), connect_timeout=2):
                    return
            except psycopg.Error:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


class PrimaryAndStandby:
    def __init__(self) -> None:
        self.primary = PrivateCluster()
        self.standby = Standby(self.primary)

    def __enter__(self) -> PrimaryAndStandby:
        self.primary.init()
        with open(self.primary.data / "postgresql.conf", "a", encoding="utf-8") as fh:
            fh.write("wal_level = replica\nmax_wal_senders = 5\n")
        self.primary.start()
        self.primary.create_database("docqa")
        self.standby.init()
        self.standby.start()
        self.standby.wait_for("docqa")
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.standby.destroy()
        finally:
            self.primary.destroy()


def skip_unless_available() -> None:
    if not available():
        why = "PostgreSQL server binaries (initdb, pg_basebackup) or the postgres user are missing"
        if IN_CI:  # CI has PostgreSQL 15 installed: a missing standby test is a broken setup, not a skip
            pytest.fail(why)
        pytest.skip(why)
