"""`GET /api/v1/documents` (a page of documents, filtered by status) and the context of a cited passage.

    GET /api/v1/documents?limit=50&offset=0&status=failed&order=newest
    GET /api/v1/documents/{document_id}/chunks/{chunk_id}/context?before=1&after=1&start=120&end=245

An answer's source names its `document_id`, `chunk_id` and `char_start` / `char_end`: passed as they are,
the context route returns the chunk with its neighbours and where that span is in the returned text.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.concurrency import run_in_threadpool

from docqa.api.deps import RuntimeDep
from docqa.api.schemas import DOCUMENT_ID_PATTERN, ERROR_RESPONSES
from docqa.api.schemas_documents import DocumentList, DocumentOut, PassageContextOut
from docqa.api.security import require_read_key
from docqa.errors import InvalidInput
from docqa.limits import MAX_CONTEXT_CHUNKS, MAX_LIST_DOCUMENTS

router = APIRouter(
    prefix="/api/v1/documents", tags=["documents"], responses=ERROR_RESPONSES, dependencies=[Depends(require_read_key)]
)

MAX_OFFSET = 2**31
MAX_ID = 2**63 - 1  # chunk ids are BIGINT: a larger one is not a chunk, and must not reach the database
Status = Literal["pending", "processing", "indexed", "failed", "deleted"]


@router.get("", response_model=DocumentList, summary="A page of the collection's documents, by status")
async def list_documents(
    runtime: RuntimeDep,
    limit: int = Query(default=50, ge=0, le=MAX_LIST_DOCUMENTS, description="Documents per page (0: only the total)"),
    offset: int = Query(default=0, ge=0, le=MAX_OFFSET, description="Documents to skip"),
    status: Status | None = Query(default=None, description="Only documents of this status"),
    order: Literal["oldest", "newest"] = Query(default="oldest", description="By creation time"),
) -> DocumentList:
    library = runtime.opened()

    def read() -> tuple[int, list[DocumentOut]]:
        total = library.count_documents(status)
        docs = library.list_documents(limit, offset, status, newest_first=order == "newest") if limit else []
        return total, [DocumentOut(**d.to_dict()) for d in docs]

    total, documents = await run_in_threadpool(read)
    more = offset + len(documents) < total and len(documents) == limit > 0
    return DocumentList(
        documents=documents,
        total=total,
        limit=limit,
        offset=offset,
        status=status,
        order=order,
        next_offset=offset + len(documents) if more else None,
    )


@router.get(
    "/{document_id}/chunks/{chunk_id}/context",
    response_model=PassageContextOut,
    summary="A chunk with its neighbours, and the span to highlight (an answer's cited passage in context)",
)
async def passage_context(
    runtime: RuntimeDep,
    document_id: str = Path(pattern=DOCUMENT_ID_PATTERN, description="Document id"),
    chunk_id: int = Path(ge=0, le=MAX_ID, description="Chunk id (a source's or a search result's chunk_id)"),
    before: int = Query(default=1, ge=0, le=MAX_CONTEXT_CHUNKS, description="Chunks before it"),
    after: int = Query(default=1, ge=0, le=MAX_CONTEXT_CHUNKS, description="Chunks after it"),
    start: int | None = Query(default=None, ge=0, le=2**62, description="Highlight from this document offset"),
    end: int | None = Query(default=None, ge=0, le=2**62, description="Highlight up to this document offset"),
) -> PassageContextOut:
    if (start is None) != (end is None):
        raise InvalidInput("start and end go together (a source's char_start and char_end)", field="start")
    if start is not None and end is not None and start > end:
        raise InvalidInput(f"start ({start}) is after end ({end})", field="start", start=start, end=end)
    span = (start, end) if start is not None and end is not None else None
    library = runtime.opened()
    context = await run_in_threadpool(
        lambda: library.passage_context(document_id, chunk_id, before=before, after=after, span=span)
    )
    return PassageContextOut(**context.to_dict())
