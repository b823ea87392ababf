"""PostgreSQL LISTEN on a dedicated autocommit connection: the wake-up of the change follower
(`docqa_changes`) and of idle job workers (`docqa_jobs`). Polling stays the safety net wherever it is used."""

from __future__ import annotations

from docqa.errors import DatabaseUnavailable


class PgListener:
    def __init__(self, dsn: str, channel: str, role: str) -> None:
        """`role` names the listener in errors ("change listener", "job listener")."""
        import psycopg

        self.role = role
        try:
            self.conn = psycopg.connect(dsn, autocommit=True, connect_timeout=5)
            self.conn.execute(f"LISTEN {channel}")
        except psycopg.Error as exc:
            raise DatabaseUnavailable(f"cannot LISTEN on {channel}: {str(exc).strip().splitlines()[0]}") from exc

    def payloads(self, timeout: float) -> list[str]:
        """The payload of the first notification within `timeout` seconds ([] when none came)."""
        import psycopg

        try:
            return [n.payload for n in self.conn.notifies(timeout=timeout, stop_after=1)]
        except psycopg.Error as exc:
            raise DatabaseUnavailable(f"{self.role} lost its connection: {exc}") from exc

    def close(self) -> None:
        try:
            self.conn.close()
        except Exception:  # closing a dead connection may fail; nothing to do
            pass
