"""Documents and chunks: the writes and reads every caller shares.

Writes never touch the FAISS index: the change-log triggers record them and
the sync engine picks them up. A document and its chunks are written in one
transaction by the caller (see `ingest/writer.py`), so a reader never sees half of one.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import xxhash

from docqa.errors import Conflict, EmbedderMismatch, InvalidInput
from docqa.storage.db import Connection, Row
from docqa.types import ChunkInput, ChunkRecord, DocumentRecord

DOC_COLUMNS = (
    "id, collection, source, filename, content_type, content_hash, status, error, metadata, created_at, updated_at, "
    "parser_version"
)
DOC_WIDTH = DOC_COLUMNS.count(",") + 1  # columns in DOC_COLUMNS
CHUNK_COLUMNS = "id, document_id, collection, ordinal, text, char_start, char_end, page, token_count, heading, content_hash, model, dim, metadata"


def now_iso() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int((t % 1) * 1000):03d}Z"


def new_document_id() -> str:
    return str(uuid.uuid4())


def chunk_hash(heading: str, text: str) -> str:
    return xxhash.xxh3_128_hexdigest(heading.encode("utf-8") + b"\x00" + text.encode("utf-8"))


def to_blob(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype="<f4").tobytes()


def _json_param(conn: Connection, value: dict[str, Any]) -> Any:
    if conn.is_pg:
        from psycopg.types.json import Jsonb

        return Jsonb(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _load_json(value: Any) -> dict[str, Any]:
    if value is None or value == "":
        return {}
    if isinstance(value, (dict, list)):
        return value  # type: ignore[return-value]
    try:
        loaded = json.loads(value)
    except (TypeError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


# --- collections ----------------------------------------------------------


def get_collection(conn: Connection, name: str) -> tuple[str, int] | None:
    row = conn.fetchone("SELECT model, dim FROM collections WHERE name = ?", (name,))
    return (row[0], int(row[1])) if row else None


def ensure_collection(conn: Connection, name: str, model: str, dim: int) -> None:
    """Bind a collection to an embedder on first use; refuse a different one later."""
    current = get_collection(conn, name)
    if current is None:
        conn.execute(
            "INSERT INTO collections(name, model, dim) VALUES (?, ?, ?) ON CONFLICT(name) DO NOTHING",
            (name, model, dim),
        )
        current = get_collection(conn, name)
    if current is None:  # another program deleted the row between our insert and this read
        raise Conflict(f"collection {name!r} was deleted while it was being bound to {model!r}; retry", collection=name)
    if current != (model, dim):
        raise EmbedderMismatch(
            f"collection {name!r} was built with embedder {current[0]!r} (dim {current[1]}), not {model!r} (dim {dim}); "
            f"open it with that embedder, or switch it with: docqa --collection {name} reembed --to <embedder>",
            collection=name,
            stored_model=current[0],
            requested_model=model,
        )


def set_collection_model(conn: Connection, name: str, model: str, dim: int) -> None:
    conn.execute(
        "INSERT INTO collections(name, model, dim) VALUES (?, ?, ?) "
        "ON CONFLICT(name) DO UPDATE SET model = excluded.model, dim = excluded.dim",
        (name, model, dim),
    )


# --- documents ------------------------------------------------------------


def _doc(row: Sequence[Any], chunks_total: int = 0) -> DocumentRecord:
    return DocumentRecord(
        id=row[0],
        collection=row[1],
        source=row[2],
        filename=row[3],
        content_type=row[4],
        content_hash=row[5],
        status=row[6],
        error=row[7],
        metadata=_load_json(row[8]),
        created_at=str(row[9]),
        updated_at=str(row[10]),
        chunks_total=chunks_total,
        parser_version=int(row[11] or 0),
    )


def get_document(conn: Connection, document_id: str) -> DocumentRecord | None:
    row = conn.fetchone(f"SELECT {DOC_COLUMNS} FROM documents WHERE id = ?", (document_id,))
    if row is None:
        return None
    total = int(conn.scalar("SELECT count(*) FROM chunks WHERE document_id = ?", (document_id,), default=0))
    return _doc(row, total)


def find_document_by_source(conn: Connection, collection: str, source: str) -> DocumentRecord | None:
    row = conn.fetchone(
        f"SELECT {DOC_COLUMNS} FROM documents WHERE collection = ? AND source = ? ORDER BY created_at LIMIT 1",
        (collection, source),
    )
    if row is None:
        return None
    return _doc(row, int(conn.scalar("SELECT count(*) FROM chunks WHERE document_id = ?", (row[0],), default=0)))


def find_document_by_identity(
    conn: Connection, collection: str, identity: str, lock: bool = False
) -> DocumentRecord | None:
    """The document holding `identity` in the collection; `lock`: hold its row until the transaction ends (PG)."""
    row = conn.fetchone(
        f"SELECT {DOC_COLUMNS} FROM documents WHERE collection = ? AND identity = ?"
        + (" FOR UPDATE" if lock and conn.is_pg else ""),
        (collection, identity),
    )
    if row is None:
        return None
    return _doc(row, int(conn.scalar("SELECT count(*) FROM chunks WHERE document_id = ?", (row[0],), default=0)))


def list_documents(
    conn: Connection,
    collection: str,
    limit: int = 1000,
    offset: int = 0,
    status: str | None = None,
    newest_first: bool = False,
) -> list[DocumentRecord]:
    """A page of the collection's documents (oldest first, or newest first), of one status when given."""
    where, params = _documents_where(collection, status)
    order = "DESC" if newest_first else "ASC"
    rows = conn.fetchall(
        f"SELECT {', '.join('d.' + c.strip() for c in DOC_COLUMNS.split(','))}, "
        "(SELECT count(*) FROM chunks c WHERE c.document_id = d.id) "
        f"FROM documents d WHERE {where} ORDER BY d.created_at {order}, d.id {order} LIMIT ? OFFSET ?",
        (*params, limit, offset),
    )
    return [_doc(r[:DOC_WIDTH], int(r[DOC_WIDTH])) for r in rows]


