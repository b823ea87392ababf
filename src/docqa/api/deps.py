"""Request dependencies: the runtime and the metrics (keys: api/security.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from docqa.api.metrics import Metrics
from docqa.app import Runtime


async def get_runtime(request: Request) -> Runtime:
    """Async on purpose: a sync dependency costs a thread-pool round trip per request."""
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
