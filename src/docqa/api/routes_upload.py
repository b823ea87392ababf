"""`POST /api/v1/index/upload`: a file in, through the ingestion pipeline.

The multipart body is parsed here, from a byte-counting stream, so an
oversized upload is refused with 413 as soon as it passes the limit (or at
once from its Content-Length) instead of being buffered first. The file part
is spooled to a temporary file (in memory up to 1 MB, on disk beyond), never
read into one bytes object: the library ingests it from there in bounded
memory (app/file_ingest.py), and at most `max_concurrent_ingests` uploads are
parsed and embedded at once (the others wait their turn). The file's
real type is sniffed from its bytes: unsupported content is a 415. A file
that is supported but unreadable (a broken PDF) is recorded as `failed` with
its reason and answered 422.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncGenerator
from typing import Any, BinaryIO

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from docqa.api.deps import RuntimeDep
from docqa.api.schemas import DOCUMENT_ID_PATTERN, ERROR_RESPONSES, UploadResponse, check_json, check_text
from docqa.api.security import require_admin_key
from docqa.errors import InvalidInput, ParseError, PayloadTooLarge, UnsupportedType
from docqa.logging import get_logger, log_event

log = get_logger("docqa.api.upload")

router = APIRouter(prefix="/api/v1/index", tags=["index"], responses=ERROR_RESPONSES)

FORM_OVERHEAD = 64 * 1024  # multipart boundaries and the small text fields
_FORM_SCHEMA = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {"type": "string", "format": "binary", "description": "txt, md, html, pdf or docx"},
                    "metadata": {"type": "string", "description": "Document metadata as a JSON object"},
                    "document_id": {"type": "string", "pattern": DOCUMENT_ID_PATTERN},
                    "source": {"type": "string", "description": "Where the file comes from (path or URI)"},
                },
            }
        }
    },
}


async def _limited(request: Request, limit: int) -> AsyncGenerator[bytes, None]:
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit + FORM_OVERHEAD:
            raise PayloadTooLarge(f"upload exceeds the limit of {limit} bytes", limit=limit)
        yield chunk


async def _read_form(request: Request, limit: int) -> FormData:
    media = request.headers.get("content-type", "")
    if not media.lower().startswith("multipart/form-data"):
        raise UnsupportedType(
            f"expected a multipart/form-data body with a 'file' field, got {media or 'no content type'!r}",
            content_type=media,
        )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + FORM_OVERHEAD:
        raise PayloadTooLarge(f"upload of {declared} bytes exceeds the limit of {limit} bytes", limit=limit)
    parser = MultiPartParser(
        request.headers, _limited(request, limit), max_files=1, max_fields=10, max_part_size=FORM_OVERHEAD
    )
    try:
        return await parser.parse()
    except MultiPartException as exc:
        raise InvalidInput(f"malformed multipart body: {exc.message}", field="file") from None


def _text_field(form: FormData, name: str, max_len: int) -> str:
    value = form.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a text field, not a file", field=name)
    if len(value) > max_len:
        raise InvalidInput(f"{name} is longer than {max_len} characters", field=name)
    try:
        return check_text(value)
    except ValueError as exc:
        raise InvalidInput(f"{name} {exc}", field=name) from None


def _metadata(raw: str) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
        if not isinstance(value, dict):
            raise ValueError("must be a JSON object")
        return check_json(value)
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(f"metadata is not a valid JSON object: {exc}", field="metadata") from None


def _spooled_file(form: FormData, limit: int) -> tuple[str, BinaryIO, str | None]:
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise InvalidInput("a file is required in the 'file' field", field="file")
    size = upload.size if upload.size is not None else upload.file.seek(0, 2)
    if size > limit:
        raise PayloadTooLarge(
            f"file of {size} bytes exceeds the limit of {limit} bytes (DOCQA_MAX_UPLOAD_BYTES)", limit=limit, size=size
        )
    filename = (upload.filename or "upload").replace("\x00", "")[:255] or "upload"
    try:
        check_text(filename)
    except ValueError:
        filename = "upload"
    return filename, upload.file, upload.content_type


@router.post(
    "/upload",
    response_model=UploadResponse,
    dependencies=[Depends(require_admin_key)],
    openapi_extra={"requestBody": _FORM_SCHEMA},
    summary="Upload a file and index it",
)
async def upload(request: Request, runtime: RuntimeDep) -> UploadResponse:
    library = runtime.serving()
    limit = runtime.settings.max_upload_bytes
    start = time.perf_counter()
    form = await _read_form(request, limit)
    try:
        filename, file, hint = _spooled_file(form, limit)
        metadata = _metadata(_text_field(form, "metadata", 32_768))
        document_id = _text_field(form, "document_id", 128) or None
        source = _text_field(form, "source", 2048)
        if document_id is not None and not _valid_id(document_id):
            raise InvalidInput("document_id must be letters, digits and . _ : - (max 128)", field="document_id")
        outcome = await run_in_threadpool(
            lambda: library.ingest_file(
                file,
                filename,
                source=source,
                document_id=document_id,
                content_type_hint=hint,
                metadata=metadata,
                refuse_unsupported=True,
            )
        )
    finally:
        await form.close()  # removes the spooled file
    ms = round((time.perf_counter() - start) * 1000, 2)
    if outcome.status == "failed":
        log_event(log, "Upload failed", file=filename, document_id=outcome.document_id, error=outcome.error)
        refused = PayloadTooLarge if outcome.error_code == PayloadTooLarge.code else ParseError  # a limit: 413
        raise refused(
            f"{filename}: {outcome.error}" if filename not in (outcome.error or "") else str(outcome.error),
            document_id=outcome.document_id,
            filename=filename,
            status="failed",
        )
    log_event(
        log,
        "Upload indexed",
        file=filename,
        document_id=outcome.document_id,
        status=outcome.status,
        chunks=outcome.chunks,
        processing_time_ms=ms,
    )
    return UploadResponse(
        document_id=outcome.document_id,
        filename=outcome.filename or filename,
        status=outcome.status,
        chunks=outcome.chunks,
        embedded=outcome.embedded,
        seq=outcome.seq or 0,
        processing_time_ms=ms,
    )


def _valid_id(value: str) -> bool:
    import re

    return re.fullmatch(DOCUMENT_ID_PATTERN, value) is not None
