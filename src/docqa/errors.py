"""One error hierarchy. Each error has a stable code and an HTTP status.

The HTTP layer maps these to JSON bodies in one place; the CLI prints the
message and exits non-zero. Nothing a client can send should surface as
anything but a DocqaError subclass.
"""

from __future__ import annotations


class DocqaError(Exception):
    code = "docqa_error"
    http_status = 500

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, object]:
        body: dict[str, object] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class InvalidInput(DocqaError):
    code = "invalid_input"
    http_status = 422


class NotFound(DocqaError):
    code = "not_found"
    http_status = 404


class PayloadTooLarge(DocqaError):
    code = "payload_too_large"
    http_status = 413


class UnsupportedType(DocqaError):
    code = "unsupported_media_type"
    http_status = 415


class Unauthorized(DocqaError):
    code = "unauthorized"
    http_status = 401


class Forbidden(DocqaError):
    """A valid key that may not do this (a read key on a write route), or a request from a host or origin not allowed."""

    code = "forbidden"
    http_status = 403


class SnapshotSaveFailed(DocqaError):
    """The index snapshot could not be written (a full disk, a read-only directory). The database and the
    index in memory are unaffected: the snapshot is a cache, saved again once it can be."""

    code = "snapshot_save_failed"
    http_status = 507


class ParseError(DocqaError):
    """A document could not be read (unreadable, encrypted, empty, mislabelled)."""

    code = "parse_error"
    http_status = 422


class EmbedderMismatch(DocqaError):
    """A collection was opened with an embedder other than the one it was built with."""

    code = "embedder_mismatch"
    http_status = 409


class EmbedderError(DocqaError):
    code = "embedder_error"
    http_status = 502


class LLMUnavailable(DocqaError):
    """The answer model's endpoint gave no usable answer (QA falls back to the extractive answer)."""

    code = "llm_unavailable"
    http_status = 502


class SchemaTooNew(DocqaError):
    """The database was migrated by a newer docqa than this one."""

    code = "schema_too_new"
    http_status = 503


class DatabaseUnavailable(DocqaError):
    code = "database_unavailable"
    http_status = 503


class ServiceDegraded(DocqaError):
    code = "service_degraded"
    http_status = 503


class SnapshotInvalid(DocqaError):
    """An index snapshot on disk is torn, foreign, stale or corrupt."""

    code = "snapshot_invalid"
    http_status = 500


class SyncFailed(DocqaError):
    code = "sync_failed"
    http_status = 503


class Conflict(DocqaError):
    code = "conflict"
    http_status = 409
