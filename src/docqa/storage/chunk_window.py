"""A chunk and its neighbours in its document, by ordinal: the reads behind a cited passage's context."""

from __future__ import annotations

from dataclasses import dataclass

from docqa.storage import repo
from docqa.storage.db import Connection
from docqa.types import ChunkRecord

_COLUMNS = ", ".join("c." + c.strip() for c in repo.CHUNK_COLUMNS.split(","))


@dataclass
class ChunkWindow:
    """`chunks` in ordinal order, the anchor among them; `more_before` / `more_after`: the document goes on."""

    chunks: list[ChunkRecord]
    anchor: ChunkRecord
    more_before: bool
    more_after: bool


def chunk_window(
    conn: Connection, collection: str, document_id: str, chunk_id: int, before: int, after: int
) -> ChunkWindow | None:
    """Chunk `chunk_id` of `document_id` (None when it is not one of that document's chunks in the collection)
    with up to `before` chunks of lower ordinals and `after` of higher ones (ordinals need not be contiguous)."""
    row = conn.fetchone(
        f"SELECT {_COLUMNS} FROM chunks c WHERE c.id = ? AND c.document_id = ? AND c.collection = ?",
        (chunk_id, document_id, collection),
    )
    if row is None:
        return None
    anchor = repo._chunk(row)
    earlier = _side(conn, anchor, "<", "DESC", before)
    later = _side(conn, anchor, ">", "ASC", after)
    return ChunkWindow(
        chunks=[*reversed(earlier[:before]), anchor, *later[:after]],
        anchor=anchor,
        more_before=len(earlier) > before,
        more_after=len(later) > after,
    )


def _side(conn: Connection, anchor: ChunkRecord, op: str, order: str, n: int) -> list[ChunkRecord]:
    """Up to n + 1 chunks on one side of the anchor, nearest first (the extra one says whether there are more)."""
    rows = conn.fetchall(
        f"SELECT {_COLUMNS} FROM chunks c WHERE c.document_id = ? AND c.collection = ? AND c.ordinal {op} ? "
        f"ORDER BY c.ordinal {order}, c.id {order} LIMIT ?",
        (anchor.document_id, anchor.collection, anchor.ordinal, n + 1),
    )
    return [repo._chunk(r) for r in rows]
