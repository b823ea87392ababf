"""The service's JSON bodies to the library's result types, and the library's arguments to JSON bodies."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from docqa.app import Answer, IngestOutcome, Source, Stats
from docqa.errors import InvalidInput
from docqa.types import (
    ChunkInput,
    ContextChunk,
    DeleteResult,
    DocumentRecord,
    PassageContext,
    SearchFilters,
    SearchHit,
    SyncReport,
    WriteResult,
)

_REPORT_FIELDS = set(SyncReport.__dataclass_fields__)


def chunk_body(chunk: ChunkInput) -> dict[str, Any]:
    return {"index": chunk.ordinal, "content": chunk.text, "metadata": dict(chunk.metadata)}


def filters_body(filters: SearchFilters | None) -> dict[str, Any] | None:
    if filters is None or filters.is_empty():
        return None
    body: dict[str, Any] = {}
    if filters.document_ids:
        body["document_ids"] = list(filters.document_ids)
    if filters.content_types:
        body["document_type"] = list(filters.content_types)
    if filters.metadata:
        body["metadata"] = dict(filters.metadata)
    if filters.date_from:
        body["date_from"] = filters.date_from
    if filters.date_to:
        body["date_to"] = filters.date_to
    return body


def write_result(body: dict[str, Any]) -> WriteResult:
    """The service says what it added, not what it kept or removed: `outcome` is "" (not reported)."""
    return WriteResult(
        document_id=body["document_id"],
        added=int(body["vectors_added"]),
        seq=int(body["seq"]),
        status=str(body["status"]),
        outcome="",
    )


def ingest_outcome(body: dict[str, Any]) -> IngestOutcome:
    return IngestOutcome(
        document_id=body["document_id"],
        filename=body["filename"],
        status=body["status"],
        chunks=int(body["chunks"]),
        embedded=int(body["embedded"]),
        seq=int(body["seq"]),
    )


def delete_result(body: dict[str, Any]) -> DeleteResult:
    return DeleteResult(
        document_id=body["document_id"],
        chunks_deleted=int(body["chunks_deleted"]),
        vectors_deleted=int(body["vectors_deleted"]),
        seq=int(body["seq"]),
    )


def document_record(body: dict[str, Any], collection: str) -> DocumentRecord:
    """From the status route (which has no source, content hash or metadata) or a documents listing (which may)."""
    return DocumentRecord(
        id=body["document_id"],
        collection=body.get("collection", collection),
        source=body.get("source", ""),
        filename=body.get("filename", ""),
        content_type=body.get("content_type", ""),
        content_hash=body.get("content_hash", ""),
        status=body["status"],
        error=body.get("error_message", body.get("error")),
        metadata=dict(body.get("metadata") or {}),
        created_at=str(body.get("created_at", "")),
        updated_at=str(body.get("updated_at", "")),
        chunks_total=int(body.get("chunks_total", 0)),
    )


def search_hit(body: dict[str, Any]) -> SearchHit:
    return SearchHit(
        chunk_id=int(body["chunk_id"]),
        document_id=body["document_id"],
        score=float(body["score"]),
        content=body["content"],
        filename=body["filename"],
        content_type=body["file_type"],
        chunk_index=int(body["chunk_index"]),
        metadata=dict(body["metadata"]),
        page=body.get("page"),
        char_start=int(body.get("char_start", 0)),
        char_end=int(body.get("char_end", 0)),
        heading=body.get("heading", ""),
    )


def answer(body: dict[str, Any]) -> Answer:
    return Answer(
        question=body["question"],
        answer=body["answer"],
        found=bool(body["found"]),
        mode=body["mode"],
        fallback_reason=body.get("fallback_reason"),
        sources=[Source(**{k: s[k] for k in Source.__dataclass_fields__}) for s in body["sources"]],
        processing_time_ms=float(body.get("processing_time_ms", 0.0)),
    )


def passage_context(body: dict[str, Any]) -> PassageContext:
    fields = {k: body[k] for k in PassageContext.__dataclass_fields__ if k in body and k != "chunks"}
    chunks = [ContextChunk(**{k: c[k] for k in ContextChunk.__dataclass_fields__ if k in c}) for c in body["chunks"]]
    return PassageContext(**fields, chunks=chunks)


def sync_report(body: dict[str, Any] | None) -> SyncReport | None:
    if not body:
        return None
    return SyncReport(**{k: v for k, v in body.items() if k in _REPORT_FIELDS})


def stats(body: dict[str, Any]) -> Stats:
    return Stats(
        collection=body["collection"],
        total_vectors=int(body["total_vectors"]),
        total_chunks=int(body["total_chunks"]),
        indexable_chunks=int(body["indexable_chunks"]),
        total_documents=int(body["total_documents"]),
        failed_documents=int(body["failed_documents"]),
        model=body.get("model") or body["embedding_model"],
        dim=int(body["dim"]),
        index_type=body["index_type"],
        applied_seq=int(body["applied_seq"]),
        db_seq=int(body["db_seq"]),
        lag=int(body["lag"]),
        db_identity=body.get("db_identity", ""),
        database=body.get("database", ""),
        last_sync=sync_report(body.get("last_sync")),
    )


def path_id(document_id: str) -> str:
    """An id as one URL path segment (a clear error for an empty one)."""
    if not isinstance(document_id, str) or not document_id:
        raise InvalidInput("document_id must be a non-empty string", field="document_id")
    return quote(document_id, safe="")


def upload_form(
    data: Any, filename: str, source: str, document_id: str | None, content_type_hint: str | None, metadata: Any
) -> dict[str, Any]:
    """The multipart body of an upload (`/api/v1/index/upload` and `/api/v1/jobs` take the same fields)."""
    form = {"metadata": json.dumps(metadata or {}), "source": source}
    if document_id is not None:
        form["document_id"] = document_id
    return {"data": form, "files": {"file": (filename, data, content_type_hint or "application/octet-stream")}}
