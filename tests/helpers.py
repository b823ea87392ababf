"""Helpers for tests: documents made of sentences, and plain-SQL writers."""

from __future__ import annotations

import sqlite3
import uuid as _uuid

import numpy as np

from docqa.types import ChunkInput

TOPICS = [
    "the espresso machine needs descaling every month with citric acid",
    "bicycle chains should be cleaned and lubricated after rain",
    "patients must bring their insurance card to the intake desk",
    "the data retention policy keeps audit logs for seven years",
    "vaccines are stored between two and eight degrees celsius",
    "the sync engine rebuilds the faiss index from stored embeddings",
    "sourdough bread needs a starter fed with flour and water",
    "the town library was founded in 1887 by a wealthy merchant",
    "incident postmortems list the timeline root cause and actions",
    "a discharge checklist confirms medication and follow up visits",
]


def make_chunks(texts: list[str]) -> list[ChunkInput]:
    out, pos = [], 0
    for i, t in enumerate(texts):
        out.append(ChunkInput(text=t, ordinal=i, char_start=pos, char_end=pos + len(t), token_count=len(t.split())))
        pos += len(t) + 1
    return out


# --- plain SQL, as another program would write it (not through docqa) ---


class RawSQL:
    """A separate DB-API connection writing rows by hand, the way a script or another service would."""

    def __init__(self, url: str) -> None:
        self.pg = url.startswith("postgres")
        if self.pg:
            import psycopg

            self.conn = psycopg.connect(url, autocommit=True)
        else:
            self.conn = sqlite3.connect(url.split("sqlite:///", 1)[1], isolation_level=None, timeout=30)

    def q(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.pg else sql

    def execute(self, sql: str, params: tuple = ()):
        return self.conn.execute(self.q(sql), params)

    def insert_document(self, collection: str = "default", filename: str = "raw.txt", status: str = "indexed") -> str:
        doc_id = str(_uuid.uuid4())
        self.execute(
            "INSERT INTO documents (id, collection, filename, content_type, status, created_at, updated_at) "
            "VALUES (?, ?, ?, 'text/plain', ?, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
            (doc_id, collection, filename, status),
        )
        return doc_id

    def insert_chunk(
        self,
        doc_id: str,
        text: str,
        vector: np.ndarray,
        ordinal: int = 0,
        collection: str = "default",
        model: str = "hash-384",
    ) -> int:
        blob = np.asarray(vector, dtype="<f4").tobytes()
        sql = (
            "INSERT INTO chunks (document_id, collection, ordinal, text, embedding, model, dim) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)"
        )
        if self.pg:
            return int(
                self.execute(
                    sql + " RETURNING id", (doc_id, collection, ordinal, text, blob, model, len(vector))
                ).fetchone()[0]
            )
        cur = self.execute(sql, (doc_id, collection, ordinal, text, blob, model, len(vector)))
        return int(cur.lastrowid)

    def update_embedding(self, chunk_id: int, vector: np.ndarray) -> None:
        self.execute(
            "UPDATE chunks SET embedding = ? WHERE id = ?", (np.asarray(vector, dtype="<f4").tobytes(), chunk_id)
        )

    def update_embedding_silently(self, chunk_id: int, vector: np.ndarray) -> None:
        """Change an embedding WITHOUT the change log seeing it (drift the log cannot explain)."""
        blob = np.asarray(vector, dtype="<f4").tobytes()
        if self.pg:
            self.execute("ALTER TABLE chunks DISABLE TRIGGER chunks_log_update")
            self.execute("UPDATE chunks SET embedding = %s WHERE id = %s", (blob, chunk_id))
            self.execute("ALTER TABLE chunks ENABLE TRIGGER chunks_log_update")
        else:
            sql = self.execute("SELECT sql FROM sqlite_master WHERE name = 'chunks_log_update'").fetchone()[0]
            self.execute("DROP TRIGGER chunks_log_update")
            self.execute("UPDATE chunks SET embedding = ? WHERE id = ?", (blob, chunk_id))
            self.execute(sql)

    def delete_chunk(self, chunk_id: int) -> None:
        self.execute("DELETE FROM chunks WHERE id = ?", (chunk_id,))

    def scalar(self, sql: str, params: tuple = ()):
        return self.execute(sql, params).fetchone()[0]

    def close(self) -> None:
        self.conn.close()
