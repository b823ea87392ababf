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


# Ingest jobs (docqa.storage.jobs): the queue any worker can run, in the database that holds the truth.
# Times are epoch seconds from the *database's* clock (workers on several machines compare leases
# against one clock). The uploaded bytes live in `data` until the job ends, then are cleared.
# `job_workers`: one row per worker pool, refreshed while it runs (idle too): "workers seen".
def jobs_tables(blob: str, real: str) -> list[str]:
    return [
        f"""CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        collection TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'queued'
            CHECK (status IN ('queued','running','done','failed','cancelled')),
        filename TEXT NOT NULL DEFAULT '',
        content_type TEXT NOT NULL DEFAULT '',
        source TEXT NOT NULL DEFAULT '',
        metadata TEXT NOT NULL DEFAULT '{{}}',
        document_id TEXT,
        data {blob},
        size_bytes BIGINT NOT NULL DEFAULT 0,
        chunks_done INTEGER NOT NULL DEFAULT 0,
        chunks_total INTEGER NOT NULL DEFAULT 0,
        result_document_id TEXT,
        result TEXT,
        error TEXT,
        error_code TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        max_attempts INTEGER NOT NULL DEFAULT 3,
        lease_owner TEXT,
        lease_expires_at {real},
        heartbeat_at {real},
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        run_after {real} NOT NULL DEFAULT 0,
        created_at {real} NOT NULL,
        started_at {real},
        finished_at {real},
        updated_at {real} NOT NULL
    )""",
        "CREATE INDEX jobs_claim ON jobs (collection, status, run_after, created_at)",
        "CREATE INDEX jobs_listing ON jobs (collection, created_at)",
        f"""CREATE TABLE job_workers (
        id TEXT PRIMARY KEY,
        collection TEXT NOT NULL,
        host TEXT NOT NULL DEFAULT '',
        pid INTEGER NOT NULL DEFAULT 0,
        concurrency INTEGER NOT NULL DEFAULT 1,
        running INTEGER NOT NULL DEFAULT 0,
        jobs_done BIGINT NOT NULL DEFAULT 0,
        jobs_failed BIGINT NOT NULL DEFAULT 0,
        started_at {real} NOT NULL,
        last_seen {real} NOT NULL
    )""",
    ]