def count_documents(conn: Connection, collection: str, status: str | None = None) -> int:
    where, params = _documents_where(collection, status)
    return int(conn.scalar(f"SELECT count(*) FROM documents d WHERE {where}", params, default=0))


def _documents_where(collection: str, status: str | None) -> tuple[str, tuple[str, ...]]:
    """A document still being written (storage/staging.py) is in no listing or count until it is whole."""
    visible = "d.collection = ? AND substr(d.identity, 1, 8) <> 'staging:'"
    if status is None:
        return visible, (collection,)
    return visible + " AND d.status = ?", (collection, status)


def upsert_document(
    conn: Connection,
    *,
    document_id: str,
    collection: str,
    source: str = "",
    filename: str = "",
    content_type: str = "",
    content_hash: str = "",
    status: str = "indexed",
    error: str | None = None,
    metadata: dict[str, Any] | None = None,
    identity: str = "",
    new: bool = False,
    parser_version: int = 0,
) -> None:
    """Insert or update a document by id. `identity` (ingest/identity.py) is set on insert and kept after.

    `new`: the caller found no such document, so a row inserted meanwhile by another writer is a
    Conflict (the unique id or identity refuses it) rather than silently overwritten."""
    ts = now_iso()
    conn.execute(
        "INSERT INTO documents (id, collection, source, filename, content_type, content_hash, status, error, metadata, "
        "created_at, updated_at, identity, parser_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        + (
            ""
            if new
            else "ON CONFLICT(id) DO UPDATE SET source = excluded.source, filename = excluded.filename, "
            "content_type = excluded.content_type, content_hash = excluded.content_hash, status = excluded.status, "
            "error = excluded.error, metadata = excluded.metadata, updated_at = excluded.updated_at, "
            "parser_version = excluded.parser_version"
        ),
        (
            document_id,
            collection,
            source,
            filename,
            content_type,
            content_hash,
            status,
            error,
            _json_param(conn, metadata or {}),
            ts,
            ts,
            identity or f"doc:{document_id}",
            parser_version,
        ),
    )
    owner = conn.scalar("SELECT collection FROM documents WHERE id = ?", (document_id,))
    if owner != collection:
        raise InvalidInput(f"document {document_id} belongs to collection {owner!r}, not {collection!r}")


def delete_document(conn: Connection, document_id: str) -> int:
    """Delete a document and its chunks. Returns how many chunks went."""
    n = int(conn.scalar("SELECT count(*) FROM chunks WHERE document_id = ?", (document_id,), default=0))
    conn.execute("DELETE FROM chunks WHERE document_id = ?", (document_id,))
    conn.execute("DELETE FROM documents WHERE id = ?", (document_id,))
    return n


# --- chunks ---------------------------------------------------------------


