"""The app factory. Nothing connects at import or construction: the lifespan does.

    app = create_app(Settings.from_env())          # uvicorn docqa.api:create_app --factory

Lifespan: the runtime opens the library and syncs the index *before* accepting requests
(bounded by `startup_sync_timeout_s`); a down database or a degraded sync
starts the service degraded, and the background worker retries until
healthy. Shutdown stops the worker and closes the library (saving the index
snapshot).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from docqa.api import (
    errors,
    routes_documents,
    routes_index,
    routes_jobs,
    routes_ops,
    routes_qa,
    routes_search,
    routes_upload,
    routes_web,
)
from docqa.api.metrics import HttpMetricsMiddleware, Metrics
from docqa.api.routes_ops import app_version
from docqa.api.security import LOOPBACK_HOSTS, HostOriginGuard, keys_enabled
from docqa.api.warmup import http_warmer
from docqa.app import Docqa, Runtime
from docqa.config import Settings
from docqa.logging import get_logger, log_event

log = get_logger("docqa.api")


class BodyLimit:
    """Refuse request bodies over the limit with a JSON 413: at once from a declared
    Content-Length, else as soon as the streamed bytes pass it (nothing buffers more)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                response = errors.error_response(
                    413,
                    "payload_too_large",
                    f"request body of {int(value)} bytes exceeds the limit of {self.limit}",
                    {"limit": self.limit},
                )
                await response(scope, receive, send)
                return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise StarletteHTTPException(413, f"request body exceeds the limit of {self.limit} bytes")
            return message

        await self.app(scope, counting_receive, send)


def _without_security(app: FastAPI) -> dict[str, Any]:
    """The schema says what is enforced: with no key set, no route asks for one."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                operation.pop("security", None)
        schema.get("components", {}).pop("securitySchemes", None)
        app.openapi_schema = schema
    return app.openapi_schema


def warn_if_open(settings: Settings) -> None:
    """Loudly, when the service is reachable beyond this machine and needs no key (or can take no write)."""
    if settings.read_api_key and not settings.api_key:
        log_event(
            log,
            "DOCQA_READ_API_KEY is set without DOCQA_API_KEY: every write (upload, index, delete, rebuild) is refused",
            logging.WARNING,
        )
    if keys_enabled(settings) or settings.host in LOOPBACK_HOSTS or settings.host.startswith("127."):
        return
    log_event(
        log,
        f"Serving on {settings.host} without an API key: anyone who can reach this port can read, change and "
        "delete every document. Set DOCQA_API_KEY (admin) and DOCQA_READ_API_KEY (reads).",
        logging.WARNING,
        host=settings.host,
    )


def create_app(settings: Settings | None = None, library: Docqa | None = None) -> FastAPI:
    """Build the app. `library`: an already-open Docqa (tests, embedding hosts); otherwise the lifespan opens one."""
    settings = settings or Settings.from_env()
    runtime = Runtime(settings, library)
    metrics = Metrics(runtime)

    loops: list[asyncio.AbstractEventLoop] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loops.append(asyncio.get_running_loop())  # the warm-up request runs on it
        await anyio.to_thread.run_sync(runtime.start)
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(runtime.stop)

    body_limit = settings.max_upload_bytes + routes_upload.FORM_OVERHEAD
    app = FastAPI(
        title="docqa",
        version=app_version(),
        lifespan=lifespan,
        description="Semantic index for document question answering whose FAISS index never silently drifts "
        'from its SQL database. Errors are `{"error": {"code", "message", "details"}}`.',
    )
    app.state.runtime = runtime
    app.state.metrics = metrics
    errors.install(app)
    app.add_middleware(BodyLimit, limit=body_limit)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["*"],
        )
    app.add_middleware(HostOriginGuard, settings=settings)
    app.add_middleware(HttpMetricsMiddleware, metrics=metrics)
    for module in (
        routes_index,
        routes_upload,
        routes_jobs,
        routes_documents,
        routes_search,
        routes_qa,
        routes_ops,
        routes_web,
    ):
        app.include_router(module.router)
    runtime.add_warmer(http_warmer(app, settings, loops))
    if not keys_enabled(settings):
        app.openapi = lambda: _without_security(app)  # type: ignore[method-assign]
    warn_if_open(settings)
    return app
