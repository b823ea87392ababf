"""SQLite schema, as ordered migrations. Applied once each, recorded in `meta`."""

from docqa.storage.schema_common import IDENTITY_UPGRADE, jobs_tables

V1 = [
    """CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)""",
    """CREATE TABLE collections (
        name TEXT PRIMARY KEY,
        model TEXT NOT NULL,
        dim INTEGER NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
    )""",
    """CREATE TABLE documents (
        id TEXT PRIMARY KEY,
        collection TEXT NOT NULL DEFAULT 'default',
        source TEXT NOT NULL DEFAULT '',
        filename TEXT NOT NULL DEFAULT '',
        content_type TEXT NOT NULL DEFAULT '',
        content_hash TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending','processing','indexed','failed','deleted')),
        error TEXT,
        metadata TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
    )""",
    "CREATE INDEX documents_collection_source ON documents(collection, source)",
    """CREATE TABLE chunks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        collection TEXT NOT NULL DEFAULT 'default',
        ordinal INTEGER NOT NULL,
        text TEXT NOT NULL,
        char_start INTEGER NOT NULL DEFAULT 0,
        char_end INTEGER NOT NULL DEFAULT 0,
        page INTEGER,
        token_count INTEGER NOT NULL DEFAULT 0,
        heading TEXT NOT NULL DEFAULT '',
        content_hash TEXT NOT NULL DEFAULT '',
        embedding BLOB,
        model TEXT NOT NULL DEFAULT '',
        dim INTEGER NOT NULL DEFAULT 0,
        metadata TEXT NOT NULL DEFAULT '{}'
    )""",
    "CREATE INDEX chunks_document ON chunks(document_id, ordinal)",
    "CREATE INDEX chunks_collection ON chunks(collection)",
    """CREATE TABLE index_changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        collection TEXT NOT NULL,
        chunk_id INTEGER NOT NULL,
        op TEXT NOT NULL CHECK (op IN ('upsert','delete')),
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
    )""",
    "CREATE INDEX index_changes_collection_seq ON index_changes(collection, seq)",
    # The change log is filled by triggers, so writes by any program are seen.
    """CREATE TRIGGER chunks_log_insert AFTER INSERT ON chunks BEGIN
        INSERT INTO index_changes(collection, chunk_id, op) VALUES (NEW.collection, NEW.id, 'upsert');
    END""",
    """CREATE TRIGGER chunks_log_update AFTER UPDATE ON chunks BEGIN
        INSERT INTO index_changes(collection, chunk_id, op)
            SELECT OLD.collection, OLD.id, 'delete' WHERE OLD.id IS NOT NEW.id OR OLD.collection IS NOT NEW.collection;
        INSERT INTO index_changes(collection, chunk_id, op) VALUES (NEW.collection, NEW.id, 'upsert');
    END""",
    """CREATE TRIGGER chunks_log_delete AFTER DELETE ON chunks BEGIN
        INSERT INTO index_changes(collection, chunk_id, op) VALUES (OLD.collection, OLD.id, 'delete');
    END""",
    """CREATE TRIGGER documents_log_status AFTER UPDATE OF status ON documents
        WHEN OLD.status IS NOT NEW.status BEGIN
        INSERT INTO index_changes(collection, chunk_id, op)
            SELECT collection, id, 'upsert' FROM chunks WHERE document_id = NEW.id ORDER BY id;
    END""",
]

# Keyword search: FTS5 over chunk text (external content), kept consistent by
# triggers in the same transaction that writes the chunk.
V2 = [
    """CREATE VIRTUAL TABLE chunks_fts USING fts5(
        text, heading, content='chunks', content_rowid='id', tokenize='porter unicode61'
    )""",
    """CREATE TRIGGER chunks_fts_insert AFTER INSERT ON chunks BEGIN
        INSERT INTO chunks_fts(rowid, text, heading) VALUES (NEW.id, NEW.text, NEW.heading);
    END""",
    """CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks BEGIN
        INSERT INTO chunks_fts(chunks_fts, rowid, text, heading) VALUES ('delete', OLD.id, OLD.text, OLD.heading);
    END""",
    """CREATE TRIGGER chunks_fts_update AFTER UPDATE OF text, heading ON chunks BEGIN
        INSERT INTO chunks_fts(chunks_fts, rowid, text, heading) VALUES ('delete', OLD.id, OLD.text, OLD.heading);
        INSERT INTO chunks_fts(rowid, text, heading) VALUES (NEW.id, NEW.text, NEW.heading);
    END""",
    "INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')",
]

# PostgreSQL's V3 stores a per-row content hash; SQLite has no hash function in SQL,
# so its row hashes are computed while streaming (docqa.index.digest). Kept so both
# backends count the same schema versions.
V3: list[str] = []