def existing_chunk_hashes(conn: Connection, document_id: str) -> set[str]:
    return {r[0] for r in conn.fetchall("SELECT content_hash FROM chunks WHERE document_id = ?", (document_id,))}


def write_chunks(
    conn: Connection, document_id: str, collection: str, chunks: Sequence[ChunkInput], model: str, dim: int
) -> tuple[int, int, int]:
    """Make the document's chunks equal to `chunks`, reusing rows whose content is unchanged.

    A chunk whose (heading, text) hash already exists keeps its row, id and
    embedding (positions are refreshed); only new content needs an embedding.
    Returns (added, removed, unchanged).
    """
    old: dict[str, list[Row]] = {}
    for row in conn.fetchall(
        "SELECT id, content_hash, ordinal, char_start, char_end, page FROM chunks WHERE document_id = ? ORDER BY ordinal",
        (document_id,),
    ):
        old.setdefault(row[1], []).append(row)
    inserts: list[tuple[Any, ...]] = []
    moves: list[tuple[Any, ...]] = []
    unchanged = 0
    for ch in chunks:
        h = chunk_hash(ch.heading, ch.text)
        if old.get(h):
            row = old[h].pop(0)
            unchanged += 1
            if (row[2], row[3], row[4], row[5]) != (ch.ordinal, ch.char_start, ch.char_end, ch.page):
                moves.append((ch.ordinal, ch.char_start, ch.char_end, ch.page, row[0]))
            continue
        inserts.append(chunk_row(conn, document_id, collection, ch, h, model, dim))
    stale = [row[0] for rows in old.values() for row in rows]
    for start in range(0, len(stale), 500):
        part = stale[start : start + 500]
        conn.execute(f"DELETE FROM chunks WHERE id IN ({','.join('?' * len(part))})", part)
    conn.executemany("UPDATE chunks SET ordinal = ?, char_start = ?, char_end = ?, page = ? WHERE id = ?", moves)
    insert_chunk_rows(conn, inserts)
    return len(inserts), len(stale), unchanged


def chunk_row(
    conn: Connection, document_id: str, collection: str, ch: ChunkInput, h: str, model: str, dim: int
) -> tuple[Any, ...]:
    """The INSERT parameters of one new chunk (`h`: its content hash); it must carry its embedding."""
    if ch.embedding is None:
        raise InvalidInput(f"chunk {ch.ordinal} of document {document_id} has new content but no embedding")
    vec = np.asarray(ch.embedding, dtype=np.float32)
    if vec.shape != (dim,):
        raise InvalidInput(f"chunk {ch.ordinal}: embedding has shape {vec.shape}, expected ({dim},)")
    return (
        document_id,
        collection,
        ch.ordinal,
        ch.text,
        ch.char_start,
        ch.char_end,
        ch.page,
        ch.token_count,
        ch.heading,
        h,
        to_blob(vec),
        model,
        dim,
        _json_param(conn, ch.metadata),
    )


def insert_chunk_rows(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    conn.executemany(
        "INSERT INTO chunks (document_id, collection, ordinal, text, char_start, char_end, page, token_count, heading, "
        "content_hash, embedding, model, dim, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


def _chunk(row: Sequence[Any]) -> ChunkRecord:
    return ChunkRecord(
        id=int(row[0]),
        document_id=row[1],
        collection=row[2],
        ordinal=int(row[3]),
        text=row[4],
        char_start=int(row[5]),
        char_end=int(row[6]),
        page=row[7],
        token_count=int(row[8]),
        heading=row[9],
        content_hash=row[10],
        model=row[11],
        dim=int(row[12]),
        metadata=_load_json(row[13]),
    )


def get_chunks(conn: Connection, ids: Iterable[int]) -> dict[int, tuple[ChunkRecord, DocumentRecord]]:
    """Chunks by id, each with its document, for turning index hits into results."""
    ids = [int(i) for i in ids]
    out: dict[int, tuple[ChunkRecord, DocumentRecord]] = {}
    cols = (
        ", ".join("c." + c.strip() for c in CHUNK_COLUMNS.split(","))
        + ", "
        + ", ".join("d." + c.strip() for c in DOC_COLUMNS.split(","))
    )
    for start in range(0, len(ids), 900):
        part = ids[start : start + 900]
        rows = conn.fetchall(
            f"SELECT {cols} FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.id IN ({','.join('?' * len(part))})",
            part,
        )
        for r in rows:
            out[int(r[0])] = (_chunk(r[:14]), _doc(r[14:]))
    return out
