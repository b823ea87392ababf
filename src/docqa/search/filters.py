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


def _meta_expr(conn: Connection, key: str) -> tuple[str, list[Any]]:
    """A document metadata value as text, the same on both databases: JSON true/false as
    'true'/'false' (SQLite's json_extract would give 1/0), numbers and strings as written."""
    if conn.is_pg:
        return "d.metadata ->> ?", [key]
    path = "'$.\"' || ? || '\"'"
    return (
        f"CASE json_type(d.metadata, {path}) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' "
        f"ELSE CAST(json_extract(d.metadata, {path}) AS TEXT) END",
        [key, key],
    )


def filter_clause(conn: Connection, filters: SearchFilters) -> tuple[str, list[Any]]:
    """SQL conditions on `d` (documents) for the filters, with parameters."""
    conds: list[str] = []
    params: list[Any] = []
    if filters.document_ids:
        conds.append(f"d.id IN ({','.join('?' * len(filters.document_ids))})")
        params.extend(filters.document_ids)
    if filters.content_types:
        ors = []
        expr, expr_params = _meta_expr(conn, "document_type")
        for ct in filters.content_types:
            ors.append(f"(d.content_type = ? OR {expr} = ?)")
            params.extend([ct, *expr_params, ct])
        conds.append("(" + " OR ".join(ors) + ")")
    for key, value in filters.metadata.items():
        expr, expr_params = _meta_expr(conn, key)
        if isinstance(value, (list, tuple)) and not value:
            conds.append("1 = 0")  # equal to one of no values: nothing matches (and `IN ()` is not SQL on PostgreSQL)
        elif isinstance(value, (list, tuple)):
            conds.append(f"{expr} IN ({','.join('?' * len(value))})")
            params.extend([*expr_params, *[_as_text(v) for v in value]])
        else:
            conds.append(f"{expr} = ?")
            params.extend([*expr_params, _as_text(value)])
    expr, expr_params = _meta_expr(conn, "date")
    date_expr = f"COALESCE({expr}, substr(d.created_at, 1, 10))"
    if filters.date_from:
        conds.append(f"{date_expr} >= ?")
        params.extend([*expr_params, filters.date_from[:10]])
    if filters.date_to:
        conds.append(f"{date_expr} <= ?")
        params.extend([*expr_params, filters.date_to[:10]])
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
