"""Operations: `/health` (liveness + the health state), `/health/ready`, `/metrics`."""

from __future__ import annotations

import time
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from docqa.api.deps import MetricsDep, RuntimeDep
from docqa.api.schemas import SyncReportOut
from docqa.api.schemas_ops import EmbedderHealth, HealthResponse, IndexHealth, SyncHistoryOut
from docqa.app import Runtime

router = APIRouter(tags=["operations"])


@lru_cache(maxsize=1)
def app_version() -> str:
    try:
        return version("docqa")
    except PackageNotFoundError:
        return "0+unknown"


def health_body(runtime: Runtime) -> HealthResponse:
    health = runtime.health()
    library = runtime.library
    index = last = embedder = None
    database = ""
    if library is not None:
        embedder = EmbedderHealth(model=library.model, ready=runtime.embedder_ready, error=runtime.embedder_error)
        state = library.index_state()
        index = IndexHealth(
            ready=state.ready,
            vectors=state.vectors,
            applied_seq=state.applied_seq,
            index_type=state.index_type,
            snapshot_save_error=state.snapshot_save_error,
        )
        last = SyncReportOut(**state.last_sync.to_dict()) if state.last_sync else None
        database = library.describe_database()
    return HealthResponse(
        status=health.state,
        reason=health.reason,
        ready=health.ready,
        service="docqa",
        version=app_version(),
        uptime_s=round(time.time() - runtime.started_at, 3),
        database=database,
        collection=runtime.settings.collection,
        index=index,
        embedder=embedder,
        last_sync=last,
        worker=runtime.worker_state(),
        sync_history=SyncHistoryOut(**runtime.sync_history.snapshot().to_dict()),
        jobs=runtime.jobs_state(),
    )


@router.get(
    "/health",
    response_model=HealthResponse,
    summary="Liveness and the health state: always 200; `status` says which state, `reason` why",
)
async def health(runtime: RuntimeDep) -> HealthResponse:
    return await run_in_threadpool(health_body, runtime)  # the job queue's counts are read from the database


@router.get(
    "/health/ready",
    response_model=HealthResponse,
    responses={503: {"model": HealthResponse}},
    summary="Readiness for a load balancer: 200 when healthy, repairing or writes_failing, else 503 (same body)",
)
async def ready(runtime: RuntimeDep) -> Response:
    body = await run_in_threadpool(health_body, runtime)
    return JSONResponse(body.model_dump(), status_code=200 if body.ready else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
    summary="Prometheus metrics",
)
async def metrics(metrics: MetricsDep) -> Response:
    payload, content_type = await run_in_threadpool(metrics.render)  # reads counts from the database
    return Response(payload, media_type=content_type)
