"""Who may call what: API keys by role, and Host / Origin checks against DNS rebinding and cross-site posts.

Keys: `api_key` is the admin key (writes, deletes, rebuilds, and reads);
`read_api_key` allows reads only. With no key set the API is open (a loud
warning at startup when bound beyond loopback); with any key set every
`/api` route needs one, sent as `X-API-Key: <key>` or `Authorization: Bearer
<key>`. `/health`, `/health/ready`, `/metrics` and the page's static files
stay open.

Host: a browser tricked by DNS rebinding sends the attacker's name as Host,
so only the names in `allowed_hosts` are served (default: the bind address
and the localhost names; any name when bound beyond loopback, where the
operator chooses names). Origin: a browser posting cross-site sends it, so a
write whose Origin is neither an allowed host nor a CORS origin is refused.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Receive, Scope, Send

from docqa.api.errors import error_response
from docqa.config import Settings
from docqa.errors import Forbidden, Unauthorized

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key (read key or admin key)")
bearer = HTTPBearer(auto_error=False, description="The same API key as a bearer token")


def keys_enabled(settings: Settings) -> bool:
    return bool(settings.api_key or settings.read_api_key)


def _supplied(api_key: str | None, credentials: HTTPAuthorizationCredentials | None) -> str:
    return api_key or (credentials.credentials if credentials is not None else "")


def _matches(supplied: str, expected: str) -> bool:
    return bool(expected) and hmac.compare_digest(supplied.encode("utf-8", "replace"), expected.encode("utf-8"))


def _check(request: Request, supplied: str, admin: bool) -> None:
    settings: Settings = request.app.state.runtime.settings
    if not keys_enabled(settings):
        return
    if not supplied:
        raise Unauthorized(
            "this route requires an API key: send it as 'X-API-Key: <key>' or 'Authorization: Bearer <key>'"
        )
    if _matches(supplied, settings.api_key):
        return
    if _matches(supplied, settings.read_api_key):
        if admin:
            raise Forbidden("the read key cannot change the index: this route needs the admin key (DOCQA_API_KEY)")
        return
    raise Unauthorized("invalid API key")


async def require_read_key(
    request: Request,
    api_key: str | None = Depends(api_key_header),
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
) -> None:
    """Read routes: with keys set, the read key or the admin key."""
    _check(request, _supplied(api_key, credentials), admin=False)


async def require_admin_key(
    request: Request,
    api_key: str | None = Depends(api_key_header),
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
) -> None:
    """Write and admin routes: with keys set, the admin key; and never a cross-site browser post."""
    check_origin(request)
    _check(request, _supplied(api_key, credentials), admin=True)


def allowed_host_names(settings: Settings) -> frozenset[str] | None:
    """The Host names served; None means any (bound beyond loopback with no names configured)."""
    if "*" in settings.allowed_hosts:
        return None
    if settings.allowed_hosts:
        return frozenset(h.lower() for h in settings.allowed_hosts)
    if settings.host not in LOOPBACK_HOSTS and not settings.host.startswith("127."):
        return None
    return frozenset({settings.host.lower(), *LOOPBACK_HOSTS})


def host_of(value: str) -> str:
    """`example.org:8003` -> `example.org`; `[::1]:8003` -> `::1`."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def check_origin(request: Request) -> None:
    """A write from a browser page of another origin (it sends Origin) is refused; clients without Origin pass.

    Allowed: a CORS origin, or the request's own origin (the page posting to the service that served
    it: the same host *and port* as the Host header; a page on another local port is another site)."""
    origin = request.headers.get("origin")
    if not origin:
        return
    settings: Settings = request.app.state.runtime.settings
    if origin.rstrip("/").lower() in {o.rstrip("/").lower() for o in settings.cors_origins}:
        return
    if _same_site(origin, request.headers.get("host", "")):
        return
    raise Forbidden(f"cross-site write from origin {origin!r} refused; add it to DOCQA_CORS_ORIGINS", origin=origin)


def _same_site(origin: str, host_header: str) -> bool:
    """The Origin names the host the request was sent to, and its port when the Host header has one.

    Behind a TLS-terminating proxy the service sees `Host: docs.example.org` for `Origin: https://docs.example.org`,
    so a Host without a port compares names only; `Host: localhost:8003` refuses `Origin: http://localhost:3000`."""
    try:
        sent, seen = urlsplit(origin), urlsplit("//" + host_header)
        sent_port, seen_port = sent.port, seen.port
    except ValueError:
        return False
    if not seen.hostname or (sent.hostname or "").lower() != seen.hostname.lower():
        return False
    if seen_port is None:
        return True
    return (sent_port or {"http": 80, "https": 443}.get(sent.scheme)) == seen_port


class HostOriginGuard:
    """Pure ASGI middleware: refuse a Host header not served, with a JSON 403."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.hosts = allowed_host_names(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.hosts is None:
            await self.app(scope, receive, send)
            return
        raw = next((v for k, v in scope.get("headers", ()) if k == b"host"), b"")
        host = host_of(raw.decode("latin-1"))
        if host not in self.hosts:
            message = f"host {host!r} is not served here; add it to DOCQA_ALLOWED_HOSTS"
            await error_response(403, Forbidden.code, message, {"host": host})(scope, receive, send)
            return
        await self.app(scope, receive, send)
