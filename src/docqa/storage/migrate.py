"""Versioned migrations and the database identity.

`meta.schema_version` records how many migrations ran; each runs once, in a
transaction, under a lock so two processes starting together do not race.
`meta.db_identity` is a random UUID made at first init: an index snapshot
built against another database (or a restored copy) is recognised by it.
"""

from __future__ import annotations

import uuid

from docqa.errors import SchemaTooNew
from docqa.storage import schema_pg, schema_sqlite
from docqa.storage.db import Connection

_MIGRATE_LOCK = 4_242_917_000


def migrations_for(conn: Connection) -> list[list[str]]:
    return schema_pg.MIGRATIONS if conn.is_pg else schema_sqlite.MIGRATIONS


def schema_version(conn: Connection) -> int:
    try:
        return int(conn.scalar("SELECT value FROM meta WHERE key = 'schema_version'", default=0))
    except Exception:
        return 0


def migrate(conn: Connection, upto: int | None = None) -> int:
    """Bring the schema up to date (or only up to version `upto`: benchmarks of an upgrade). Returns the
    resulting version."""
    with conn.transaction():
        if conn.is_pg:
            conn.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATE_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        current = int(conn.scalar("SELECT value FROM meta WHERE key = 'schema_version'", default=0))
        steps = migrations_for(conn)
        if current > len(steps):
            raise SchemaTooNew(
                f"database schema version {current} is newer than this docqa understands ({len(steps)}); upgrade docqa",
                schema_version=current,
                supported=len(steps),
            )
        last = len(steps) if upto is None else min(upto, len(steps))
        for version in range(current + 1, last + 1):
            for statement in steps[version - 1]:
                conn.execute(statement)
            _set(conn, "schema_version", str(version))
        if conn.scalar("SELECT value FROM meta WHERE key = 'db_identity'") is None:
            _set(conn, "db_identity", str(uuid.uuid4()))
        return max(current, last)


def db_identity(conn: Connection) -> str:
    return str(conn.scalar("SELECT value FROM meta WHERE key = 'db_identity'", default=""))


def _set(conn: Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )
