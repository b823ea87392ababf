"""The single-page web UI: static files shipped with the package (no build step, no CDN)."""

from __future__ import annotations

from importlib import resources

ASSETS = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}


def read_asset(name: str) -> bytes:
    return resources.files(__name__).joinpath(name).read_bytes()
