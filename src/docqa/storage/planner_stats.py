"""PostgreSQL planner statistics: refreshed when they are missing or stale.

Nothing else may do it: a bulk ingest leaves the tables unanalysed until autovacuum's next round
(up to a minute, or never where it is off, as on some managed and restored setups), and a database
restored with pg_restore has no statistics at all. The sync engine's own statements do not need
them (docqa.storage.membership asks in shapes without a join), but every other join -- search
results by id, keyword search, document listings -- is planned from them, and without them a
nested loop over every document is a plausible plan.

`stale_tables` asks the catalog (a few milliseconds): a table is stale when it has rows but no
statistics at all, or when more rows changed since its last ANALYZE than autovacuum's own
default threshold (50 + 10% of its rows). `refresh` analyses those tables, each in a short
transaction with a lock timeout: another ANALYZE (autovacuum's, another replica's) already
running means statistics are on their way, so this one steps aside. The background worker calls
it with its periodic verification, so statistics follow a restore or a bulk ingest within seconds
and never sit on the start-up path.
"""

from __future__ import annotations

from dataclasses import dataclass

from docqa.storage.db import Connection

TABLES = ("chunks", "documents", "index_changes")
ANALYZE_THRESHOLD = 50  # autovacuum_analyze_threshold's default
ANALYZE_SCALE = 0.1  # autovacuum_analyze_scale_factor's default
LOCK_TIMEOUT_MS = 200

_STATE = """
SELECT c.relname, greatest(c.reltuples, 0)::bigint, coalesce(s.n_live_tup, 0), coalesce(s.n_mod_since_analyze, 0),
       EXISTS (SELECT 1 FROM pg_stats p WHERE p.schemaname = n.nspname AND p.tablename = c.relname)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE c.oid = ANY(ARRAY[{}]::regclass[])
"""


@dataclass(frozen=True)
class TableState:
    table: str
    rows: int  # pg_class.reltuples (what the planner was last told), or 0
    live: int  # rows the statistics collector counts now
    changed: int  # rows inserted, updated or deleted since the last ANALYZE
    analysed: bool  # any statistics at all

    @property
    def stale(self) -> bool:
        if not self.analysed:
            return max(self.rows, self.live, self.changed) > 0
        return self.changed > ANALYZE_THRESHOLD + ANALYZE_SCALE * max(self.rows, self.live)


def table_states(conn: Connection) -> list[TableState]:
    """What the catalog says of docqa's tables (PostgreSQL; [] on SQLite)."""
    if not conn.is_pg:
        return []
    regs = ", ".join(f"to_regclass('{t}')" for t in TABLES)
    rows = conn.fetchall(_STATE.format(regs))
    return [TableState(str(r[0]), int(r[1]), int(r[2]), int(r[3]), bool(r[4])) for r in rows]


def stale_tables(conn: Connection) -> list[str]:
    return [s.table for s in table_states(conn) if s.stale]


def refresh(conn: Connection) -> list[str]:
    """ANALYZE every stale table; returns those analysed (not those another process was analysing)."""
    done = []
    for table in stale_tables(conn):
        try:
            with conn.transaction():
                conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_MS}ms'")
                conn.execute(f"ANALYZE {table}")
        except Exception as exc:
            if type(exc).__name__ == "LockNotAvailable":
                continue  # someone else holds a conflicting lock (e.g. their ANALYZE): statistics are coming
            raise
        done.append(table)
    return done
