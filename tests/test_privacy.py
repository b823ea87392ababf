"""Clinical documents: logs at INFO never hold document or query text, and a deleted document leaves no bytes."""

from __future__ import annotations

import json
import logging

import numpy as np

from docqa.app import Docqa
from docqa.embedders.hash import HashEmbedder
from tests.test_api_support import fast, running

SECRET_TEXT = "Patient Zyxwvut Quorrin was prescribed nebulised quibbletrine for the cough."
SECRET_QUERY = "what was Quorrin prescribed for the zyxwvut cough"


def test_info_logs_hold_no_document_or_query_text(settings, caplog):
    with caplog.at_level(logging.INFO, logger="docqa"), running(fast(settings)) as client:
        upload = client.post(
            "/api/v1/index/upload", files={"file": ("note.txt", SECRET_TEXT.encode())}, data={"document_id": "n1"}
        ).json()
        client.post("/api/v1/search/", json={"query": SECRET_QUERY, "mode": "hybrid", "min_seq": upload["seq"]})
        client.get("/api/v1/qa/ask", params={"question": SECRET_QUERY})
        client.post("/api/v1/index/", json={"document_id": "n2", "chunks": [{"index": 0, "content": SECRET_TEXT}]})
        client.delete("/api/v1/index/n1")
    assert len(caplog.records) > 10  # the service did log, at INFO, all along
    for record in caplog.records:
        text = record.getMessage() + json.dumps(record.__dict__, default=str)
        for secret in ("Quorrin", "Zyxwvut", "zyxwvut", "quibbletrine"):
            assert secret not in text, (record.getMessage(), secret)


def test_a_deleted_document_leaves_no_bytes_in_the_data_directory(tmp_path):
    """SQLite file (secure_delete), WAL and index snapshots alike: the vectors and the text are gone."""
    from docqa.config import Settings

    settings = Settings(data_dir=tmp_path / "data", embedder="hash", snapshot_interval_s=0.0)
    library = Docqa.open(settings, embedder=HashEmbedder())
    library.sync()
    library.ingest_bytes(("\n\n".join([SECRET_TEXT] * 3)).encode(), "note.txt", document_id="secret")
    library.ingest_bytes(b"An unrelated note about the weather in spring.", "other.txt", document_id="other")
    vectors = HashEmbedder().embed([SECRET_TEXT])
    library.save()
    library.delete_document("secret")
    library.save()
    with library.db.connection() as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    library.close()
    needles = [SECRET_TEXT[:40].encode(), np.asarray(vectors[0], dtype="<f4").tobytes()[:64]]
    holding = [
        str(p.relative_to(tmp_path))
        for p in (tmp_path / "data").rglob("*")
        if p.is_file() and any(n in p.read_bytes() for n in needles)
    ]
    assert holding == []
