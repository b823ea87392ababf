"""`Client`: the library API (`docqa.app.Docqa`) over HTTP, for a program that talks to `docqa serve`.

The same method names, arguments and result types as the library where the service offers them; where it
does not (a query vector, the sync modes the service runs itself), the method says so with InvalidInput.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

from docqa.app import Answer, IngestOutcome, Stats
from docqa.client import convert
from docqa.client.jobs import RemoteJobs
from docqa.client.transport import RetryPolicy, Transport
from docqa.errors import Conflict, DocqaError, InvalidInput, NotFound, ParseError, ServiceDegraded
from docqa.limits import MIN_SEQ_WAIT_S
from docqa.types import (
    ChunkInput,
    DeleteResult,
    DocumentRecord,
    PassageContext,
    SearchFilters,
    SearchHit,
    SyncReport,
    WriteResult,
)


class Client:
    def __init__(
        self, url: str, api_key: str | None = None, *, timeout_s: float = 60.0, retry: RetryPolicy | None = None
    ) -> None:
        """`url` of the service (http://host:port); `api_key` sent as X-API-Key (the admin key for writes)."""
        self.url = url.rstrip("/")
        self._http = Transport(self.url, api_key, timeout_s, retry or RetryPolicy())
        self._collection = ""
        self.jobs = RemoteJobs(self._http)  # as the library's Docqa.jobs: submit, get, list_jobs, wait, cancel

    # --- writes ----------------------------------------------------------------------
    def add_document(
        self,
        chunks: Sequence[ChunkInput],
        *,
        document_id: str | None = None,
        filename: str = "",
        source: str = "",
        content_type: str = "text/plain",
        metadata: dict[str, Any] | None = None,
    ) -> WriteResult:
        """POST /api/v1/index/: a document of ready chunks (text, ordinal, metadata), searchable on return."""
        body: dict[str, Any] = {
            "chunks": [convert.chunk_body(c) for c in chunks],
            "filename": filename,
            "source": source,
            "content_type": content_type,
            "metadata": metadata or {},
        }
        if document_id is not None:
            body["document_id"] = document_id
        return convert.write_result(self._http.request("POST", "/api/v1/index/", json=body))

    def ingest_bytes(
        self,
        data: bytes,
        filename: str,
        *,
        source: str = "",
        document_id: str | None = None,
        content_type_hint: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> IngestOutcome:
        """POST /api/v1/index/upload: a file parsed, chunked and indexed by the service. A file it cannot read is
        an outcome `failed` with the reason (as from the library); an unsupported type raises UnsupportedType."""
        form = convert.upload_form(data, filename, source, document_id, content_type_hint, metadata)
        try:
            body = self._http.request("POST", "/api/v1/index/upload", **form)
        except ParseError as exc:
            if exc.details.get("status") != "failed":
                raise
            return _failed(filename, source, str(exc.details.get("document_id", "") or ""), exc.message)
        if "job_id" not in body:
            return convert.ingest_outcome(body)
        # 202: not done within the service's upload_wait_s; follow the job to its end, as the library would wait
        job = self.jobs.wait(body["job_id"], timeout_s=JOB_WAIT_S)
        if job.status == "done" and job.result:
            result = {**job.result, "document_id": job.result_document_id or "", "filename": filename}
            return convert.ingest_outcome(result)
        if job.status == "failed":
            return _failed(filename, source, job.result_document_id or "", job.error or "ingest failed")
        if job.status == "cancelled":
            raise Conflict(f"{filename}: the upload's job {job.id} was cancelled", job_id=job.id, status=job.status)
        raise ServiceDegraded(
            f"{filename}: job {job.id} is {job.status} after {JOB_WAIT_S:.0f} s; follow it with client.jobs.get()",
            job_id=job.id,
            status=job.status,
        )

    def ingest_file(self, path: str | Path, *, metadata: dict[str, Any] | None = None) -> IngestOutcome:
        """A local file uploaded with its path as `source` (so uploading it again updates the same document)."""
        path = Path(path)
        return self.ingest_bytes(path.read_bytes(), path.name, source=str(path.resolve()), metadata=metadata)

    def delete_document(self, document_id: str) -> DeleteResult:
        """DELETE /api/v1/index/{id}: its vectors are out of the index on return (NotFound if unknown)."""
        return convert.delete_result(self._http.request("DELETE", f"/api/v1/index/{convert.path_id(document_id)}"))

    def sync(self, mode: str = "force") -> SyncReport:
        """Only `force` (POST /api/v1/index/rebuild-from-db): the service proves and repairs its index itself."""
        if mode != "force":
            raise InvalidInput(f"sync mode {mode!r} is not offered over HTTP; the service syncs itself (use 'force')")
        report = convert.sync_report(self._http.request("POST", "/api/v1/index/rebuild-from-db")["sync"])
        assert report is not None
        return report

    # --- reads -----------------------------------------------------------------------
    def get_document(self, document_id: str) -> DocumentRecord:
        """GET /api/v1/index/status/{id} (status, counts, filename, type, times; source and metadata are not sent)."""
        body = self._http.request("GET", f"/api/v1/index/status/{convert.path_id(document_id)}")
        return convert.document_record(body, self.collection)

    def list_documents(
        self, limit: int = 1000, offset: int = 0, status: str | None = None, newest_first: bool = False
    ) -> list[DocumentRecord]:
        """GET /api/v1/documents: a page of documents, oldest first (or newest first), of one status when given."""
        return [
            convert.document_record(d, self.collection)
            for d in self._documents(limit, offset, status, newest_first)["documents"]
        ]

    def count_documents(self, status: str | None = None) -> int:
        return int(self._documents(0, 0, status, False)["total"])

    def _documents(self, limit: int, offset: int, status: str | None, newest_first: bool) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit, "offset": offset, "order": "newest" if newest_first else "oldest"}
        if status is not None:
            params["status"] = status
        try:
            body: dict[str, Any] = self._http.request("GET", "/api/v1/documents", params=params)
        except NotFound as exc:
            raise NotFound(f"{self.url} does not list documents (no GET /api/v1/documents): {exc.message}") from exc
        return body

    def passage_context(
        self, document_id: str, chunk_id: int, *, before: int = 1, after: int = 1, span: tuple[int, int] | None = None
    ) -> PassageContext:
        """GET /api/v1/documents/{id}/chunks/{chunk_id}/context: a cited chunk with its neighbours."""
        params: dict[str, Any] = {"before": before, "after": after}
        if span is not None:
            params["start"], params["end"] = span
        path = f"/api/v1/documents/{convert.path_id(document_id)}/chunks/{int(chunk_id)}/context"
        return convert.passage_context(self._http.request("GET", path, params=params))

    def search(
        self,
        query: str,
        *,
        mode: str = "vector",
        k: int = 10,
        filters: SearchFilters | None = None,
        min_score: float | None = None,
        min_seq: int | None = None,
        vector_weight: float | None = None,
        keyword_weight: float | None = None,
        rrf_k: int | None = None,
    ) -> list[SearchHit]:
        """POST /api/v1/search/ (or /hybrid with fusion weights): text queries only."""
        if not isinstance(query, str):
            raise InvalidInput("the HTTP API searches by text; a query vector needs the library", field="query")
        body: dict[str, Any] = {"query": query, "limit": k}
        for key, value in (("filters", convert.filters_body(filters)), ("threshold", min_score), ("min_seq", min_seq)):
            if value is not None:
                body[key] = value
        weights = {"vector_weight": vector_weight, "keyword_weight": keyword_weight, "rrf_k": rrf_k}
        if any(v is not None for v in weights.values()):
            if mode != "hybrid":
                raise InvalidInput("vector_weight, keyword_weight and rrf_k are for hybrid search", field="mode")
            body.update({key: value for key, value in weights.items() if value is not None})
            found = self._http.request("POST", "/api/v1/search/hybrid", json=body)
        else:
            found = self._http.request("POST", "/api/v1/search/", json={**body, "mode": mode})
        return [convert.search_hit(h) for h in found["results"]]

    def suggest(self, q: str, limit: int = 10) -> list[str]:
        suggestions: list[str] = self._http.request("GET", "/api/v1/search/suggest", params={"q": q, "limit": limit})[
            "suggestions"
        ]
        return suggestions

    def ask(self, question: str, *, document_ids: Sequence[str] = (), k: int = 5, min_seq: int | None = None) -> Answer:
        """GET /api/v1/qa/ask; `min_seq`: first wait (≤ 5 s) until the service's index has applied that change."""
        self.wait_applied(min_seq)
        params: dict[str, Any] = {"question": question, "k": k}
        if document_ids:
            params["context_documents"] = ",".join(document_ids)
        return convert.answer(self._http.request("GET", "/api/v1/qa/ask", params=params))

    def stats(self) -> Stats:
        stats = convert.stats(self._http.request("GET", "/api/v1/search/stats"))
        self._collection = stats.collection
        return stats

    def health(self) -> dict[str, Any]:
        """GET /health: the health state and why (never retried: it answers 200 in every state)."""
        body: dict[str, Any] = self._http.http.get("/health").json()
        return body

    def wait_applied(self, min_seq: int | None, timeout_s: float = MIN_SEQ_WAIT_S) -> None:
        """Read-your-writes for the routes without `min_seq`: poll stats until applied_seq >= min_seq."""
        if not min_seq:
            return
        deadline = time.monotonic() + timeout_s
        while (applied := self.stats().applied_seq) < min_seq:
            if time.monotonic() > deadline:
                raise ServiceDegraded(f"the index has applied change {applied}, not yet {min_seq} (min_seq)")
            time.sleep(0.05)

    @property
    def collection(self) -> str:
        if not self._collection:
            try:
                self.stats()
            except DocqaError:
                return ""
        return self._collection

    # --- lifecycle -------------------------------------------------------------------
    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


JOB_WAIT_S = 3600.0  # how long ingest_bytes follows a job the service queued (a big file on a busy queue)


def _failed(filename: str, source: str, document_id: str, error: str) -> IngestOutcome:
    """A file the service could not read: an outcome `failed` with the reason, as from the library."""
    return IngestOutcome(document_id=document_id, filename=filename, status="failed", source=source, error=error)
