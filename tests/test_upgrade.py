"""A database and an index snapshot made by the previous release open with this code (issue 11, bug 13).

The fixtures under tests/fixtures/upgrade/ were made by the code of commit
1b09f6c (schema version 3) with tests/fixtures/upgrade/make_fixtures.py (see
its README). Each test restores them into a fresh database and data directory,
opens them with the current code -- which migrates -- and wants the index
`in_sync` (the old snapshot still proves equal) or `rebuilt`, never an error,
and a search that answers.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from docqa.app import Docqa
from docqa.config import Settings
from docqa.storage import migrate
from tests.conftest import IN_CI, PgServer, _pg_dsn_for

FIXTURES = Path(__file__).parent / "fixtures" / "upgrade"
OLD_VERSION = 3
# three sample files ingested (a fourth ingested and deleted again), one of them uploaded twice more
OLD_VECTORS, OLD_APPLIED_SEQ = 55, 71


def _restore_sqlite(tmp_path: Path) -> str:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copyfile(FIXTURES / "sqlite" / "docqa.db", data / "docqa.db")
    shutil.copytree(FIXTURES / "sqlite" / "index", data / "index")
    return f"sqlite:///{data / 'docqa.db'}"


@pytest.fixture
def restored_pg(pg_server: PgServer | None, tmp_path: Path) -> Iterator[str]:
    """The PostgreSQL dump restored with psql into a database of its own (it fills schema public)."""
    if pg_server is None:
        pytest.skip("PostgreSQL not reachable (set DOCQA_TEST_PG_DSN); under CI=true this fails instead")
    if shutil.which("psql") is None:
        if IN_CI:
            pytest.fail("psql is needed to restore the PostgreSQL upgrade fixture")
        pytest.skip("psql not installed")
    name = f"docqa_upgrade_{uuid.uuid4().hex[:10]}"
    with pg_server.admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = _pg_dsn_for(name)
    try:
        subprocess.run(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", str(FIXTURES / "postgres" / "dump.sql")],
            check=True,
            capture_output=True,
        )
        (tmp_path / "data").mkdir()
        shutil.copytree(FIXTURES / "postgres" / "index", tmp_path / "data" / "index")
        yield url
    finally:
        with pg_server.admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _raw_version(url: str) -> int:
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.split("sqlite:///", 1)[1])
        try:
            return int(conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(url) as conn:
        return int(conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])


def _open(tmp_path: Path, url: str) -> Docqa:
    return Docqa.open(Settings(data_dir=tmp_path / "data", database_url=url, embedder="hash"))


def _check_upgrade(tmp_path: Path, url: str) -> None:
    assert _raw_version(url) == OLD_VERSION  # the fixture really is the old schema
    store = _open(tmp_path, url)
    try:
        report = store.sync()
        assert report.status in ("in_sync", "rebuilt"), report
        assert (report.db_count, report.index_count) == (OLD_VECTORS, OLD_VECTORS), report
        hits = store.search("how long should the espresso shot run", k=3)
        assert len(hits) == 3
        assert all(h.document_id for h in hits)
        with store.db.connection() as conn:
            assert migrate.schema_version(conn) == len(migrate.migrations_for(conn)) > OLD_VERSION
    finally:
        store.close()
    again = _open(tmp_path, url)  # and the next start is a plain in_sync
    try:
        assert again.sync().status == "in_sync"
    finally:
        again.close()


def test_sqlite_database_and_snapshot_of_the_previous_release_open(tmp_path):
    _check_upgrade(tmp_path, _restore_sqlite(tmp_path))


def test_postgres_database_and_snapshot_of_the_previous_release_open(tmp_path, restored_pg):
    _check_upgrade(tmp_path, restored_pg)


def test_fixture_manifests_are_the_old_release_s():
    """Guard: the fixtures must stay what the old code wrote (regenerate only with make_fixtures.py)."""
    for kind in ("sqlite", "postgres"):
        manifest = json.loads((FIXTURES / kind / "index" / "default" / "manifest.json").read_text())
        assert (manifest["applied_seq"], manifest["count"], manifest["model"]) == (
            OLD_APPLIED_SEQ,
            OLD_VECTORS,
            "hash-384",
        )


def test_sqlite_orphans_left_under_the_old_schema_are_removed_by_the_upgrade(tmp_path):
    """Under schema 3 a sqlite3-shell delete (foreign keys off) left chunks behind, still in the old
    snapshot. The upgrade deletes them, logged, so the first sync catches up instead of serving ghosts."""
    url = _restore_sqlite(tmp_path)
    raw = sqlite3.connect(url.split("sqlite:///", 1)[1], isolation_level=None)
    victim, chunks = raw.execute(
        "SELECT d.id, count(*) FROM documents d JOIN chunks c ON c.document_id = d.id "
        "WHERE d.filename = 'home-espresso-guide.html' GROUP BY d.id"
    ).fetchone()
    raw.execute("DELETE FROM documents WHERE id = ?", (victim,))
    assert raw.execute("SELECT count(*) FROM chunks WHERE document_id = ?", (victim,)).fetchone()[0] == chunks > 0
    raw.close()
    store = _open(tmp_path, url)
    try:
        report = store.sync()
        assert (report.status, report.removed, report.index_count) == ("caught_up", chunks, OLD_VECTORS - chunks)
        assert all(h.document_id != victim for h in store.search("espresso", k=OLD_VECTORS))
        raw = sqlite3.connect(url.split("sqlite:///", 1)[1])
        assert raw.execute("SELECT count(*) FROM chunks WHERE document_id = ?", (victim,)).fetchone()[0] == 0
        raw.close()
    finally:
        store.close()


def test_a_database_from_a_newer_docqa_is_refused_by_name(db_url, tmp_path):
    """The other direction: a schema this code does not know is SchemaTooNew, and nothing is changed."""
    from docqa.errors import SchemaTooNew
    from docqa.storage.db import Database

    _open(tmp_path, db_url).close()
    db = Database(db_url)
    with db.connection() as conn:
        newer = len(migrate.migrations_for(conn)) + 1
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(newer),))
        with pytest.raises(SchemaTooNew, match=f"schema version {newer} is newer"):
            migrate.migrate(conn)
        assert migrate.schema_version(conn) == newer
    db.close()
