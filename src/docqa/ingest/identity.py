"""The one rule that says when an incoming document is one already stored.

    document_identity(document_id="visit-17")                    -> "doc:visit-17"
    document_identity(source="/docs/a.pdf")                      -> "source:/docs/a.pdf"
    document_identity(filename="a.pdf", content_hash="9f2c...")  -> "upload:a.pdf:9f2c..."

An explicit document id wins; else the source (the path the CLI ingests, or an
upload's `source` field); else an upload's filename and content hash, so the
same file uploaded twice is one document. A unique index on (collection,
identity) makes the rule hold under concurrency (storage V5); the jobs of
another process use it too, so a retried job never makes two documents.
"""

from __future__ import annotations


def document_identity(
    *, document_id: str | None = None, source: str = "", filename: str = "", content_hash: str = ""
) -> str:
    """The identity of a document, or "" when nothing identifies it (each write is a new document)."""
    if document_id:
        return f"doc:{document_id}"
    if source:
        return f"source:{source}"
    if content_hash:
        return f"upload:{filename}:{content_hash}"
    return ""
