"""The single-page web UI: static files shipped with the package (no build step, no CDN).

`index.html` loads `app.js`, an ES module that imports the others; every asset is listed here, so nothing
else in this package can be fetched through `/ui/{name}`."""

from __future__ import annotations

from importlib import resources

_JS = "text/javascript; charset=utf-8"
MODULES = ("app.js", "api.js", "ask.js", "documents.js", "dom.js", "passage.js", "search.js", "state.js", "upload.js")
ASSETS = {**dict.fromkeys(MODULES, _JS), "style.css": "text/css; charset=utf-8"}


def read_asset(name: str) -> bytes:
    return resources.files(__name__).joinpath(name).read_bytes()
