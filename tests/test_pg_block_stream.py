"""The rebuild's PostgreSQL stream, packed by the server one range of heap pages at a time, hands over
exactly what one binary COPY of the member rows does: the same members, vectors and row hashes, across
range edges, around deleted rows, with rows updated into new pages, beside rows that are not members
(another collection, another model, a failed document), and nothing committed after its snapshot."""

from __future__ import annotations

import numpy as np

from docqa.app import Docqa
from docqa.config import Settings
from docqa.embedders.hash import HashEmbedder
from docqa.storage import vectors
from docqa.storage.membership import pg_scan
from docqa.storage.pgcopy import copy_records
from tests.conftest import random_unit
from tests.helpers import RawSQL

DIM = 384


def _fill(url: str) -> RawSQL:
    raw = RawSQL(url)
    vecs = iter(random_unit(1000, DIM, seed=11))
    made: list[int] = []
    for n in range(5):
        doc = raw.insert_document(status="failed" if n == 1 else "indexed")
        made += [raw.insert_chunk(doc, f"doc {n} chunk {i}", next(vecs), ordinal=i) for i in range(150)]
    other = raw.insert_document(collection="other")
    for i in range(40):
        raw.insert_chunk(other, f"other {i}", next(vecs), ordinal=i, collection="other")
    for i in range(40):
        raw.insert_chunk(raw.insert_document(), f"model {i}", next(vecs), model="another-384")
    for victim in made[400:460]:
        raw.delete_chunk(victim)
    for moved in made[10:30]:  # new versions land in other pages; the old ones are dead
        raw.update_embedding(moved, next(vecs))
    return raw


def _copy(conn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    select = pg_scan(conn, "c.id, c.embedding, c.embedding_hash", "default", "hash-384", DIM)
    dtype = np.dtype(
        [("nf", ">i2"), ("l1", ">i4"), ("id", ">i8"), ("l2", ">i4"), ("v", "<f4", (DIM,)), ("l3", ">i4"), ("h", ">i8")]
    )
    parts = [
        vectors._parse_pg_rows(d, s, n, dtype, DIM)
        for d, s, n in copy_records(conn, b"COPY (" + select + b") TO STDOUT (FORMAT BINARY)", dtype, 20_000)
    ]
    return _sorted(parts)


def _sorted(parts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    ids = np.concatenate([p[0] for p in parts])
    order = np.argsort(ids)
    return (
        ids[order],
        np.concatenate([np.asarray(p[1]) for p in parts])[order],
        np.concatenate([p[2] for p in parts])[order],
    )


def test_the_block_stream_equals_one_copy_and_sees_its_snapshot_only(pg_url, tmp_path):
    library = Docqa.open(Settings(data_dir=tmp_path, database_url=pg_url, embedder="hash"), embedder=HashEmbedder())
    raw = _fill(pg_url)
    pages = int(raw.scalar("SELECT pg_relation_size('chunks') / 8192"))
    assert pages > vectors._PAGES_PER_VALUE  # more than one range
    with library.db.connection() as conn, conn.transaction(read_only=True):
        expected = _copy(conn)
        doc = raw.insert_document()  # committed after the snapshot: neither stream may see it
        raw.insert_chunk(doc, "late", random_unit(1, DIM, seed=99)[0])
        batches = list(vectors._stream_pg_blocks(conn, "default", "hash-384", DIM))
    raw.close()
    library.close()
    got = _sorted(batches)
    assert len(batches) > 1 and len(got[0]) == len(np.unique(got[0])) == 4 * 150 - 60
    for a, b in zip(expected, got, strict=True):
        assert np.array_equal(a, b)


def test_a_rebuild_from_the_block_stream_is_in_sync(pg_url, tmp_path):
    library = Docqa.open(Settings(data_dir=tmp_path, database_url=pg_url, embedder="hash"), embedder=HashEmbedder())
    _fill(pg_url).close()
    report = library.sync("force")
    assert (report.status, report.index_count) == ("rebuilt", 4 * 150 - 60)
    assert library.sync("check").status == "in_sync"
    library.close()
