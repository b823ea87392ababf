"""The HTTP warm-up: one search through the real route before ready, with keys and host names enforced, and
kept out of /metrics (a request that only claims to be the warm-up is counted like any other)."""

from __future__ import annotations

import re
import threading

from docqa.api import routes_search, warmup
from docqa.config import Settings
from tests.test_api_support import fast, running, wait_for

KEYS = {"x-api-key": "admin-key"}


def _search_requests(client) -> float:
    text = client.get("/metrics", headers=KEYS).text
    found = re.search(r'docqa_http_requests_total\{method="POST",route="/api/v1/search/",status="200"\} (\S+)', text)
    return float(found.group(1)) if found else 0.0


def _settings(tmp_path) -> Settings:
    return fast(
        Settings(
            data_dir=tmp_path / "data",
            embedder="hash",
            api_key="admin-key",
            read_api_key="read-key",
            allowed_hosts=("docs.example.com", "testserver"),
        )
    )


def test_warm_up_goes_through_the_search_route_and_is_not_counted(tmp_path, monkeypatch):
    seen: list[str] = []
    threads: list[str] = []
    original = routes_search._run

    async def recording_run(runtime, metrics, body, mode, **kw):
        response = await original(runtime, metrics, body, mode, **kw)
        seen.append(body.query)
        threads.append(threading.current_thread().name)
        return response

    monkeypatch.setattr(routes_search, "_run", recording_run)
    with running(_settings(tmp_path)) as client:
        wait_for(lambda: client.get("/health/ready").status_code == 200)
        assert seen == [warmup.WARM_QUERY]  # through the route, with the key and a served Host, before ready
        assert threads[0] != "docqa-embedder-warm-up"  # on the server's event loop, not a loop of its own
        assert _search_requests(client) == 0
        assert "docqa_search_latency_seconds_count" not in client.get("/metrics", headers=KEYS).text
        response = client.post("/api/v1/search/", json={"query": "anything", "mode": "hybrid"}, headers=KEYS)
        assert response.status_code == 200, response.text
        assert _search_requests(client) == 1


def test_a_request_claiming_to_be_the_warm_up_is_counted(tmp_path):
    with running(_settings(tmp_path)) as client:
        wait_for(lambda: client.get("/health/ready").status_code == 200)
        headers = {**KEYS, warmup.HEADER: "a guess"}
        response = client.post("/api/v1/search/", json={"query": "anything"}, headers=headers)
        assert response.status_code == 200, response.text
        assert _search_requests(client) == 1
        assert not warmup.is_warmup([(warmup.HEADER.encode(), b"a guess")])
        assert warmup.is_warmup([(warmup.HEADER.encode(), warmup.TOKEN.encode())])


def test_with_a_library_passed_in_the_warm_up_waits_for_the_service_to_start(tmp_path, monkeypatch):
    """An embedding host's already-open library: the model may load at once, the warm-up request waits for
    the app's start (its event loop, its startup sync) instead of running inside create_app."""
    from docqa.app import Docqa
    from docqa.embedders.hash import HashEmbedder

    settings = _settings(tmp_path)
    library = Docqa.open(settings, embedder=HashEmbedder())
    seen: list[str] = []
    original = routes_search._run

    async def recording_run(runtime, metrics, body, mode, **kw):
        seen.append(threading.current_thread().name)
        return await original(runtime, metrics, body, mode, **kw)

    monkeypatch.setattr(routes_search, "_run", recording_run)
    from docqa.api.factory import create_app

    app = create_app(settings, library)
    assert not app.state.runtime.embedder_ready and seen == []  # nothing warmed before the app starts
    app.state.runtime.stop()  # never started: its warm-up ends too
    with running(settings, library) as client:
        wait_for(lambda: client.get("/health/ready").status_code == 200)
        assert seen and "docqa-embedder-warm-up" not in seen
    library.close()
