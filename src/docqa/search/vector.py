"""Vector search: rank with the collection's index (read side only), hydrate the hits from SQL."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from docqa.search.corpus import Corpus
from docqa.search.filters import allowed_chunk_ids
from docqa.storage import repo
from docqa.storage.db import Database
from docqa.types import SearchFilters, SearchHit


def hits_from_ids(db: Database, ids: list[int], scores: list[float]) -> list[SearchHit]:
    """Turn ranked (id, score) pairs into results; ids gone from the DB meanwhile are dropped."""
    if not ids:
        return []
    with db.connection() as conn:
        rows = repo.get_chunks(conn, ids)
    hits = []
    for chunk_id, score in zip(ids, scores):
        found = rows.get(chunk_id)
        if found is None:
            continue
        chunk, doc = found
        hits.append(
            SearchHit(
                chunk_id=chunk.id,
                document_id=chunk.document_id,
                score=float(score),
                content=chunk.text,
                filename=doc.filename,
                content_type=doc.content_type,
                chunk_index=chunk.ordinal,
                metadata={**doc.metadata, **chunk.metadata},
                page=chunk.page,
                char_start=chunk.char_start,
                char_end=chunk.char_end,
                heading=chunk.heading,
            )
        )
    return hits


def vector_ranking(
    corpus: Corpus, query_vector: npt.NDArray[np.float32], k: int, filters: SearchFilters
) -> tuple[list[int], list[float]]:
    allowed: npt.NDArray[np.int64] | None = None
    if not filters.is_empty():
        with corpus.db.connection() as conn:
            found = allowed_chunk_ids(conn, corpus.collection, filters)
        if found is None or len(found) == 0:
            return [], []
        allowed = found
    scores, ids = corpus.index.search(query_vector.reshape(1, -1), k, allowed)
    pairs = [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]
    return [p[0] for p in pairs], [p[1] for p in pairs]
