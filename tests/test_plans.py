"""The sync engine's statements keep their plan shape without planner statistics (issue 12).

Right after a bulk ingest, and after a restore with pg_dump / pg_restore, PostgreSQL has no
statistics for `chunks` and `documents`. The membership join then planned a nested loop that
re-scanned the collection's chunks once per document: quadratic, 45 s for a digest of 100k chunks
in 10k documents. Here every statement the engine sends while rebuilding, verifying, catching up
and repairing is captured and EXPLAINed on such a database: none may hold a nested loop or read
`chunks` in more than one place, and a fetch by id must look the ids up (it walked the whole
collection once: the planner guessed "collection = ?" keeps 0.5% of the rows). No timing
anywhere: the plan's shape is the assertion.

SQLite: the digest is read from the covering members index, never from the wide table rows.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from docqa.app import Docqa
from docqa.config import Settings
from docqa.embedders.hash import HashEmbedder
from docqa.storage import membership, planner_stats
from tests.conftest import IN_CI, PgServer, _pg_dsn_for, random_unit
from tests.helpers import RawSQL

DOCS, PER_DOC, DIM = 300, 10, 384


def _fill(url: str, data_dir: Path) -> None:
    """Schema through docqa, rows by one bulk statement each (no ANALYZE, as a bulk ingest leaves them)."""
    Docqa.open(Settings(data_dir=data_dir, database_url=url, embedder="hash"), embedder=HashEmbedder()).close()
    import psycopg

    n = DOCS * PER_DOC
    docs = [f"doc-{d:04d}" for d in range(DOCS)]
    vecs = random_unit(n, DIM, seed=3)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO documents (id, collection, filename, status) "
            "SELECT d, 'default', d || '.txt', 'indexed' FROM unnest(%s::text[]) AS d",
            (docs,),
        )
        conn.execute(
            "INSERT INTO chunks (document_id, collection, ordinal, text, embedding, model, dim) "
            "SELECT d, 'default', o, 'chunk ' || o || ' of ' || d, e, 'hash-384', 384 "
            "FROM unnest(%s::text[], %s::int[], %s::bytea[]) AS u(d, o, e)",
            (
                [docs[i // PER_DOC] for i in range(n)],
                [i % PER_DOC for i in range(n)],
                [v.astype("<f4").tobytes() for v in vecs],
            ),
        )


@pytest.fixture(scope="module")
def unanalysed(pg_server: PgServer | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """{"bulk": a database right after a bulk load, "restored": its pg_dump | pg_restore copy}."""
    if pg_server is None:
        pytest.skip("PostgreSQL not reachable (set DOCQA_TEST_PG_DSN); under CI=true this fails instead")
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        if IN_CI:
            pytest.fail("pg_dump and pg_restore are needed to test a restored database")
        pytest.skip("pg_dump / pg_restore not installed")
    names = {kind: f"docqa_plans_{kind}_{uuid.uuid4().hex[:8]}" for kind in ("bulk", "restored")}
    with pg_server.admin() as admin:
        for name in names.values():
            admin.execute(f'CREATE DATABASE "{name}"')
    urls = {kind: _pg_dsn_for(name) for kind, name in names.items()}
    try:
        _fill(urls["bulk"], tmp_path_factory.mktemp("fill"))
        dump = tmp_path_factory.mktemp("dump") / "db.pgc"
        subprocess.run(["pg_dump", "-Fc", "-f", str(dump), urls["bulk"]], check=True, capture_output=True)
        subprocess.run(["pg_restore", "--no-owner", "-d", urls["restored"], str(dump)], check=True, capture_output=True)
        yield urls
    finally:
        with pg_server.admin() as admin:
            for name in names.values():
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Captured:
    """Every statement sent through psycopg (and every COPY the vector stream runs), with its parameters."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import psycopg

        from docqa.storage import vectors

        self.statements: list[tuple[Any, Any]] = []
        execute, copy = psycopg.Cursor.execute, vectors.copy_records

        def capture_execute(cur: Any, query: Any, params: Any = None, **kw: Any) -> Any:
            self.statements.append((query, params))
            return execute(cur, query, params, **kw)

        def capture_copy(conn: Any, query: bytes, *args: Any) -> Any:
            self.statements.append((query, None))
            return copy(conn, query, *args)

        monkeypatch.setattr(psycopg.Cursor, "execute", capture_execute)
        monkeypatch.setattr(vectors, "copy_records", capture_copy)

    def reading_chunks(self) -> list[tuple[bytes, Any]]:
        """The SELECTs (COPY bodies included) that read `chunks`, as bytes."""
        out = []
        for query, params in self.statements:
            text = query if isinstance(query, bytes) else str(query).encode()
            if text.startswith(b"COPY ("):
                text, params = text[len(b"COPY (") : text.rindex(b") TO STDOUT")], None
            if text.lstrip().upper().startswith(b"SELECT") and b"FROM chunks" in text:
                out.append((text, params))
        return out


