"""Bad input gets a 4xx with a JSON error body, never a 500; auth on writes; CORS."""

from __future__ import annotations

import json

import pytest

from docqa.config import Settings
from tests.conftest import database_for
from tests.helpers import TOPICS
from tests.test_api_support import assert_error, fast, index_doc, running


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def client(request, tmp_path_factory, pg_server):
    data_dir = tmp_path_factory.mktemp("api-errors")
    url = database_for(request.param, data_dir, pg_server)
    settings = Settings(data_dir=data_dir, database_url=url, embedder="hash", max_upload_bytes=10_000)
    with running(fast(settings)) as c:
        index_doc(c, "doc", TOPICS[:3])
        yield c


def fields(error: dict) -> set[str]:
    return {e["field"] for e in error["details"]["errors"]}


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "query"),
        ({"query": ""}, "query"),
        ({"query": "x", "limit": 0}, "limit"),
        ({"query": "x", "limit": 101}, "limit"),
        ({"query": "x", "limit": "ten"}, "limit"),
        ({"query": "x", "threshold": 1.5}, "threshold"),
        ({"query": "x", "mode": "psychic"}, "mode"),
        ({"query": "x", "min_seq": -1}, "min_seq"),
        ({"query": "x\u0000y"}, "query"),
        ({"query": "x", "filters": {"date_from": "yesterday"}}, "filters.date_from"),
        ({"query": "x", "filters": {"date_to": "2024-13-45"}}, "filters.date_to"),
        ({"query": "x", "filters": {"document_id": "has spaces"}}, "filters.document_id"),
        ({"query": "x", "filters": {"colour": "red"}}, "filters.colour"),
        (["not", "an", "object"], ""),
    ],
)
def test_search_validation_names_the_field(client, body, field):
    error = assert_error(client.post("/api/v1/search/", json=body), 422, "validation_error")
    if field:
        assert field in fields(error), error
        assert field in error["message"]


def test_whitespace_query_is_rejected_cleanly(client):
    assert_error(client.post("/api/v1/search/", json={"query": "   "}), 422, "invalid_input")


@pytest.mark.parametrize(
    "body, field",
    [
        ({"chunks": []}, "chunks"),
        ({"document_id": "../etc/passwd", "chunks": [{"index": 0, "content": "x"}]}, "document_id"),
        ({"chunks": [{"index": 0}]}, "chunks.0.content"),
        ({"chunks": [{"index": -1, "content": "x"}]}, "chunks.0.index"),
        ({"chunks": [{"index": 0, "content": "nul \u0000 byte"}]}, "chunks.0.content"),
        ({"chunks": [{"index": 0, "content": "lone \ud800 surrogate"}]}, "chunks.0.content"),
        ({"chunks": [{"index": 0, "content": "x", "metadata": {"k": "nul\u0000"}}]}, "chunks.0.metadata"),
        ({"chunks": [{"index": 0, "content": "x"}], "metadata": {"deep": [[[[[[[[[[1]]]]]]]]]]}}, "metadata"),
        ({"chunks": [{"index": 0, "content": "a"}, {"index": 0, "content": "b"}]}, ""),
    ],
)
def test_index_validation_names_the_field(client, body, field):
    raw = json.dumps(body)  # ASCII with \u escapes: lone surrogates travel as the JSON text a client would send
    response = client.post("/api/v1/index/", content=raw, headers={"content-type": "application/json"})
    error = assert_error(response, 422, "validation_error")
    if field:
        assert field in fields(error), error


def test_non_finite_metadata_is_rejected(client):
    before = client.get("/api/v1/search/stats").json()["total_chunks"]
    for number in (b"NaN", b"Infinity", b"-Infinity"):
        raw = b'{"document_id": "nan", "chunks": [{"index": 0, "content": "x", "metadata": {"v": ' + number + b"}}]}"
        response = client.post("/api/v1/index/", content=raw, headers={"content-type": "application/json"})
        error = assert_error(response, 422, "validation_error")
        assert error["details"]["errors"][0]["field"] == "chunks.0.metadata"
        assert "finite" in error["message"]
    assert client.get("/api/v1/search/stats").json()["total_chunks"] == before
    assert_error(client.get("/api/v1/index/status/nan"), 404)


def test_malformed_json_is_a_422(client):
    response = client.post("/api/v1/search/", content=b"{not json", headers={"content-type": "application/json"})
    assert_error(response, 422, "invalid_json")


def test_unknown_route_and_wrong_method(client):
    error = assert_error(client.get("/api/v1/nothing-here"), 404, "not_found")
    assert "/api/v1/nothing-here" in error["message"]
    response = client.put("/api/v1/search/", json={"query": "x"})
    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["allow"]


def test_unknown_document(client):
    assert_error(client.get("/api/v1/index/status/no-such-doc"), 404, "not_found")
    assert_error(client.delete("/api/v1/index/no-such-doc"), 404, "not_found")
    assert_error(client.get("/api/v1/index/status/bad%20id"), 422, "validation_error")


def test_oversized_bodies_are_413(client):
    big = {"chunks": [{"index": 0, "content": "x" * 90_000}]}
    assert_error(client.post("/api/v1/index/", json=big), 413, "payload_too_large")

    def chunks():  # no Content-Length: the limit is enforced while reading
        yield b'{"chunks": [{"index": 0, "content": "'
        for _ in range(100):
            yield b"x" * 1000
        yield b'"}]}'

    response = client.post("/api/v1/index/", content=chunks(), headers={"content-type": "application/json"})
    assert_error(response, 413)


