"""The databases a library uses: the primary, and the one its index follows and its searches read.

    dbs = Databases.for_settings(settings)    # one Database, or a primary and its hot standby
    dbs.primary   # writes, migrations, the change log's upkeep (compaction, ANALYZE)
    dbs.read      # the index follows it (catch-up, verify, rebuild); searches and stats read it

They are the same object unless `read_database_url` names a PostgreSQL hot standby of
`database_url`. A standby is a physical copy: the same tables, the same change log, the same
`db_identity`, replayed in commit order, so everything the sync engine proves against it holds at
the seq it reports — only later than on the primary. LISTEN does not work during recovery, so a
replica reading a standby polls the change log; `min_seq` waits for the standby to replay the change.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from docqa.config import Settings
from docqa.errors import DatabaseUnavailable, InvalidInput
from docqa.logging import get_logger, log_event
from docqa.storage import changes, repo
from docqa.storage.db import Connection, Database
from docqa.storage.migrate import db_identity, migrate, migrations_for, schema_version

log = get_logger("docqa.databases")


@dataclass(frozen=True)
class Databases:
    primary: Database
    read: Database

    @property
    def split(self) -> bool:
        """Reads go to a standby, writes to the primary."""
        return self.read is not self.primary

    @classmethod
    def for_settings(cls, settings: Settings, primary: Database | None = None) -> Databases:
        primary = primary or Database(settings.resolved_database_url)
        if not settings.read_database_url:
            return cls(primary, primary)
        read = Database(settings.read_database_url)
        if not (primary.is_pg and read.is_pg):
            raise InvalidInput(
                "DOCQA_READ_DATABASE_URL needs PostgreSQL on both sides: a hot standby of DOCQA_DATABASE_URL",
                settings=["DOCQA_READ_DATABASE_URL"],
            )
        return cls(primary, read)

    def open(self, collection: str) -> tuple[tuple[str, int] | None, bool]:
        """Migrate the primary and read what the collection is bound to: (binding, primary reached).

        With a standby, a primary that cannot be reached is not fatal: the standby holds the same
        schema and binding, so the library opens read-only (writes answer 503 until it returns)."""
        try:
            with self.primary.connection() as conn:
                migrate(conn)
                bound = repo.get_collection(conn, collection)
                identity = db_identity(conn)
        except DatabaseUnavailable as exc:
            if not self.split:
                raise
            log_event(log, "Primary database unavailable, opening on the standby", logging.WARNING, reason=exc.message)
            with self.read.connection() as conn:
                _check_standby_schema(conn)
                return repo.get_collection(conn, collection), False
        if self.split:
            with self.read.connection() as conn:
                _check_standby_schema(conn)
                copy = db_identity(conn)
            if copy != identity:
                raise InvalidInput(
                    f"DOCQA_READ_DATABASE_URL is not a copy of DOCQA_DATABASE_URL: its database identity is "
                    f"{copy or 'missing'}, the primary's is {identity}",
                    settings=["DOCQA_READ_DATABASE_URL"],
                )
        return bound, True

    def close(self) -> None:
        self.primary.close()
        if self.split:
            self.read.close()


def _check_standby_schema(conn: Connection) -> None:
    version, expected = schema_version(conn), len(migrations_for(conn))
    if version != expected:  # behind: a migration not replayed yet (retried); ahead: a newer docqa migrated
        raise DatabaseUnavailable(
            f"the read database has schema version {version}, this docqa needs {expected}: "
            "is it a standby of DOCQA_DATABASE_URL that has not replayed the migration yet?"
        )


def standby_position(db: Database) -> dict[str, object]:
    """Where a standby stands: the newest seq it has replayed, and how old its last replayed commit is."""
    with db.connection() as conn:
        seq = changes.max_seq(conn)
        lag = conn.scalar("SELECT extract(epoch FROM now() - pg_last_xact_replay_timestamp())")
    return {"standby_seq": seq, "replay_lag_s": round(float(lag), 3) if lag is not None else None}
