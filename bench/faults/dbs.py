"""Throw-away databases for trials: a SQLite file in the trial's folder, or a fresh PostgreSQL database on
the shared server (127.0.0.1:5432, created and dropped here, named docqa_fault_*; no other is touched).

A template (a filled database plus its snapshot directory) is built once per campaign; each trial gets a
copy of it: the SQLite file copied, or `CREATE DATABASE ... TEMPLATE` on PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from pathlib import Path

PG_ADMIN_DSN = os.environ.get("DOCQA_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
PREFIX = "docqa_fault_"


def pg_url_for(name: str, admin_dsn: str = PG_ADMIN_DSN) -> str:
    base, _, _ = admin_dsn.rpartition("/")
    return f"{base}/{name}"


def _admin(admin_dsn: str = PG_ADMIN_DSN):
    import psycopg

    return psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5)


def create_pg(template: str | None = None, admin_dsn: str = PG_ADMIN_DSN) -> str:
    """A new database (optionally a copy of `template`); returns its name."""
    name = PREFIX + uuid.uuid4().hex[:12]
    with _admin(admin_dsn) as conn:
        if template:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        else:
            conn.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_pg(name: str, admin_dsn: str = PG_ADMIN_DSN) -> None:
    if not name.startswith(PREFIX):
        raise ValueError(f"refusing to drop {name!r}: not a fault-campaign database")
    with _admin(admin_dsn) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Dropper:
    """Drops trial databases on a background thread (a DROP DATABASE costs ~0.1-1 s)."""

    def __init__(self) -> None:
        self._names: list[str] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def drop(self, name: str) -> None:
        with self._lock:
            self._names.append(name)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._names:
                    return
                name = self._names.pop()
            try:
                drop_pg(name)
            except Exception:
                pass

    def wait(self) -> None:
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(1)


class Template:
    """A filled database and its data directory, cloned per trial."""

    def __init__(self, kind: str, folder: Path) -> None:
        self.kind = kind
        self.folder = folder  # the template's data dir (SQLite file + index/)
        self.pg_name: str | None = None
        if kind == "postgres":
            self.pg_name = create_pg()

    @property
    def url(self) -> str:
        if self.kind == "postgres":
            assert self.pg_name
            return pg_url_for(self.pg_name)
        return f"sqlite:///{self.folder / 'docqa.db'}"

    def clone(self, data_dir: Path) -> tuple[str, str | None]:
        """Copy into `data_dir`; returns (database url, PostgreSQL database name or None)."""
        if data_dir.exists():
            shutil.rmtree(data_dir)
        shutil.copytree(self.folder, data_dir, ignore=shutil.ignore_patterns(".*.lock"))
        if self.kind == "postgres":
            name = create_pg(template=self.pg_name)
            return pg_url_for(name), name
        return f"sqlite:///{data_dir / 'docqa.db'}", None

    def drop(self) -> None:
        if self.pg_name:
            drop_pg(self.pg_name)
            self.pg_name = None
