"""Search and stats routes."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool

from docqa.api.deps import ensure_applied, get_service, optional_feature, single_search_thread
from docqa.api.schemas import ERROR_RESPONSES, SyncReportOut
from docqa.api.schemas_search import SearchRequest, SearchResponse, SearchResult, StatsResponse
from docqa.api.service import Service
from docqa.types import SearchFilters, SearchHit

if TYPE_CHECKING:
    from docqa.app import Store

router = APIRouter(prefix="/api/v1/search", tags=["search"], responses=ERROR_RESPONSES)


@router.post("/", response_model=SearchResponse, summary="Semantic (vector), keyword or hybrid search")
async def search(body: SearchRequest, service: Service = Depends(get_service)) -> SearchResponse:
    store = service.ready_store()
    start = time.perf_counter()
    hits = await run_in_threadpool(_search, service, store, body)
    elapsed = time.perf_counter() - start
    service.metrics.observe_search(body.mode, elapsed)
    return SearchResponse(
        query=body.query, mode=body.mode, results=[_result(h) for h in hits], total_results=len(hits),
        execution_time_ms=round(elapsed * 1000, 3), filters_applied=body.filters.applied() if body.filters else {},
    )


def _search(service: Service, store: "Store", body: SearchRequest) -> list[SearchHit]:
    """The blocking part (embedding, FAISS, SQL), run in the thread pool."""
    single_search_thread(service.settings.search_threads)
    ensure_applied(service, body.min_seq)
    filters = body.filters.to_filters() if body.filters else SearchFilters()
    if body.mode == "vector":
        return store.search(body.query, k=body.limit, filters=filters, min_score=body.threshold)
    search_mode = optional_feature("docqa.search.service", "search_mode")
    return search_mode(store, body.query, mode=body.mode, k=body.limit, filters=filters, min_score=body.threshold)


def _result(h: SearchHit) -> SearchResult:
    return SearchResult(chunk_id=h.chunk_id, document_id=h.document_id, score=h.score, content=h.content,
                        filename=h.filename, file_type=h.content_type, chunk_index=h.chunk_index, metadata=h.metadata,
                        page=h.page, char_start=h.char_start, char_end=h.char_end, heading=h.heading)


@router.get("/stats", response_model=StatsResponse, summary="Index and database counts, sync state and lag")
async def stats(service: Service = Depends(get_service)) -> StatsResponse:
    store = service.open_store()
    data = await run_in_threadpool(store.stats)
    health = service.health()
    last = data.pop("last_sync", None)
    return StatsResponse(**data, status=health.status, reason=health.reason,
                         last_sync=SyncReportOut(**last) if last else None)
