"""Who may call what: read and admin keys, Host and Origin checks, and a schema that says what is enforced."""

from __future__ import annotations

import logging

import pytest

from docqa.config import Settings
from tests.helpers import TOPICS
from tests.test_api_support import assert_error, fast, running

ADMIN, READER = "admin-key-123", "read-key-456"
BODY = {"document_id": "d", "chunks": [{"index": 0, "content": TOPICS[0]}]}


def base(tmp_path, **changes) -> Settings:
    return fast(
        Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'docqa.db'}", embedder="hash"),
        **changes,
    )


@pytest.fixture
def two_keys(tmp_path):
    with running(base(tmp_path, api_key=ADMIN, read_api_key=READER)) as client:
        assert client.post("/api/v1/index/", json=BODY, headers={"X-API-Key": ADMIN}).status_code == 200
        yield client


def test_the_read_key_reads_and_only_the_admin_key_writes(two_keys):
    reader = {"X-API-Key": READER}
    assert two_keys.post("/api/v1/search/", json={"query": "espresso"}, headers=reader).json()["total_results"] == 1
    assert two_keys.get("/api/v1/qa/ask", params={"question": "descaling?"}, headers=reader).status_code == 200
    assert two_keys.get("/api/v1/search/stats", headers={"Authorization": f"Bearer {READER}"}).status_code == 200
    for call in (
        lambda h: two_keys.post("/api/v1/index/", json=BODY, headers=h),
        lambda h: two_keys.delete("/api/v1/index/d", headers=h),
        lambda h: two_keys.post("/api/v1/index/rebuild-from-db", headers=h),
        lambda h: two_keys.post("/api/v1/index/upload", files={"file": ("a.txt", b"hello")}, headers=h),
    ):
        error = assert_error(call(reader), 403, "forbidden")
        assert "admin key" in error["message"]
        assert_error(call({}), 401, "unauthorized")
    assert_error(two_keys.post("/api/v1/search/", json={"query": "x"}, headers={"X-API-Key": "guess"}), 401)
    assert two_keys.get("/api/v1/index/status/d", headers=reader).json()["status"] == "indexed"  # nothing changed


def test_a_host_not_served_is_refused(tmp_path):
    """DNS rebinding: a browser sends the attacker's name as Host; only the served names are answered."""
    with running(base(tmp_path)) as client:
        error = assert_error(client.get("/api/v1/search/stats", headers={"Host": "evil.example"}), 403, "forbidden")
        assert "evil.example" in error["message"] and "DOCQA_ALLOWED_HOSTS" in error["message"]
        assert_error(client.get("/health", headers={"Host": "evil.example:8003"}), 403)
        assert client.get("/health", headers={"Host": "localhost:8003"}).status_code == 200
        assert client.get("/health", headers={"Host": "127.0.0.1:8003"}).status_code == 200
    with running(base(tmp_path, allowed_hosts=("search.internal",))) as client:
        assert client.get("/health", headers={"Host": "search.internal"}).status_code == 200
        assert_error(client.get("/health", headers={"Host": "localhost"}), 403)  # the configured names, only


def test_beyond_loopback_any_host_is_served_but_not_cross_site_writes(tmp_path):
    with running(base(tmp_path, host="0.0.0.0")) as client:
        assert client.get("/health", headers={"Host": "docs.example.org"}).status_code == 200
        cross = client.post(
            "/api/v1/index/", json=BODY, headers={"Host": "docs.example.org", "Origin": "https://evil.example"}
        )
        assert_error(cross, 403, "forbidden")
        same = client.post(
            "/api/v1/index/", json=BODY, headers={"Host": "docs.example.org", "Origin": "https://docs.example.org"}
        )
        assert same.status_code == 200


def test_cross_site_writes_are_refused_reads_are_left_to_cors(tmp_path):
    with running(base(tmp_path, cors_origins=("https://ui.example.org",))) as client:
        error = assert_error(client.post("/api/v1/index/", json=BODY, headers={"Origin": "https://evil.example"}), 403)
        assert "evil.example" in error["message"]
        assert client.get("/api/v1/index/status/d").status_code == 404  # the refused write stored nothing
        assert client.post("/api/v1/index/", json=BODY, headers={"Origin": "https://ui.example.org"}).status_code == 200
        # the page posting to the service that served it: same host and port as the Host header
        own = {"Origin": "http://testserver", "Host": "testserver"}
        assert client.post("/api/v1/index/", json=BODY, headers=own).status_code == 200
        other_port = {"Origin": "http://localhost:3000", "Host": "localhost:8003"}  # another local site
        assert_error(client.post("/api/v1/index/", json=BODY, headers=other_port), 403)
        assert (
            client.post("/api/v1/search/", json={"query": "x"}, headers={"Origin": "https://evil.example"}).status_code
            == 200
        )


def test_the_schema_declares_security_only_when_it_is_enforced(tmp_path):
    with running(base(tmp_path)) as client:
        schema = client.get("/openapi.json").json()
        assert "securitySchemes" not in schema.get("components", {})
        assert all("security" not in op for path in schema["paths"].values() for op in path.values())
    with running(base(tmp_path, api_key=ADMIN)) as client:
        schema = client.get("/openapi.json").json()
        assert set(schema["components"]["securitySchemes"]) == {"APIKeyHeader", "HTTPBearer"}
        assert "security" in schema["paths"]["/api/v1/search/"]["post"]
        assert "security" in schema["paths"]["/api/v1/index/upload"]["post"]
        assert "security" not in schema["paths"]["/health"]["get"]


def test_binding_beyond_loopback_without_a_key_is_a_loud_warning(tmp_path, caplog):
    from docqa.api import create_app

    with caplog.at_level(logging.WARNING, logger="docqa"):
        create_app(base(tmp_path, host="0.0.0.0"))
    assert any("without an API key" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="docqa"):
        create_app(base(tmp_path, host="0.0.0.0", api_key=ADMIN))
        create_app(base(tmp_path))
    assert not any("without an API key" in r.getMessage() for r in caplog.records)
