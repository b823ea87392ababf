"""SQL both databases run alike."""

from __future__ import annotations

# Document identity at upgrade: of the rows the old release duplicated (the same source, or the same
# uploaded bytes, twice), the best one — indexed first, then the newest — takes the identity; the others
# keep their own ('doc:' || id), so no row is lost and the unique index holds.
IDENTITY_UPGRADE = [
    """UPDATE documents SET identity = 'source:' || source WHERE source <> '' AND id = (
        SELECT d2.id FROM documents d2 WHERE d2.collection = documents.collection AND d2.source = documents.source
        ORDER BY CASE WHEN d2.status = 'indexed' THEN 0 ELSE 1 END, d2.updated_at DESC, d2.id LIMIT 1)""",
    """UPDATE documents SET identity = 'upload:' || filename || ':' || content_hash
        WHERE source = '' AND content_hash <> '' AND id = (
        SELECT d2.id FROM documents d2 WHERE d2.collection = documents.collection AND d2.source = ''
            AND d2.filename = documents.filename AND d2.content_hash = documents.content_hash
        ORDER BY CASE WHEN d2.status = 'indexed' THEN 0 ELSE 1 END, d2.updated_at DESC, d2.id LIMIT 1)""",
    "CREATE UNIQUE INDEX documents_identity ON documents (collection, identity)",
]
