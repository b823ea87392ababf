"""Request and response models shared by the routers, and the index routes' shapes.

Wire shapes follow the original `indexer-semantique` service. Every text a
client sends is checked for what the databases cannot store (NUL characters,
lone surrogates, non-finite numbers) so it is a 422, never a 500.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

DOCUMENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
MAX_METADATA_DEPTH = 8


def check_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (no lone surrogates)") from None
    return value


def check_json(value: Any, depth: int = 0) -> Any:
    if depth > MAX_METADATA_DEPTH:
        raise ValueError(f"nested deeper than {MAX_METADATA_DEPTH} levels")
    if isinstance(value, str):
        return check_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("numbers must be finite")
    if isinstance(value, dict):
        for key, item in value.items():
            check_text(str(key))
            check_json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_json(item, depth + 1)
    return value


CleanStr = Annotated[str, AfterValidator(check_text)]


def json_number(value: Any) -> Any:
    """Numbers must be JSON numbers. pydantic's lax mode would read `true` as 1 and `"10"` as 10;
    an integral float such as 10.0 stays accepted for an integer field (JSON Schema counts it as one,
    and clients of the original service send it)."""
    if isinstance(value, (bool, str, bytes)):
        raise ValueError("must be a JSON number")
    return value


JsonInt = Annotated[int, BeforeValidator(json_number)]
JsonFloat = Annotated[float, BeforeValidator(json_number)]
JsonObject = Annotated[dict[str, Any], AfterValidator(check_json)]
DocumentId = Annotated[str, Field(pattern=DOCUMENT_ID_PATTERN, description="Letters, digits and . _ : - (max 128)")]


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable error code")
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorResponse(BaseModel):
    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in {
        400: "Malformed request",
        401: "Missing or wrong API key",
        403: "A read key on a write route, or a Host / Origin not served",
        404: "Not found",
        405: "Method not allowed",
        413: "Payload too large",
        415: "Unsupported media type",
        422: "Invalid input (field names in details)",
        500: "Internal error",
        502: "Embedding backend failed",
        503: "Service degraded or database unavailable",
    }.items()
}


# --- index -------------------------------------------------------------------


class ChunkIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    index: JsonInt = Field(ge=0, le=1_000_000, description="Ordinal of the chunk in its document")
    content: CleanStr = Field(min_length=1, max_length=100_000)
    sentences: list[CleanStr] | None = Field(
        default=None, max_length=10_000, description="Accepted for compatibility, not used"
    )
    metadata: JsonObject = Field(default_factory=dict)


class IndexRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    document_id: DocumentId | None = Field(default=None, description="Generated (UUID) when absent")
    chunks: list[ChunkIn] = Field(min_length=1, max_length=10_000)
    filename: CleanStr = Field(default="", max_length=255)
    source: CleanStr = Field(default="", max_length=2048)
    content_type: CleanStr = Field(default="text/plain", max_length=255)
    metadata: JsonObject = Field(
        default_factory=dict,
        description=(
            "Document metadata (filters: patient_id, document_type, date). When absent, keys every chunk's "
            "metadata agrees on are used."
        ),
    )

    @model_validator(mode="after")
    def _unique_indexes(self) -> IndexRequest:
        seen: set[int] = set()
        for chunk in self.chunks:
            if chunk.index in seen:
                raise ValueError(f"duplicate chunk index {chunk.index}")
            seen.add(chunk.index)
        return self


class IndexResponse(BaseModel):
    document_id: str
    chunks_processed: int
    vectors_added: int
    processing_time_ms: float
    status: str
    seq: int = Field(description="Change-log position of this write: pass it as min_seq to read your write")


class UploadResponse(BaseModel):
    document_id: str
    filename: str
    status: str = Field(description="added | updated | unchanged")
    chunks: int
    embedded: int
    seq: int
    processing_time_ms: float


class DocumentStatus(BaseModel):
    document_id: str
    status: str
    chunks_total: int
    chunks_processed: int
    vectors_added: int
    error_message: str | None
    created_at: str
    updated_at: str
    filename: str = ""
    content_type: str = ""


class DeleteResponse(BaseModel):
    document_id: str
    chunks_deleted: int
    vectors_deleted: int
    status: str
    seq: int


class SyncReportOut(BaseModel):
    status: str
    sync_performed: bool
    db_count: int
    index_count: int
    applied_seq: int
    added: int = 0
    removed: int = 0
    repaired: int = 0
    duration_ms: float = 0.0
    reason: str = ""
    collection: str = "default"


class RebuildResponse(BaseModel):
    status: str = Field(description="success")
    vectors_loaded: int
    documents_processed: int
    processing_time_ms: float
    message: str
    sync: SyncReportOut
