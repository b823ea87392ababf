"""Operations: `/health` (liveness + sync state), `/health/ready`, `/metrics`."""

from __future__ import annotations

import time
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from docqa.api.deps import get_service
from docqa.api.schemas import SyncReportOut
from docqa.api.schemas_search import EmbedderHealth, HealthResponse, IndexHealth
from docqa.api.service import Service

router = APIRouter(tags=["operations"])


@lru_cache(maxsize=1)
def _version() -> str:
    try:
        return version("docqa")
    except PackageNotFoundError:
        return "0+unknown"


def health_body(service: Service) -> HealthResponse:
    health = service.health()
    store = service.store
    index = None
    last = None
    database = ""
    embedder = None
    if store is not None:
        embedder = EmbedderHealth(model=store.model, ready=service.embedder_ready, error=service.embedder_error)
        engine = store.engine
        index = IndexHealth(
            ready=engine.ready, vectors=len(engine), applied_seq=engine.applied_seq, index_type=engine.index_type
        )
        last = SyncReportOut(**engine.last_report.to_dict()) if engine.last_report else None
        database = store.db.describe()
    return HealthResponse(
        status="healthy" if health.healthy else "degraded",
        reason=health.reason,
        ready=health.healthy and service.embedder_ready,
        service="docqa",
        version=_version(),
        uptime_s=round(time.time() - service.started_at, 3),
        database=database,
        collection=service.settings.collection,
        index=index,
        embedder=embedder,
        last_sync=last,
        worker=service.worker.state(),
    )


@router.get(
    "/health",
    response_model=HealthResponse,
    summary="Liveness and sync state: always 200; `status` says healthy or degraded, `reason` why",
)
async def health(service: Service = Depends(get_service)) -> HealthResponse:
    return health_body(service)


@router.get(
    "/health/ready",
    response_model=HealthResponse,
    responses={503: {"model": HealthResponse}},
    summary="Readiness: 200 when healthy and the embedder is loaded, else 503 (same body)",
)
async def ready(service: Service = Depends(get_service)) -> Response:
    body = health_body(service)
    return JSONResponse(body.model_dump(), status_code=200 if body.ready else 503)


@router.get(
    "/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}}, summary="Prometheus metrics"
)
async def metrics(service: Service = Depends(get_service)) -> Response:
    payload, content_type = await run_in_threadpool(service.metrics.render)  # reads counts from the database
    return Response(payload, media_type=content_type)
