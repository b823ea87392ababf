"""Re-embed every chunk of a collection with another embedder (the rows only).

Rows are re-embedded in pages, each page in its own transaction, skipping
rows that already carry the target model, so an interrupted run resumes.
Until the last page is done the collection stays bound to the old model
(rows already switched are simply outside its index). Rebinding the
collection and rebuilding its index is the app layer's (`reembed` there).
"""

from __future__ import annotations

from collections.abc import Callable

from docqa.embedders.base import Embedder
from docqa.errors import InvalidInput
from docqa.ingest.writer import embedding_text
from docqa.storage import repo
from docqa.storage.db import Database
from docqa.types import ChunkInput

PAGE = 256


def reembed_rows(
    db: Database, embedder: Embedder, collection: str, on_progress: Callable[[int, int], None] | None = None
) -> tuple[str, int]:
    """Re-embed the collection's rows with `embedder`. Returns (the model it was bound to, chunks seen)."""
    with db.connection() as conn:
        bound = repo.get_collection(conn, collection)
        if bound is None:
            raise InvalidInput(f"collection {collection!r} has no documents yet; nothing to re-embed")
        total = int(conn.scalar("SELECT count(*) FROM chunks WHERE collection = ?", (collection,), default=0))
    done, last_id = 0, 0
    while True:
        with db.connection() as conn:
            rows = conn.fetchall(
                "SELECT id, heading, text, model FROM chunks WHERE collection = ? AND id > ? ORDER BY id LIMIT ?",
                (collection, last_id, PAGE),
            )
            if not rows:
                break
            last_id = int(rows[-1][0])
            todo = [r for r in rows if r[3] != embedder.model_id]
            if todo:
                vecs = embedder.embed([embedding_text(ChunkInput(text=r[2], ordinal=0, heading=r[1])) for r in todo])
                with conn.transaction():
                    conn.executemany(
                        "UPDATE chunks SET embedding = ?, model = ?, dim = ? WHERE id = ?",
                        [(repo.to_blob(v), embedder.model_id, embedder.dim, int(r[0])) for r, v in zip(todo, vecs)],
                    )
        done += len(rows)
        if on_progress:
            on_progress(min(done, total), total)
    with db.connection() as conn, conn.transaction():
        repo.set_collection_model(conn, collection, embedder.model_id, embedder.dim)
    return bound[0], total
