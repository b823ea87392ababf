"""Switch a collection to another embedder: re-embed every chunk, rebind, rebuild.

Rows are re-embedded in pages, each page in its own transaction, skipping
rows that already carry the target model, so an interrupted run resumes.
Until the last page is done the collection stays bound to the old model
(rows already switched are simply outside its index); the switch of the
binding and the rebuild happen at the end. Stop the service first: a running
service keeps using the embedder it was started with.
"""

from __future__ import annotations

from collections.abc import Callable

from docqa.app import Store, embedding_text
from docqa.config import Settings
from docqa.embedders import get_embedder
from docqa.errors import InvalidInput
from docqa.storage import repo
from docqa.storage.db import Database
from docqa.storage.migrate import migrate
from docqa.types import ChunkInput

PAGE = 256


def reembed_collection(settings: Settings, target: str, on_progress: Callable[[int, int], None] | None = None) -> dict:
    db = Database(settings.resolved_database_url)
    try:
        embedder = get_embedder(settings, target)
        with db.connection() as conn:
            migrate(conn)
            bound = repo.get_collection(conn, settings.collection)
            if bound is None:
                raise InvalidInput(f"collection {settings.collection!r} has no documents yet; nothing to re-embed")
            total = int(
                conn.scalar("SELECT count(*) FROM chunks WHERE collection = ?", (settings.collection,), default=0)
            )
        done, last_id = 0, 0
        while True:
            with db.connection() as conn:
                rows = conn.fetchall(
                    "SELECT id, heading, text, model FROM chunks WHERE collection = ? AND id > ? ORDER BY id LIMIT ?",
                    (settings.collection, last_id, PAGE),
                )
                if not rows:
                    break
                last_id = int(rows[-1][0])
                todo = [r for r in rows if r[3] != embedder.model_id]
                if todo:
                    vecs = embedder.embed(
                        [embedding_text(ChunkInput(text=r[2], ordinal=0, heading=r[1])) for r in todo]
                    )
                    with conn.transaction():
                        conn.executemany(
                            "UPDATE chunks SET embedding = ?, model = ?, dim = ? WHERE id = ?",
                            [(repo.to_blob(v), embedder.model_id, embedder.dim, int(r[0])) for r, v in zip(todo, vecs)],
                        )
            done += len(rows)
            if on_progress:
                on_progress(min(done, total), total)
        with db.connection() as conn, conn.transaction():
            repo.set_collection_model(conn, settings.collection, embedder.model_id, embedder.dim)
        store = Store.open(settings, embedder=embedder, db=db)
        report = store.sync("force")
        store.engine.close()
        return {
            "collection": settings.collection,
            "from": bound[0],
            "to": embedder.model_id,
            "chunks": total,
            "sync": report.to_dict(),
        }
    finally:
        db.close()
