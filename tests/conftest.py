"""Shared fixtures: every storage-touching test runs on SQLite and PostgreSQL.

PostgreSQL: one throw-away database per test run (dropped at the end), and a
fresh schema in it per test, selected through the connection URL's
search_path (dropping a database costs seconds; a schema, milliseconds).
Under CI=true an unreachable PostgreSQL fails the run instead of skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from docqa.config import Settings
from docqa.embedders.hash import HashEmbedder

PG_ADMIN_DSN = os.environ.get("DOCQA_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _pg_dsn_for(name: str) -> str:
    base, _, _ = PG_ADMIN_DSN.rpartition("/")
    return f"{base}/{name}"


class PgServer:
    def __init__(self) -> None:
        import psycopg

        self.psycopg = psycopg
        self.database = f"docqa_test_{uuid.uuid4().hex[:10]}"
        self.schemas = 0

    def admin(self):
        return self.psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=3)

    def start(self) -> None:
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')

    def new_database(self) -> str:
        """A fresh, empty database seen through its own schema: a URL whose search_path isolates it."""
        self.schemas += 1
        schema = f"t{self.schemas}"
        with self.psycopg.connect(_pg_dsn_for(self.database), autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        return f"{_pg_dsn_for(self.database)}?options=-csearch_path%3D{schema}"

    def drop_all(self) -> None:
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer | None]:
    try:
        server = PgServer()
        server.start()
    except Exception as exc:  # pragma: no cover - depends on the machine
        if IN_CI:
            pytest.fail(f"PostgreSQL at {PG_ADMIN_DSN} is required under CI=true and is not reachable: {exc}")
        server = None
    yield server
    if server is not None:
        server.drop_all()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path: Path, pg_server: PgServer | None) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'docqa.db'}"
    if pg_server is None:
        pytest.skip("PostgreSQL not reachable (set DOCQA_TEST_PG_DSN); under CI=true this fails instead")
    return pg_server.new_database()


def database_for(kind: str, data_dir: Path, pg_server: PgServer | None) -> str:
    """A fresh database URL of `kind` ("sqlite" | "postgres"), for module-scoped fixtures."""
    if kind == "postgres":
        if pg_server is None:
            pytest.skip("PostgreSQL not reachable (set DOCQA_TEST_PG_DSN); under CI=true this fails instead")
        return pg_server.new_database()
    return f"sqlite:///{data_dir / 'docqa.db'}"


@pytest.fixture
def pg_url(pg_server: PgServer | None) -> str:
    """A fresh PostgreSQL database (for PostgreSQL-only behaviour)."""
    if pg_server is None:
        pytest.skip("PostgreSQL not reachable (set DOCQA_TEST_PG_DSN); under CI=true this fails instead")
    return pg_server.new_database()


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=db_url, embedder="hash", snapshot_interval_s=0.0)


@pytest.fixture
def embedder() -> HashEmbedder:
    return HashEmbedder(dim=384)


@pytest.fixture
def store(settings: Settings, embedder: HashEmbedder):
    from docqa.app import Docqa

    s = Docqa.open(settings, embedder=embedder)
    s.sync()
    yield s
    s.close()


def random_unit(n: int, dim: int = 384, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)
