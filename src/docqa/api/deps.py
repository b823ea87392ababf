"""Request dependencies: the runtime, the metrics, and API-key auth."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from docqa.api.metrics import Metrics
from docqa.app import Runtime
from docqa.errors import Unauthorized

_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key for write and admin routes")
_bearer = HTTPBearer(auto_error=False, description="The same API key as a bearer token")


async def get_runtime(request: Request) -> Runtime:
    """Async on purpose: a sync dependency costs a thread-pool round trip per request."""
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]


async def require_api_key(
    request: Request,
    api_key: str | None = Depends(_api_key_header),
    bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
) -> None:
    """Write and admin routes: when `settings.api_key` is set, the same key must be presented."""
    expected = request.app.state.runtime.settings.api_key
    if not expected:
        return
    supplied = api_key or (bearer.credentials if bearer is not None else "")
    if not supplied:
        raise Unauthorized(
            "this route requires an API key: send it as 'X-API-Key: <key>' or 'Authorization: Bearer <key>'"
        )
    if not hmac.compare_digest(supplied.encode("utf-8", "replace"), expected.encode("utf-8")):
        raise Unauthorized("invalid API key")
