"""Documents by id with all their chunks in one read (and, when asked, the chunks' stored embeddings)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from docqa.storage import repo
from docqa.storage.db import Connection
from docqa.types import ChunkRecord, DocumentRecord

BATCH = 500  # ids per IN (...) list

DocumentChunks = tuple[DocumentRecord, list[ChunkRecord], dict[int, np.ndarray]]


def document_ids_where(conn: Connection, collection: str, clause: str, params: Sequence[object]) -> list[str]:
    """Ids of the collection's documents `d` meeting an SQL condition (search/filters.py builds it), oldest first."""
    rows = conn.fetchall(
        f"SELECT d.id FROM documents d WHERE d.collection = ? AND ({clause or '1 = 1'}) ORDER BY d.created_at, d.id",
        [collection, *params],
    )
    return [r[0] for r in rows]


def documents_with_chunks(
    conn: Connection, collection: str, ids: Sequence[str], vectors: bool = False
) -> dict[str, DocumentChunks]:
    """The documents of `collection` among `ids`, each with its chunks in order; `vectors`: their embeddings too."""
    wanted = list(dict.fromkeys(str(i) for i in ids))
    out: dict[str, DocumentChunks] = {}
    chunk_cols = ", ".join("c." + c.strip() for c in repo.CHUNK_COLUMNS.split(","))
    for start in range(0, len(wanted), BATCH):
        part = wanted[start : start + BATCH]
        marks = ",".join("?" * len(part))
        for row in conn.fetchall(
            f"SELECT {repo.DOC_COLUMNS} FROM documents WHERE collection = ? AND id IN ({marks})", [collection, *part]
        ):
            out[row[0]] = (repo._doc(row), [], {})
        rows = conn.fetchall(
            f"SELECT {chunk_cols}{', c.embedding' if vectors else ''} FROM chunks c "
            f"WHERE c.collection = ? AND c.document_id IN ({marks}) ORDER BY c.document_id, c.ordinal, c.id",
            [collection, *part],
        )
        for row in rows:
            chunk = repo._chunk(row[:14])
            found = out.get(chunk.document_id)
            if found is None:  # a document deleted between the two reads
                continue
            found[1].append(chunk)
            if vectors and row[14] is not None:
                found[2][chunk.id] = np.frombuffer(bytes(row[14]), dtype="<f4").astype(np.float32)
    for doc, chunks, _ in out.values():
        doc.chunks_total = len(chunks)
    return out
