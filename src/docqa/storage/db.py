"""Connections to SQLite or PostgreSQL behind one small interface.

SQL in this package is written once with `?` placeholders; the PostgreSQL
connection rewrites them to `%s`. Each `Database` keeps a small pool of
connections so threads (HTTP handlers, the sync worker) never share one.
"""

from __future__ import annotations

import contextlib
import queue
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from docqa.errors import Conflict, DatabaseUnavailable, InvalidInput

Row = tuple[Any, ...]  # one result row, from either driver
SQLITE_MMAP_BYTES = 1 << 34
BUSY_TIMEOUT_MS = 30_000  # SQLite: how long a statement waits for another connection's lock


@dataclass(frozen=True)
class DatabaseURL:
    kind: str  # "sqlite" | "postgresql"
    target: str  # file path or libpq DSN

    @classmethod
    def parse(cls, url: str) -> DatabaseURL:
        scheme = urlparse(url).scheme.split("+")[0]
        if scheme == "sqlite":
            path = url.split("://", 1)[1]
            if path.startswith("/") and not path.startswith("//"):
                path = path[1:] if path[1:2] == "/" else path
            path = path or ":memory:"
            if path.startswith("//"):
                path = path[1:]
            return cls("sqlite", path)
        if scheme in ("postgres", "postgresql"):
            return cls("postgresql", url.replace("postgresql+psycopg://", "postgresql://"))
        raise InvalidInput(f"unsupported database URL {url!r}: use sqlite:///path/to/file.db or postgresql://host/db")