# Document writes that change which chunks are members, by any program. Foreign keys are off by
# default in SQLite (the sqlite3 shell, most scripts), so a plain `DELETE FROM documents` left its
# chunks behind as orphans that no chunk trigger logged, and the index kept serving them. Now a
# document's delete deletes its chunks (their delete triggers log them; with foreign keys on, the
# cascade already did and this finds nothing); a changed id orphans its old chunks and adopts any
# stored under the new one; an inserted document adopts chunks stored before it. Status changes
# were already logged (V1). Orphans made before this version are deleted, and logged, here.
V4 = [
    """CREATE TRIGGER documents_delete_chunks AFTER DELETE ON documents BEGIN
        DELETE FROM chunks WHERE document_id = OLD.id;
    END""",
    """CREATE TRIGGER documents_log_rekey AFTER UPDATE OF id ON documents WHEN OLD.id IS NOT NEW.id BEGIN
        INSERT INTO index_changes(collection, chunk_id, op)
            SELECT collection, id, 'delete' FROM chunks WHERE document_id = OLD.id ORDER BY id;
        INSERT INTO index_changes(collection, chunk_id, op)
            SELECT collection, id, 'upsert' FROM chunks WHERE document_id = NEW.id ORDER BY id;
    END""",
    """CREATE TRIGGER documents_log_insert AFTER INSERT ON documents BEGIN
        INSERT INTO index_changes(collection, chunk_id, op)
            SELECT collection, id, 'upsert' FROM chunks WHERE document_id = NEW.id ORDER BY id;
    END""",
    "DELETE FROM chunks WHERE NOT EXISTS (SELECT 1 FROM documents d WHERE d.id = chunks.document_id)",
]

# Document identity (ingest/identity.py): the one rule that says when an incoming document is one
# already stored: its explicit id, else its source (the CLI's path), else an upload's filename +
# content hash. A unique index makes it hold under concurrency. Rows written before, and rows
# other programs write without one, are identified by their id; of the rows the old release
# duplicated (the same source or the same uploaded bytes twice), the best one takes the identity.
IDENTITY = [
    "ALTER TABLE documents ADD COLUMN identity TEXT",
    "UPDATE documents SET identity = 'doc:' || id",
    *IDENTITY_UPGRADE,
    """CREATE TRIGGER documents_default_identity AFTER INSERT ON documents WHEN NEW.identity IS NULL BEGIN
        UPDATE documents SET identity = 'doc:' || NEW.id WHERE id = NEW.id;
    END""",
]

# The database's side of the content proof without reading 1.5 KB per row. SQLite has no hash function
# in SQL (and one registered by docqa would break every other program's writes), so the row hash
# xxh3_64(embedding, seed=id) is computed by docqa and *stored*, in a narrow table of its own
# (16-byte rows: storing 100k hashes took 0.39 s there against 6.5 s as a column of the ~2.2 KB chunk
# rows, each rewritten whole), with triggers making sure a stored value is never stale: any insert,
# delete, and update of a chunk's id or embedding removes it, whoever writes. docqa stores values
# (docqa.storage.stored_hashes) from embeddings it reads under the write lock; a verification sums
# them over the members, found in a covering index (collection, model, dim, embedding length,
# document), and hashes only the rows without one. What this trusts: that nobody writes
# chunk_hashes by hand or drops these triggers -- the boundary the change log already has on SQLite;
# the deep verification hashes every stored embedding again and catches both.
MEMBERS = [
    "CREATE TABLE chunk_hashes (chunk_id INTEGER PRIMARY KEY, hash INTEGER NOT NULL)",
    "CREATE INDEX chunks_members ON chunks(collection, model, dim, length(embedding), document_id)",
    """CREATE TRIGGER chunks_hash_insert AFTER INSERT ON chunks BEGIN
        DELETE FROM chunk_hashes WHERE chunk_id = NEW.id;
    END""",
    """CREATE TRIGGER chunks_hash_update AFTER UPDATE OF id, embedding ON chunks BEGIN
        DELETE FROM chunk_hashes WHERE chunk_id IN (OLD.id, NEW.id);
    END""",
    """CREATE TRIGGER chunks_hash_delete AFTER DELETE ON chunks BEGIN
        DELETE FROM chunk_hashes WHERE chunk_id = OLD.id;
    END""",
]

# Ingest jobs: see schema_common.jobs_tables and docqa.storage.jobs.
JOBS = jobs_tables("BLOB", "REAL")

# Which version of docqa's parsing and chunking cut a document's chunks (docqa.ingest.document.PARSER_VERSION;
# 0 for rows stored before, and for documents given as chunks): a document parsed by another version is parsed
# again at its next ingest even when its bytes are the same, so parser fixes reach stored collections.
PARSED = ["ALTER TABLE documents ADD COLUMN parser_version INTEGER NOT NULL DEFAULT 0"]

MIGRATIONS = [V1, V2, V3, V4, IDENTITY, MEMBERS, JOBS, PARSED]
