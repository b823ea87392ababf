"""The web UI: `/` and its two static files under `/ui/` (kept out of the OpenAPI schema)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from docqa.errors import NotFound
from docqa.web import ASSETS, read_asset

router = APIRouter(include_in_schema=False)


@router.get("/")
async def index() -> HTMLResponse:
    return HTMLResponse(read_asset("index.html"))


@router.get("/ui/{name}")
async def asset(name: str) -> Response:
    if name not in ASSETS:
        raise NotFound(f"no UI asset {name!r}")
    return Response(read_asset(name), media_type=ASSETS[name], headers={"Cache-Control": "no-cache"})