class Connection:
    """A thin wrapper giving both drivers the same execute/transaction API."""

    def __init__(self, raw: Any, kind: str) -> None:
        self.raw = raw
        self.kind = kind
        self._depth = 0
        # What a query learned that stays true until a read-only transaction ends (e.g. the set of indexed
        # documents in its one snapshot); emptied when the outermost transaction begins and ends.
        self.tx_cache: dict[str, Any] = {}
        self.in_snapshot = False  # inside a read-only transaction: every read sees the same database state
        self._mapped = False  # SQLite: the file is memory-mapped until the transaction ends (map_for_transaction)

    @property
    def is_pg(self) -> bool:
        return self.kind == "postgresql"

    def map_for_transaction(self) -> None:
        """SQLite: read through a memory map until the outermost transaction ends (a full scan of the wide
        chunk rows), then unmap -- at the transaction's end, on the thread that owns the connection, before
        it goes back to the pool -- so the database file's pages do not stay in the process's RSS (a 290 MB
        file after a 50 MB upload counted +286 MB). Outside a transaction, and on PostgreSQL: nothing."""
        if self.is_pg or self._mapped or not self._depth:
            return
        self.raw.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        self._mapped = True

    def _unmap(self) -> None:
        if self._mapped:
            self._mapped = False
            with contextlib.suppress(Exception):
                self.raw.execute("PRAGMA mmap_size=0")

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.is_pg else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        try:
            return self.raw.execute(self._sql(sql), tuple(params))
        except Exception as exc:  # normalise "server went away" and "already there" into our errors
            raise_if_unavailable(exc)
            raise_if_duplicate(exc)
            raise

    def execute_inlined(self, sql: bytes) -> Any:
        """PostgreSQL: run a statement whose values are already inlined as literals (no placeholders, never
        prepared), so the planner sees constants: a generic plan of a prepared statement would not."""
        try:
            return self.raw.execute(sql, prepare=False)
        except Exception as exc:
            raise_if_unavailable(exc)
            raise

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        try:
            if self.is_pg:
                with self.raw.cursor() as cur:
                    cur.executemany(self._sql(sql), rows)
            else:
                self.raw.executemany(sql, rows)
        except Exception as exc:  # a full disk or a lost server mid-batch is the same 503 as in execute()
            raise_if_unavailable(exc)
            raise

    def fetchall(self, sql: str, params: Sequence[Any] = (), binary: bool = False) -> list[Row]:
        """`binary`: PostgreSQL sends the results in binary (bytea as raw bytes, not hex text: a fetch of
        10k embeddings 0.11-0.14 s instead of 0.26 s); SQLite ignores it."""
        if binary and self.is_pg:
            try:
                with self.raw.cursor(binary=True) as cur:
                    cur.execute(self._sql(sql), tuple(params))
                    return list(cur.fetchall())
            except Exception as exc:
                raise_if_unavailable(exc)
                raise
        return list(self.execute(sql, params).fetchall())

    def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        row: Row | None = self.execute(sql, params).fetchone()
        return row

    def scalar(self, sql: str, params: Sequence[Any] = (), default: Any = None) -> Any:
        row = self.fetchone(sql, params)
        return default if row is None or row[0] is None else row[0]

    @contextlib.contextmanager
    def transaction(self, read_only: bool = False) -> Iterator[Connection]:
        """A transaction; nested calls join the outer one.

        Read-only transactions on PostgreSQL are REPEATABLE READ so a long
        stream (rebuild, verify) sees one consistent snapshot, like SQLite's
        WAL read transactions do.
        """
        if self._depth:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        self.tx_cache, self.in_snapshot = {}, read_only
        if self.is_pg:
            self.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" if read_only else "BEGIN")
        else:
            self.execute("BEGIN" if read_only else "BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield self
        except BaseException:
            self._depth, self.tx_cache, self.in_snapshot = 0, {}, False
            with contextlib.suppress(Exception):
                self.execute("ROLLBACK")
            self._unmap()
            raise
        self._depth, self.tx_cache, self.in_snapshot = 0, {}, False
        try:
            self.execute("COMMIT")
        finally:
            self._unmap()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.raw.close()


# Subclasses of OperationalError that say nothing about the server being gone.
_NOT_AN_OUTAGE = {"QueryCanceled", "LockNotAvailable"}
# Errors that are not OperationalError but mean the same to a writer: the database takes no writes now.
_REFUSES_WRITES = {"ReadOnlySqlTransaction"}  # a hot standby, or default_transaction_read_only


def raise_if_unavailable(exc: Exception) -> None:
    """OperationalError / InterfaceError of either driver, subclasses included (psycopg raises
    AdminShutdown, CrashShutdown, ... after a server restart), mean the database went away."""
    lineage = {cls.__name__ for cls in type(exc).__mro__}
    outage = lineage & {"OperationalError", "InterfaceError"} and not lineage & _NOT_AN_OUTAGE
    if (outage or lineage & _REFUSES_WRITES) and "locked" not in str(exc):
        name = type(exc).__name__
        raise DatabaseUnavailable(
            f"database unavailable: {str(exc).strip().splitlines()[0] if str(exc) else name}"
        ) from exc


def raise_if_duplicate(exc: Exception) -> None:
    """A unique constraint refused a row (two writers claiming one document identity): Conflict."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    if "UniqueViolation" in names or ("IntegrityError" in names and "UNIQUE constraint failed" in str(exc)):
        raise Conflict(f"a concurrent write claimed the same row: {str(exc).strip().splitlines()[0]}") from exc


class Database:
    def __init__(self, url: str, pool_size: int = 8, connect_timeout_s: float = 5.0) -> None:
        self.url = url
        self.parsed = DatabaseURL.parse(url)
        self.kind = self.parsed.kind
        self._pool: queue.LifoQueue[Connection] = queue.LifoQueue(maxsize=pool_size)
        self._connect_timeout_s = connect_timeout_s
        self._lock = threading.Lock()

    @property
    def is_pg(self) -> bool:
        return self.kind == "postgresql"

    def describe(self) -> str:
        if not self.is_pg:
            return f"sqlite:{self.parsed.target}"
        u = urlparse(self.parsed.target)
        return f"postgresql://{u.hostname or 'localhost'}:{u.port or 5432}{u.path}"

    def connect(self) -> Connection:
        """A new connection (not pooled). Raises DatabaseUnavailable when it cannot."""
        raw: Any  # a psycopg or a sqlite3 connection: Connection wraps both behind one API
        try:
            if self.is_pg:
                import psycopg

                raw = psycopg.connect(
                    self.parsed.target, autocommit=True, connect_timeout=max(1, int(self._connect_timeout_s))
                )
            else:
                if self.parsed.target != ":memory:":
                    Path(self.parsed.target).parent.mkdir(parents=True, exist_ok=True)
                raw = sqlite3.connect(self.parsed.target, timeout=30, isolation_level=None, check_same_thread=False)
                raw.execute("PRAGMA journal_mode=WAL")
                raw.execute("PRAGMA synchronous=NORMAL")
                raw.execute("PRAGMA foreign_keys=ON")
                raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
                # Pages are read by read() copies; the full scan of the wide chunk rows maps the file until its
                # transaction ends instead (Connection.map_for_transaction), where the map paid (0.27 against
                # 0.56 s per 100k rows), so the mapped file's pages do not stay in the process's RSS.
                raw.execute("PRAGMA mmap_size=0")
                raw.execute("PRAGMA secure_delete=ON")  # a deleted document's text and vectors leave the file
        except Exception as exc:
            if isinstance(exc, DatabaseUnavailable):
                raise
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DatabaseUnavailable(f"cannot connect to {self.describe()}: {first}") from exc
        return Connection(raw, self.kind)

    @contextlib.contextmanager
    def connection(self) -> Iterator[Connection]:
        try:
            conn = self._pool.get_nowait()
        except queue.Empty:
            conn = self.connect()
        healthy = True
        try:
            yield conn
        except DatabaseUnavailable:
            healthy = False
            self.close()  # the server went away: the other pooled connections are dead too
            raise
        except BaseException:
            healthy = conn._depth == 0 and _still_alive(conn)
            raise
        finally:
            if healthy and conn._depth == 0:
                try:
                    self._pool.put_nowait(conn)
                except queue.Full:
                    conn.close()
            else:
                conn.close()

    def close(self) -> None:
        while True:
            try:
                self._pool.get_nowait().close()
            except queue.Empty:
                return


def _still_alive(conn: Connection) -> bool:
    if conn.is_pg:
        return not conn.raw.closed and conn.raw.info.transaction_status == 0
    return True
