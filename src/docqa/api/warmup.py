"""The HTTP app's warm-up: one search through the real route before the service says it is ready.

The runtime's own warm-up (one library search) leaves the HTTP stack's first-use costs to the first user:
the route's first dependency resolution, request validation and response serialization, measured at
1.7-1.8 ms on a 1-3 ms query (bench/bench_cold_start.py). This sends one search through the whole app in
process (no socket, no uvicorn access log) and keeps it out of /metrics: the request carries a token made
at start-up, and the metrics middleware neither counts nor times a request that carries it.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from contextvars import ContextVar

import httpx
from starlette.types import ASGIApp

from docqa.api.security import allowed_host_names
from docqa.config import Settings

HEADER = "x-docqa-warmup"
TOKEN = secrets.token_hex(16)
WARM_QUERY = "how do I configure the service to start"
# set while the warm-up request runs (the thread pool copies it), so no figure counts it
in_warmup: ContextVar[bool] = ContextVar("docqa_in_warmup", default=False)


def is_warmup(headers: list[tuple[bytes, bytes]] | tuple[tuple[bytes, bytes], ...]) -> bool:
    """Whether an ASGI request carries this process's warm-up token (a guessed header counts as a request)."""
    value = next((v for k, v in headers if k == HEADER.encode()), b"")
    return secrets.compare_digest(value, TOKEN.encode())


def request_headers(settings: Settings) -> dict[str, str]:
    """A Host the guard serves, the read key when keys are set, and the token."""
    hosts = allowed_host_names(settings)
    headers = {HEADER: TOKEN, "host": sorted(hosts)[0] if hosts else "localhost"}
    key = settings.read_api_key or settings.api_key
    if key:
        headers["x-api-key"] = key
    return headers


def http_warmer(app: ASGIApp, settings: Settings, loops: list[asyncio.AbstractEventLoop]) -> Callable[[], None]:
    """The warmer the runtime calls from its warm-up thread: on the server's own event loop (`loops`, filled
    by the lifespan), so the request also warms that loop's worker threads, which serve the first user."""

    def warm_http_search() -> None:
        search = _search(app, request_headers(settings))
        if loops and loops[-1].is_running():
            asyncio.run_coroutine_threadsafe(search, loops[-1]).result(timeout=60)
        else:  # no server loop (the app driven some other way): a loop of its own
            asyncio.run(search)

    return warm_http_search


async def _search(app: ASGIApp, headers: dict[str, str]) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://docqa-warmup", timeout=30.0) as client:
        response = await client.post(
            "/api/v1/search/", json={"query": WARM_QUERY, "mode": "hybrid", "limit": 1}, headers=headers
        )
        response.raise_for_status()
