"""The web page: `/` and its static files under `/ui/` (kept out of the OpenAPI schema).

Served with a strict Content-Security-Policy: scripts, styles and requests from this origin only, no inline
script or style, no framing. The page is built for it (ES modules, a stylesheet, `fetch` to the API)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from docqa.errors import NotFound
from docqa.web import ASSETS, read_asset

router = APIRouter(include_in_schema=False)

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}


@router.get("/")
async def index() -> HTMLResponse:
    return HTMLResponse(read_asset("index.html"), headers=HEADERS)


@router.get("/ui/{name}")
async def asset(name: str) -> Response:
    if name not in ASSETS:
        raise NotFound(f"no UI asset {name!r}")
    return Response(read_asset(name), media_type=ASSETS[name], headers=HEADERS)
