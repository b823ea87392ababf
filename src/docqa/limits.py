"""Limits every face shares (library, CLI, HTTP), so one request means the same everywhere."""

from __future__ import annotations

from docqa.errors import InvalidInput

MAX_SEARCH_K = 100  # results per search
MAX_ASK_K = 20  # chunks retrieved to answer one question
MAX_QUERY_CHARS = 10_000
MAX_QUESTION_CHARS = 2_000
MAX_SUGGEST = 100
MAX_CONTEXT_CHUNKS = 10  # neighbours on each side of a cited chunk in its context
MAX_LIST_DOCUMENTS = 1000  # documents per page of a listing
DOCUMENT_STATUSES = ("pending", "processing", "indexed", "failed", "deleted")
MIN_SEQ_WAIT_S = 5.0  # read-your-writes: how long a read waits for its `min_seq` before a 503


def check_status(status: str | None) -> str | None:
    """A document status to filter on (None: any); anything else is InvalidInput naming the statuses."""
    if status is not None and status not in DOCUMENT_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(DOCUMENT_STATUSES)}; got {status!r}", field="status")
    return status