def _plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _plan_nodes(child)


def _explain(url: str, statement: bytes, params: Any) -> list[dict[str, Any]]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(b"EXPLAIN (FORMAT JSON) " + statement, params, prepare=False).fetchone()
    assert row is not None
    return list(_plan_nodes(row[0][0]["Plan"]))


@pytest.mark.parametrize("kind", ["bulk", "restored"])
def test_no_statistics_and_no_nested_loop_in_any_sync_statement(unanalysed, kind, tmp_path, monkeypatch):
    url = unanalysed[kind]
    raw = RawSQL(url)
    lib = Docqa.open(Settings(data_dir=tmp_path, database_url=url, embedder="hash"), embedder=HashEmbedder())
    try:
        with lib.db.connection() as conn:  # the premise: what a bulk load and a restore leave
            states = {s.table: s for s in planner_stats.table_states(conn)}
            assert not states["chunks"].analysed and not states["documents"].analysed, states
            assert {"chunks", "documents"} <= set(planner_stats.stale_tables(conn))
        captured = Captured(monkeypatch)
        assert lib.sync("force").status == "rebuilt"
        assert lib.sync("auto").status == "in_sync"
        doc = raw.insert_document()
        for i, vec in enumerate(random_unit(40, DIM, seed=5)):
            raw.insert_chunk(doc, f"new chunk {i}", vec, ordinal=i)
        ids = [int(r[0]) for r in raw.execute("SELECT id FROM chunks ORDER BY id LIMIT 30").fetchall()]
        for i, vec in zip(ids[:20], random_unit(20, DIM, seed=6)):
            raw.update_embedding(i, vec)
        for i in ids[20:]:
            raw.delete_chunk(i)
        raw.execute("UPDATE documents SET status = 'failed' WHERE id = 'doc-0007'")
        assert lib.sync("catch_up").status == "caught_up"
        victim = int(raw.scalar("SELECT max(id) FROM chunks WHERE document_id = 'doc-0100'"))
        raw.update_embedding_silently(victim, random_unit(1, DIM, 9)[0])
        repaired = lib.sync("auto")
        assert repaired.status == "repaired" and repaired.repaired == 1, repaired
        with lib.db.connection() as conn:  # nothing above analysed anything
            assert not {s.table: s for s in planner_stats.table_states(conn)}["chunks"].analysed
    finally:
        lib.close()
        raw.close()
    statements = captured.reading_chunks()
    fetches = 0
    assert len(statements) >= 6  # count, stream, digest, changed-id fetch, hashes for the diff, repair fetch
    for statement, params in statements:
        nodes = _explain(url, statement, params)
        kinds = [n["Node Type"] for n in nodes]
        assert "Nested Loop" not in kinds, (statement[:300], kinds)
        assert sum(n.get("Relation Name") == "chunks" for n in nodes) <= 1, (statement[:300], kinds)
        if b"c.id = ANY" in statement:  # a fetch by id looks the ids up, never walks the collection
            conds = [n.get("Index Cond", "") for n in nodes]
            assert any("id = ANY" in c for c in conds), (statement[:300], conds)
            fetches += 1
    assert fetches >= 2  # the catch-up's and the repair's


def test_refresh_analyses_what_a_restore_left_without_statistics(unanalysed, tmp_path):
    """The worker's statistics refresh: missing statistics are made, fresh ones left alone."""
    url = unanalysed["restored"]
    lib = Docqa.open(Settings(data_dir=tmp_path, database_url=url, embedder="hash"), embedder=HashEmbedder())
    with lib.db.connection() as conn:
        assert "chunks" in planner_stats.stale_tables(conn)
        assert set(planner_stats.refresh(conn)) >= {"chunks", "documents"}
        assert planner_stats.stale_tables(conn) == []
        assert planner_stats.refresh(conn) == []
    lib.close()


