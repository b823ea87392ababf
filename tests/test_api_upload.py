"""`POST /api/v1/index/upload` through the real app and ingestion pipeline, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from docqa.config import Settings
from tests.conftest import database_for
from tests.test_api_support import assert_error, fast, running, search

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
FIXTURES = Path(__file__).parent / "fixtures"
LIMIT = 200_000

TYPES = {
    "history-of-millbrook.txt": ("text/plain", "library"),
    "clinic-patient-intake.md": ("text/markdown", "insurance card"),
    "home-espresso-guide.html": ("text/html", "espresso"),
    "medication-storage-policy.pdf": ("application/pdf", "refrigerator"),
    "data-retention-policy.docx": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "retention",
    ),
}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def client(request, tmp_path_factory, pg_server):
    data_dir = tmp_path_factory.mktemp("api-upload")
    url = database_for(request.param, data_dir, pg_server)
    settings = Settings(data_dir=data_dir, database_url=url, embedder="hash", max_upload_bytes=LIMIT)
    with running(fast(settings)) as c:
        yield c


def upload(client, name: str, data: bytes, **form: str):
    return client.post("/api/v1/index/upload", files={"file": (name, data)}, data=form)


@pytest.mark.parametrize("name", sorted(TYPES))
def test_each_supported_type_is_indexed_and_searchable(client, name):
    content_type, words = TYPES[name]
    data = (SAMPLES / name).read_bytes()
    response = upload(
        client,
        name,
        data,
        metadata=json.dumps({"patient_id": "p-77", "date": "2024-05-01"}),
        document_id=f"up-{Path(name).stem}",
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["document_id"] == f"up-{Path(name).stem}" and body["filename"] == name
    assert body["status"] == "added" and body["chunks"] > 0 and body["embedded"] == body["chunks"] and body["seq"] > 0
    status = client.get(f"/api/v1/index/status/{body['document_id']}").json()
    assert status["status"] == "indexed" and status["chunks_total"] == body["chunks"]
    assert status["content_type"] == content_type
    hits = search(client, words, limit=20, min_seq=body["seq"], filters={"document_id": body["document_id"]})["results"]
    assert hits and hits[0]["metadata"]["patient_id"] == "p-77"

    again = upload(client, name, data, document_id=body["document_id"])
    assert again.status_code == 200 and again.json()["status"] == "unchanged", again.text


def test_broken_pdf_is_recorded_failed_with_a_clear_message(client):
    response = upload(client, "scan.pdf", (FIXTURES / "truncated.pdf").read_bytes(), document_id="broken-pdf")
    error = assert_error(response, 422, "parse_error")
    assert "scan.pdf" in error["message"] and error["details"]["status"] == "failed"
    status = client.get("/api/v1/index/status/broken-pdf").json()
    assert status["status"] == "failed" and status["error_message"] and status["vectors_added"] == 0


def test_unsupported_type_is_415(client):
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    error = assert_error(upload(client, "photo.txt", png), 415, "unsupported_media_type")
    assert "PNG" in error["message"]
    assert_error(client.post("/api/v1/index/upload", json={"file": "x"}), 415, "unsupported_media_type")


def test_oversized_upload_is_413_without_reading_it_all(client):
    big = b"lorem ipsum " * (LIMIT // 6)
    assert_error(upload(client, "big.txt", big), 413, "payload_too_large")

    def stream():  # chunked: no Content-Length, refused while reading
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\n\r\n'
        for _ in range(LIMIT // 1000 + 100):
            yield b"y" * 1000
        yield b"\r\n--b--\r\n"

    response = client.post(
        "/api/v1/index/upload", content=stream(), headers={"content-type": "multipart/form-data; boundary=b"}
    )
    assert_error(response, 413, "payload_too_large")


def test_just_under_the_limit_is_accepted(client):
    data = (b"the quick brown fox jumps over the lazy dog. " * (LIMIT // 45))[: LIMIT - 10]
    response = upload(client, "fox.txt", data, document_id="just-under")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] in ("added", "updated") and body["document_id"] == "just-under" and body["chunks"] > 1
    status = client.get("/api/v1/index/status/just-under").json()
    assert (status["status"], status["chunks_total"], status["filename"]) == ("indexed", body["chunks"], "fox.txt")
    hits = search(
        client, "quick brown fox lazy dog", limit=5, min_seq=body["seq"], filters={"document_id": "just-under"}
    )
    assert hits["results"] and all(h["document_id"] == "just-under" for h in hits["results"])


@pytest.mark.parametrize(
    "form, field",
    [
        ({"metadata": "{not json"}, "metadata"),
        ({"metadata": "[1, 2]"}, "metadata"),
        ({"document_id": "no spaces allowed"}, "document_id"),
    ],
)
def test_bad_form_fields_are_422(client, form, field):
    error = assert_error(upload(client, "a.txt", b"some text", **form), 422, "invalid_input")
    assert error["details"]["field"] == field


def test_missing_file_and_empty_file(client):
    error = assert_error(
        client.post("/api/v1/index/upload", data={"metadata": "{}"}, files={"other": ("x.txt", b"x")}),
        422,
        "invalid_input",
    )
    assert error["details"]["field"] == "file"
    empty = assert_error(upload(client, "empty.txt", b""), 422, "parse_error")
    assert "empty" in empty["message"]
