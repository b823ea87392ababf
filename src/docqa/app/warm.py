"""The query path's warm-up: one library search before the service says it is ready."""

from __future__ import annotations

from docqa.app.library import Docqa
from docqa.logging import get_logger

log = get_logger("docqa.runtime")

# A question as long as most users' (the model runtime sizes its buffers for the longest input seen so far)
WARM_QUERY = (
    "how do I warm up the service before the first question about the documents of this collection, "
    "and what should I check when a search returns nothing useful for a long question like this one?"
)


def warm_query_path(library: Docqa) -> None:
    """One hybrid search before the service says it is ready, so the first user's query does not pay the
    query path's first-use costs (the keyword thread pool, the statements' first plans, FAISS's and the
    model runtime's first-call allocations): measured 2.1x a warm query without it (bench_cold_start.py).
    Its failure (an empty or unreachable database) is not the model's: health reports those on its own."""
    try:
        library.search(WARM_QUERY, mode="hybrid", k=1)
    except Exception as exc:  # best effort: the first real query reports what is wrong
        log.debug("query-path warm-up skipped: %s", exc)
