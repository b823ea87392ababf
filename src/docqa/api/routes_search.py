"""Search and stats routes."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool

from docqa.api.deps import MetricsDep, RuntimeDep
from docqa.api.metrics import Metrics
from docqa.api.schemas import ERROR_RESPONSES, SyncReportOut, check_text
from docqa.api.schemas_ops import StatsResponse
from docqa.api.schemas_search import (
    HybridSearchRequest,
    SearchRequest,
    SearchResponse,
    SearchResult,
    SuggestResponse,
    _SearchBody,
)
from docqa.api.security import require_read_key
from docqa.app import Runtime
from docqa.errors import InvalidInput
from docqa.limits import MAX_SUGGEST
from docqa.types import SearchFilters, SearchHit

router = APIRouter(
    prefix="/api/v1/search", tags=["search"], responses=ERROR_RESPONSES, dependencies=[Depends(require_read_key)]
)


@router.post("/", response_model=SearchResponse, summary="Semantic (vector), keyword or hybrid search")
async def search(body: SearchRequest, runtime: RuntimeDep, metrics: MetricsDep) -> SearchResponse:
    return await _run(runtime, metrics, body, body.mode)


@router.post(
    "/hybrid",
    response_model=SearchResponse,
    summary="Hybrid search: keyword and vector rankings fused by reciprocal rank fusion",
)
async def hybrid(body: HybridSearchRequest, runtime: RuntimeDep, metrics: MetricsDep) -> SearchResponse:
    return await _run(
        runtime,
        metrics,
        body,
        "hybrid",
        vector_weight=body.vector_weight,
        keyword_weight=body.keyword_weight,
        rrf_k=body.rrf_k,
    )


async def _run(
    runtime: Runtime,
    metrics: Metrics,
    body: _SearchBody,
    mode: str,
    vector_weight: float | None = None,
    keyword_weight: float | None = None,
    rrf_k: int | None = None,
) -> SearchResponse:
    """The blocking part (embedding, FAISS, SQL) runs in the thread pool."""
    library = runtime.serving()
    filters = body.filters.to_filters() if body.filters else SearchFilters()
    start = time.perf_counter()
    hits = await run_in_threadpool(
        lambda: library.search(
            body.query,
            mode=mode,
            k=body.limit,
            filters=filters,
            min_score=body.threshold,
            min_seq=body.min_seq,
            vector_weight=vector_weight,
            keyword_weight=keyword_weight,
            rrf_k=rrf_k,
        )
    )
    elapsed = time.perf_counter() - start
    metrics.observe_search(mode, elapsed)
    return SearchResponse(
        query=body.query,
        mode=mode,
        results=[_result(h) for h in hits],
        total_results=len(hits),
        execution_time_ms=round(elapsed * 1000, 3),
        filters_applied=body.filters.applied() if body.filters else {},
    )


@router.get(
    "/suggest",
    response_model=SuggestResponse,
    summary="Completions of a partial query, taken from the corpus (headings and frequent phrases)",
)
async def suggest_route(
    runtime: RuntimeDep,
    q: str = Query(default="", max_length=200, description="What the user has typed so far"),
    limit: int = Query(default=10, ge=1, le=MAX_SUGGEST),
) -> SuggestResponse:
    try:
        check_text(q)
    except ValueError as exc:
        raise InvalidInput(f"q {exc}", field="q") from None
    library = runtime.opened()  # the database is enough: suggestions do not need the vector index
    found = await run_in_threadpool(library.suggest, q, limit)
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
async def stats(runtime: RuntimeDep) -> StatsResponse:
    library = runtime.opened()
    data = (await run_in_threadpool(library.stats)).to_dict()
    health = runtime.health()
    last = data.pop("last_sync", None)
    return StatsResponse(
        **data, status=health.state, reason=health.reason, last_sync=SyncReportOut(**last) if last else None
    )