def test_failing_writes_leave_the_index_untouched(client):
    before = client.get("/api/v1/search/stats").json()["total_vectors"]
    client.post("/api/v1/index/", json={"chunks": [{"index": 0, "content": "nul \u0000"}]})
    assert client.get("/api/v1/search/stats").json()["total_vectors"] == before


@pytest.fixture(params=["sqlite"])
def secured(tmp_path):
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'docqa.db'}",
        embedder="hash",
        api_key="s3cret-key",
        cors_origins=("https://ui.example.org",),
    )
    with running(fast(settings)) as c:
        yield c


def test_with_a_key_every_api_route_needs_one_and_writes_need_the_admin_key(secured):
    body = {"document_id": "d", "chunks": [{"index": 0, "content": TOPICS[0]}]}
    error = assert_error(secured.post("/api/v1/index/", json=body), 401, "unauthorized")
    assert "X-API-Key" in error["message"]
    assert_error(secured.post("/api/v1/index/", json=body, headers={"X-API-Key": "wrong"}), 401, "unauthorized")
    assert secured.post("/api/v1/index/", json=body, headers={"X-API-Key": "s3cret-key"}).status_code == 200
    assert secured.post("/api/v1/index/", json=body, headers={"Authorization": "Bearer s3cret-key"}).status_code == 200
    assert_error(secured.delete("/api/v1/index/d"), 401)
    assert_error(secured.post("/api/v1/index/rebuild-from-db"), 401)
    assert_error(secured.post("/api/v1/index/upload", files={"file": ("a.txt", b"hello")}), 401)
    assert secured.post("/api/v1/index/rebuild-from-db", headers={"X-API-Key": "s3cret-key"}).status_code == 200
    assert_error(secured.post("/api/v1/search/", json={"query": "espresso"}), 401, "unauthorized")
    assert_error(secured.get("/api/v1/search/stats"), 401, "unauthorized")
    assert_error(secured.get("/api/v1/index/status/d"), 401, "unauthorized")
    assert_error(secured.get("/api/v1/qa/ask", params={"question": "espresso?"}), 401, "unauthorized")
    admin = {"X-API-Key": "s3cret-key"}
    assert secured.post("/api/v1/search/", json={"query": "espresso"}, headers=admin).json()["total_results"] == 1
    assert secured.get("/api/v1/index/status/d", headers=admin).json()["status"] == "indexed"
    assert secured.get("/health").status_code == 200 and secured.get("/health/ready").status_code == 200
    assert secured.get("/metrics").status_code == 200
    assert secured.delete("/api/v1/index/d", headers={"Authorization": "Bearer s3cret-key"}).status_code == 200


def test_cors_allows_configured_origins_only(secured):
    preflight = secured.options(
        "/api/v1/search/",
        headers={
            "Origin": "https://ui.example.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://ui.example.org"
    other = secured.post("/api/v1/search/", json={"query": "x"}, headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_web_ui_is_served(secured):
    page = secured.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "/ui/app.js" in page.text and "http" not in page.text.split("<body>")[1].replace("https://", "")
    assert secured.get("/ui/app.js").headers["content-type"].startswith("text/javascript")
    assert secured.get("/ui/style.css").status_code == 200
    assert_error(secured.get("/ui/secrets.txt"), 404)


def test_a_bug_is_a_logged_json_500(tmp_path, caplog):
    """The catch-all exists for bugs only (schemathesis shows client input cannot reach it)."""
    from docqa.api import create_app

    settings = Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'docqa.db'}", embedder="hash")
    app = create_app(settings)

    def broken() -> None:
        raise RuntimeError("deliberate bug")

    app.add_api_route("/boom", broken)
    from fastapi.testclient import TestClient

    with TestClient(app, raise_server_exceptions=False, base_url="http://localhost") as client:
        error = assert_error(client.get("/boom"), 500, "internal_error")
    assert "deliberate bug" not in error["message"]
    assert any(r.exc_info and "deliberate bug" in str(r.exc_info[1]) for r in caplog.records)


def test_a_body_that_is_not_json_is_named_as_such(client):
    error = assert_error(
        client.post("/api/v1/search/", content=b"not json", headers={"Content-Type": "application/json"}),
        422,
        "invalid_json",
    )
    assert error["details"] == {"field": "body"} and "not valid JSON" in error["message"]
    for media in ("text/plain", "application/x-www-form-urlencoded"):
        error = assert_error(
            client.post("/api/v1/index/", content=b"query=x", headers={"Content-Type": media}),
            415,
            "unsupported_media_type",
        )
        assert media in error["message"] and "application/json" in error["message"]
    error = assert_error(client.post("/api/v1/search/", json=[1, 2]), 422, "validation_error")
    assert error["details"]["errors"][0]["field"] == "body"


def test_the_status_route_without_an_id_is_a_clear_error_not_a_bare_redirect(client):
    response = client.get("/api/v1/index/status/", follow_redirects=False)
    error = assert_error(response, 422, "invalid_input")
    assert "document id is required" in error["message"] and error["details"] == {"field": "document_id"}
