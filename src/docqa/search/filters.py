"""Turn search filters into the set of chunk ids allowed *before* ranking.

Filters are resolved in SQL against documents (and their metadata), then
handed to FAISS as an id selector, so a filtered query still returns `limit`
results whenever that many chunks match.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from docqa.storage.db import Connection
from docqa.types import SearchFilters


def _meta_expr(conn: Connection, key: str) -> str:
    if conn.is_pg:
        return "d.metadata ->> ?"
    return "CAST(json_extract(d.metadata, '$.\"' || ? || '\"') AS TEXT)"


def filter_clause(conn: Connection, filters: SearchFilters) -> tuple[str, list[Any]]:
    """SQL conditions on `d` (documents) for the filters, with parameters."""
    conds: list[str] = []
    params: list[Any] = []
    if filters.document_ids:
        conds.append(f"d.id IN ({','.join('?' * len(filters.document_ids))})")
        params.extend(filters.document_ids)
    if filters.content_types:
        ors = []
        for ct in filters.content_types:
            ors.append("(d.content_type = ? OR " + _meta_expr(conn, "document_type") + " = ?)")
            params.extend([ct, "document_type", ct])
        conds.append("(" + " OR ".join(ors) + ")")
    for key, value in filters.metadata.items():
        if isinstance(value, (list, tuple)):
            conds.append(f"{_meta_expr(conn, key)} IN ({','.join('?' * len(value))})")
            params.extend([key, *[str(v) for v in value]])
        else:
            conds.append(f"{_meta_expr(conn, key)} = ?")
            params.extend([key, _as_text(value)])
    date_expr = f"COALESCE({_meta_expr(conn, 'date')}, substr(d.created_at, 1, 10))"
    if filters.date_from:
        conds.append(f"{date_expr} >= ?")
        params.extend(["date", filters.date_from[:10]])
    if filters.date_to:
        conds.append(f"{date_expr} <= ?")
        params.extend(["date", filters.date_to[:10]])
    return " AND ".join(conds), params


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def allowed_chunk_ids(conn: Connection, collection: str, filters: SearchFilters) -> np.ndarray | None:
    """Chunk ids passing the filters, or None when there are no filters."""
    if filters.is_empty():
        return None
    clause, params = filter_clause(conn, filters)
    rows = conn.fetchall(
        "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id "
        f"WHERE c.collection = ? AND d.status = 'indexed' AND {clause}",
        [collection, *params],
    )
    return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
