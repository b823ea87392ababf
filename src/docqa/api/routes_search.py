"""Search and stats routes."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends

from docqa.api.deps import ensure_applied, get_service, optional_feature, single_search_thread
from docqa.api.schemas import ERROR_RESPONSES, SyncReportOut
from docqa.api.schemas_search import SearchRequest, SearchResponse, SearchResult, StatsResponse
from docqa.api.service import Service
from docqa.types import SearchFilters

router = APIRouter(prefix="/api/v1/search", tags=["search"], responses=ERROR_RESPONSES)


@router.post("/", response_model=SearchResponse, summary="Semantic (vector), keyword or hybrid search")
def search(body: SearchRequest, service: Service = Depends(get_service)) -> SearchResponse:
    store = service.ready_store()
    single_search_thread(service.settings.search_threads)
    start = time.perf_counter()
    ensure_applied(service, body.min_seq)
    filters = body.filters.to_filters() if body.filters else SearchFilters()
    if body.mode == "vector":
        hits = store.search(body.query, k=body.limit, filters=filters, min_score=body.threshold)
    else:
        search_mode = optional_feature("docqa.search.service", "search_mode")
        hits = search_mode(store, body.query, mode=body.mode, k=body.limit, filters=filters,
                           min_score=body.threshold)
    elapsed = time.perf_counter() - start
    service.metrics.observe_search(body.mode, elapsed)
    return SearchResponse(
        query=body.query, mode=body.mode, results=[SearchResult(**_result(h.to_dict())) for h in hits],
        total_results=len(hits), execution_time_ms=round(elapsed * 1000, 3),
        filters_applied=body.filters.applied() if body.filters else {},
    )


def _result(hit: dict) -> dict:
    return {k: hit[k] for k in SearchResult.model_fields if k in hit}


@router.get("/stats", response_model=StatsResponse, summary="Index and database counts, sync state and lag")
def stats(service: Service = Depends(get_service)) -> StatsResponse:
    store = service.open_store()
    data = store.stats()
    health = service.health()
    last = data.pop("last_sync", None)
    return StatsResponse(**data, status=health.status, reason=health.reason,
                         last_sync=SyncReportOut(**last) if last else None)
