"""Every error response, in one place: `{"error": {"code", "message", "details"}}`.

DocqaError carries its own code and HTTP status; framework errors (unknown
route, wrong method, validation) are given stable codes here; anything else
is a bug, logged with its traceback and answered with a JSON 500.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from docqa.errors import DocqaError
from docqa.logging import get_logger, log_event

log = get_logger("docqa.api")

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    503: "service_unavailable",
}


def error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": _jsonable(details or {})}}
    return JSONResponse(body, status_code=status, headers=headers)


def _jsonable(value: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(value, default=str))


def field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        location = loc[0] if loc and loc[0] in ("body", "query", "path", "header", "cookie") else "body"
        field = ".".join(loc[1:] if loc and loc[0] == location else loc) or location
        out.append(
            {
                "field": field,
                "location": location,
                "message": err.get("msg", "invalid"),
                "type": err.get("type", "invalid"),
            }
        )
    return out


async def docqa_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DocqaError)
    if exc.http_status >= 500:
        log_event(log, "Request failed", logging.WARNING, path=request.url.path, code=exc.code, reason=exc.message)
    return error_response(exc.http_status, exc.code, exc.message, dict(exc.details))


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    raw = exc.errors()
    if any(e.get("type") == "json_invalid" for e in raw):
        where = next((e.get("ctx", {}).get("error", "") for e in raw if e.get("type") == "json_invalid"), "")
        return error_response(  # 422 as FastAPI (and so the original service) answers it, saying what is wrong
            422,
            "invalid_json",
            f"the request body is not valid JSON{': ' + str(where) if where else ''}",
            {"field": "body"},
        )
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body_expected = any(tuple(e.get("loc", ()))[:1] == ("body",) for e in raw)
    if body_expected and request.method in ("POST", "PUT", "PATCH") and media != "application/json":
        return error_response(
            415,
            "unsupported_media_type",
            f"this route takes a JSON body: send Content-Type: application/json (got {media or 'none'})",
            {"content_type": media},
        )
    errors = field_errors(exc)
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return error_response(422, "validation_error", f"invalid request: {summary}", {"errors": errors})


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    code = HTTP_CODES.get(status, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if status == 404 and message == "Not Found":
        message = f"no route for {request.method} {request.url.path}"
    elif status == 405:
        message = f"method {request.method} is not allowed on {request.url.path}"
    return error_response(status, code, message, headers=getattr(exc, "headers", None))


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("Unhandled error", extra={"path": request.url.path, "method": request.method}, exc_info=exc)
    return error_response(500, "internal_error", "internal server error (logged); please report it")


def install(app: FastAPI) -> None:
    app.add_exception_handler(DocqaError, docqa_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)
