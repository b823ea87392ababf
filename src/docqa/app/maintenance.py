"""Collection maintenance that needs more than one open library: switching the embedder."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from docqa.app.library import Docqa
from docqa.config import Settings
from docqa.embedders import get_embedder
from docqa.ingest.reembed import reembed_rows
from docqa.storage.db import Database
from docqa.storage.migrate import migrate


def reembed(settings: Settings, target: str, on_progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Re-embed every chunk with the `target` embedder, bind the collection to it and rebuild its index.

    Resumable: an interrupted run leaves the collection on its old model and the next run
    skips rows already switched. Stop the service first: a running service keeps the
    embedder it was started with."""
    db = Database(settings.resolved_database_url)
    try:
        embedder = get_embedder(settings, target)
        with db.connection() as conn:
            migrate(conn)
        previous, chunks = reembed_rows(db, embedder, settings.collection, on_progress)
        library = Docqa.open(settings.replace(embedder=target), embedder=embedder, db=db)
        report = library.sync("force")
        library.engine.close()  # saves the new snapshot; the database is closed below
        return {
            "collection": settings.collection,
            "from": previous,
            "to": embedder.model_id,
            "chunks": chunks,
            "sync": report.to_dict(),
        }
    finally:
        db.close()
