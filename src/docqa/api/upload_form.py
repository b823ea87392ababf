"""The multipart form of an upload, shared by `POST /api/v1/index/upload` and `POST /api/v1/jobs`.

The body is parsed from a byte-counting stream, so an oversized upload is
refused with 413 as soon as it passes the limit (or at once from its
Content-Length) instead of being buffered first. The file part stays
spooled (in memory up to 1 MB, on disk beyond) and is stored with its job
piece by piece (storage/job_data.py): never read into one bytes object. The small text fields are
checked here (length, control characters, JSON metadata, document id).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import IO, Any

from fastapi import Request
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from docqa.api.schemas import DOCUMENT_ID_PATTERN, check_json, check_text
from docqa.errors import InvalidInput, PayloadTooLarge, UnsupportedType

FORM_OVERHEAD = 64 * 1024  # multipart boundaries and the small text fields
FORM_SCHEMA = {
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


def _spooled_file(form: FormData, limit: int) -> tuple[str, IO[bytes], str | None]:
    """The file part as the parser spooled it (in memory up to 1 MB, on disk beyond): never one bytes object."""
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise InvalidInput("a file is required in the 'file' field", field="file")
    size = upload.size if upload.size is not None else upload.file.seek(0, 2)
    if size > limit:
        raise PayloadTooLarge(f"file of {size} bytes exceeds the limit of {limit} bytes", limit=limit, size=size)
    upload.file.seek(0)
    filename = (upload.filename or "upload").replace("\x00", "")[:255] or "upload"
    try:
        check_text(filename)
    except ValueError:
        filename = "upload"
    return filename, upload.file, upload.content_type


@dataclass
class UploadForm:
    filename: str
    file: IO[bytes]  # the spooled file part, open until `close()`
    content_type: str | None
    metadata: dict[str, Any]
    document_id: str | None
    source: str
    form: FormData

    async def close(self) -> None:
        await self.form.close()  # removes the spooled file


async def read_upload(request: Request, limit: int) -> UploadForm:
    """The upload's file and fields, checked; a clear 4xx naming the field otherwise. Close it when done."""
    form = await _read_form(request, limit)
    try:
        filename, file, hint = _spooled_file(form, limit)
        metadata = _metadata(_text_field(form, "metadata", 32_768))
        document_id = _text_field(form, "document_id", 128) or None
        source = _text_field(form, "source", 2048)
        if document_id is not None and re.fullmatch(DOCUMENT_ID_PATTERN, document_id) is None:
            raise InvalidInput("document_id must be letters, digits and . _ : - (max 128)", field="document_id")
    except BaseException:
        await form.close()
        raise
    return UploadForm(filename, file, hint, metadata, document_id, source, form)
