"""Search and stats routes."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool

from docqa.api.deps import ensure_applied, get_service, single_search_thread
from docqa.api.schemas import ERROR_RESPONSES, SyncReportOut, check_text
from docqa.api.schemas_search import (
    HybridSearchRequest,
    SearchRequest,
    SearchResponse,
    SearchResult,
    StatsResponse,
    SuggestResponse,
)
from docqa.api.service import Service
from docqa.errors import InvalidInput
from docqa.search.service import search_mode, suggest
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
        query=body.query,
        mode=body.mode,
        results=[_result(h) for h in hits],
        total_results=len(hits),
        execution_time_ms=round(elapsed * 1000, 3),
        filters_applied=body.filters.applied() if body.filters else {},
    )


def _search(service: Service, store: Store, body: SearchRequest) -> list[SearchHit]:
    """The blocking part (embedding, FAISS, SQL), run in the thread pool."""
    single_search_thread(service.settings.search_threads)
    ensure_applied(service, body.min_seq)
    filters = body.filters.to_filters() if body.filters else SearchFilters()
    if body.mode == "vector":
        return store.search(body.query, k=body.limit, filters=filters, min_score=body.threshold)
    return search_mode(store, body.query, mode=body.mode, k=body.limit, filters=filters, min_score=body.threshold)


@router.post(
    "/hybrid",
    response_model=SearchResponse,
    summary="Hybrid search: keyword and vector rankings fused by reciprocal rank fusion",
)
async def hybrid(body: HybridSearchRequest, service: Service = Depends(get_service)) -> SearchResponse:
    store = service.ready_store()
    start = time.perf_counter()
    hits = await run_in_threadpool(_hybrid, service, store, body)
    elapsed = time.perf_counter() - start
    service.metrics.observe_search("hybrid", elapsed)
    return SearchResponse(
        query=body.query,
        mode="hybrid",
        results=[_result(h) for h in hits],
        total_results=len(hits),
        execution_time_ms=round(elapsed * 1000, 3),
        filters_applied=body.filters.applied() if body.filters else {},
    )


def _hybrid(service: Service, store: Store, body: HybridSearchRequest) -> list[SearchHit]:
    single_search_thread(service.settings.search_threads)
    ensure_applied(service, body.min_seq)
    settings = service.settings
    weights = None
    if body.vector_weight is not None or body.keyword_weight is not None:
        weights = (
            settings.hybrid_vector_weight if body.vector_weight is None else body.vector_weight,
            settings.hybrid_keyword_weight if body.keyword_weight is None else body.keyword_weight,
        )
    filters = body.filters.to_filters() if body.filters else SearchFilters()
    return search_mode(
        store,
        body.query,
        mode="hybrid",
        k=body.limit,
        filters=filters,
        min_score=body.threshold,
        weights=weights,
        rrf_k=body.rrf_k,
    )


@router.get(
    "/suggest",
    response_model=SuggestResponse,
    summary="Completions of a partial query, taken from the corpus (headings and frequent phrases)",
)
async def suggest_route(
    q: str = Query(default="", max_length=200, description="What the user has typed so far"),
    limit: int = Query(default=10, ge=1, le=100),
    service: Service = Depends(get_service),
) -> SuggestResponse:
    try:
        check_text(q)
    except ValueError as exc:
        raise InvalidInput(f"q {exc}") from None
    store = service.open_store()  # the database is enough: suggestions do not need the vector index
    found = await run_in_threadpool(suggest, store, q, limit)
    return SuggestResponse(q=q, suggestions=found)


def _result(h: SearchHit) -> SearchResult:
    return SearchResult(
        chunk_id=h.chunk_id,
        document_id=h.document_id,
        score=h.score,
        content=h.content,
        filename=h.filename,
        file_type=h.content_type,
        chunk_index=h.chunk_index,
        metadata=h.metadata,
        page=h.page,
        char_start=h.char_start,
        char_end=h.char_end,
        heading=h.heading,
    )


@router.get("/stats", response_model=StatsResponse, summary="Index and database counts, sync state and lag")
async def stats(service: Service = Depends(get_service)) -> StatsResponse:
    store = service.open_store()
    data = await run_in_threadpool(store.stats)
    health = service.health()
    last = data.pop("last_sync", None)
    return StatsResponse(
        **data, status=health.status, reason=health.reason, last_sync=SyncReportOut(**last) if last else None
    )
