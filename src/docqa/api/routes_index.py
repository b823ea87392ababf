"""Index routes: add chunks, document status, delete, rebuild from the database.

The blocking work (embedding, SQL, a forced rebuild) runs in the thread pool,
so it never blocks the event loop, and searches keep being answered from the
current index meanwhile.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, Path
from fastapi.concurrency import run_in_threadpool

from docqa.api.deps import RuntimeDep
from docqa.api.schemas import (
    DOCUMENT_ID_PATTERN,
    ERROR_RESPONSES,
    DeleteResponse,
    DocumentStatus,
    IndexRequest,
    IndexResponse,
    RebuildResponse,
    SyncReportOut,
)
from docqa.api.security import require_admin_key, require_read_key
from docqa.errors import InvalidInput, SyncFailed
from docqa.logging import get_logger, log_event
from docqa.types import ChunkInput

log = get_logger("docqa.api.index")

router = APIRouter(prefix="/api/v1/index", tags=["index"], responses=ERROR_RESPONSES)
write = [Depends(require_admin_key)]
read = [Depends(require_read_key)]


def _document_metadata(body: IndexRequest) -> dict[str, Any]:
    """Explicit document metadata, else the keys every chunk's metadata agrees on (e.g. patient_id)."""
    if body.metadata:
        return dict(body.metadata)
    common = dict(body.chunks[0].metadata)
    for chunk in body.chunks[1:]:
        common = {k: v for k, v in common.items() if k in chunk.metadata and chunk.metadata[k] == v}
    return common


def _chunk_inputs(body: IndexRequest) -> list[ChunkInput]:
    out, pos = [], 0
    for chunk in sorted(body.chunks, key=lambda c: c.index):
        out.append(
            ChunkInput(
                text=chunk.content,
                ordinal=chunk.index,
                char_start=pos,
                char_end=pos + len(chunk.content),
                token_count=len(chunk.content.split()),
                metadata=dict(chunk.metadata),
            )
        )
        pos += len(chunk.content) + 1
    return out


@router.post("/", response_model=IndexResponse, dependencies=write, summary="Index a document's chunks")
async def index_document(body: IndexRequest, runtime: RuntimeDep) -> IndexResponse:
    library = runtime.serving()
    start = time.perf_counter()
    result = await run_in_threadpool(
        library.add_document,
        _chunk_inputs(body),
        document_id=body.document_id,
        filename=body.filename,
        source=body.source,
        content_type=body.content_type or "text/plain",
        metadata=_document_metadata(body),
    )
    ms = round((time.perf_counter() - start) * 1000, 2)
    log_event(
        log,
        "Document indexed",
        document_id=result.document_id,
        chunks=len(body.chunks),
        added=result.added,
        removed=result.removed,
        unchanged=result.unchanged,
        processing_time_ms=ms,
    )
    return IndexResponse(
        document_id=result.document_id,
        chunks_processed=len(body.chunks),
        vectors_added=result.added,
        processing_time_ms=ms,
        status="indexed",
        seq=result.seq,
    )


DocumentIdPath = Path(pattern=DOCUMENT_ID_PATTERN, description="Document id")


@router.get("/status/", include_in_schema=False)
async def document_status_without_id() -> None:
    """Without this, `GET /status/` would be a bare 307 towards a route that does not exist."""
    raise InvalidInput("a document id is required: GET /api/v1/index/status/{document_id}", field="document_id")


@router.get(
    "/status/{document_id}", response_model=DocumentStatus, dependencies=read, summary="Indexing status of a document"
)
async def document_status(runtime: RuntimeDep, document_id: str = DocumentIdPath) -> DocumentStatus:
    doc = await run_in_threadpool(runtime.opened().get_document, document_id)
    indexed = doc.status == "indexed"
    return DocumentStatus(
        document_id=doc.id,
        status=doc.status,
        chunks_total=doc.chunks_total,
        chunks_processed=doc.chunks_total if indexed else 0,
        vectors_added=doc.chunks_total if indexed else 0,
        error_message=doc.error,
        created_at=doc.created_at,
        updated_at=doc.updated_at,
        filename=doc.filename,
        content_type=doc.content_type,
    )


@router.delete("/{document_id}", response_model=DeleteResponse, dependencies=write, summary="Delete a document")
async def delete_document(runtime: RuntimeDep, document_id: str = DocumentIdPath) -> DeleteResponse:
    library = runtime.serving()
    result = await run_in_threadpool(library.delete_document, document_id)
    log_event(
        log,
        "Document deleted",
        document_id=document_id,
        chunks_deleted=result.chunks_deleted,
        vectors_deleted=result.vectors_deleted,
    )
    return DeleteResponse(**result.to_dict())


@router.post(
    "/rebuild-from-db",
    response_model=RebuildResponse,
    dependencies=write,
    summary="Rebuild the vector index from the database (the sync engine, mode force)",
)
async def rebuild_from_db(runtime: RuntimeDep) -> RebuildResponse:
    """Concurrent calls share one rebuild; searches keep using the current index until the swap."""
    library = runtime.opened()
    log_event(log, "Rebuilding FAISS index from database (requested)")
    report = await run_in_threadpool(library.sync, "force")
    if report.status == "degraded":
        raise SyncFailed(f"rebuild failed: {report.reason}", report=report.to_dict())
    stats = await run_in_threadpool(library.stats)
    return RebuildResponse(
        status="success",
        vectors_loaded=report.index_count,
        documents_processed=stats.total_documents - stats.failed_documents,
        processing_time_ms=report.duration_ms,
        message=f"Index rebuilt from database: {report.index_count} vectors",
        sync=SyncReportOut(**report.to_dict()),
    )