def test_sqlite_digest_reads_the_covering_index_not_the_rows(tmp_path):
    """SQLite's EXPLAIN QUERY PLAN does not say COVERING for an index on an expression, so the bytecode
    is read: the members index serves the digest and no column of a table row is ever read."""
    url = f"sqlite:///{tmp_path / 'docqa.db'}"
    lib = Docqa.open(Settings(data_dir=tmp_path, database_url=url, embedder="hash"), embedder=HashEmbedder())
    with lib.db.connection() as conn:
        params = membership.params("default", "hash-384", DIM)
        digest = membership.sqlite_scan(
            "count(*), count(h.hash), sum(h.hash & 4294967295), sum(h.hash >> 32)",
            covering=True,
        )
        plan = " | ".join(str(r[-1]) for r in conn.fetchall("EXPLAIN QUERY PLAN " + digest, params))
        table_root = conn.scalar("SELECT rootpage FROM sqlite_master WHERE type = 'table' AND name = 'chunks'")
        ops = conn.fetchall("EXPLAIN " + digest, params)  # (addr, opcode, p1, p2, ...)
        table_cursors = {op[2] for op in ops if op[1] == "OpenRead" and op[3] == table_root}
        read_from_rows = [op for op in ops if op[1] == "Column" and op[2] in table_cursors]
        fetch = " | ".join(
            str(r[-1])
            for r in conn.fetchall(
                "EXPLAIN QUERY PLAN SELECT c.id FROM chunks c NOT INDEXED WHERE c.id IN (?, ?, ?)", (1, 2, 3)
            )
        )
    lib.close()
    assert "USING INDEX chunks_members" in plan, plan
    assert read_from_rows == [], read_from_rows
    assert "INTEGER PRIMARY KEY" in fetch and "chunks_members" not in fetch, fetch


def test_members_by_id_keeps_only_chunks_of_indexed_documents(db_url, tmp_path):
    """The two-lookup fetch answers what the membership join answers, odd document ids included."""
    lib = Docqa.open(Settings(data_dir=tmp_path, database_url=db_url, embedder="hash"), embedder=HashEmbedder())
    raw = RawSQL(db_url)
    made: dict[str, list[int]] = {}
    for status, name in (("indexed", 'a,b {x} "q" ? %s'), ("failed", "plain"), ("indexed", "ok")):
        doc = raw.insert_document(status=status)
        raw.execute("UPDATE documents SET id = ? WHERE id = ?", (name, doc))
        made[name] = [raw.insert_chunk(name, f"{name} {i}", v, ordinal=i) for i, v in enumerate(random_unit(3, DIM))]
    raw.close()
    every = [i for ids in made.values() for i in ids] + [10_000]
    with lib.db.connection() as conn, conn.transaction(read_only=True):
        batches = membership.members_by_id(conn, "default", "hash-384", DIM, np.array(every[::-1]), "c.id")
        got = [r[0] for rows in batches for r in rows]
        joined = [
            r[0]
            for r in conn.fetchall(
                "SELECT c.id " + membership.MEMBERSHIP + " ORDER BY c.id", membership.params("default", "hash-384", DIM)
            )
        ]
        assert membership.count_members(conn, "default", "hash-384", DIM) == len(joined) == 6
    lib.close()
    assert got == joined == sorted(made['a,b {x} "q" ? %s'] + made["ok"])


def test_fetch_vectors_fills_batch_by_batch_as_one_read_would(db_url, tmp_path, monkeypatch):
    """The catch-up's vector fetch, in batches of 2 ids, returns exactly what one batch returns: members only,
    in id order, each with its own vector and row hash (across batch edges, with non-members among them)."""
    from docqa.storage import vectors

    lib = Docqa.open(Settings(data_dir=tmp_path, database_url=db_url, embedder="hash"), embedder=HashEmbedder())
    raw = RawSQL(db_url)
    ids: list[int] = []
    for n, status in enumerate(("indexed", "failed", "indexed")):
        doc = raw.insert_document(status=status)
        ids += [raw.insert_chunk(doc, f"{n} {i}", v, ordinal=i) for i, v in enumerate(random_unit(5, DIM, seed=n))]
    raw.close()
    wanted = np.array([*ids[::-1], 99_999], dtype=np.int64)
    with lib.db.connection() as conn, conn.transaction(read_only=True):
        whole = vectors.fetch_vectors(conn, "default", "hash-384", DIM, wanted)
        monkeypatch.setattr(membership, "_FETCH_BATCH", 2)
        batched = vectors.fetch_vectors(conn, "default", "hash-384", DIM, wanted)
    lib.close()
    assert list(whole[0]) == sorted(ids[:5] + ids[10:])
    for a, b in zip(whole, batched, strict=True):
        assert np.array_equal(a, b)
    assert whole[1].shape == (10, DIM) and np.allclose(np.linalg.norm(whole[1], axis=1), 1.0, atol=1e-5)
