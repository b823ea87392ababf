"""Lifespan and operations: degraded start and recovery, outages, webhook, metrics."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest

from docqa.app import Docqa
from docqa.config import Settings
from docqa.embedders.hash import HashEmbedder
from tests.conftest import random_unit
from tests.helpers import TOPICS, RawSQL, make_chunks
from tests.test_api_support import Receiver, TcpProxy, assert_error, fast, index_doc, running, search, wait_for


class Outage:
    """A database the test can take away and give back: a TCP proxy (PostgreSQL) or a blocked path (SQLite)."""

    def __init__(self, kind: str, tmp_path: Path, pg_server) -> None:
        self.kind = kind
        if kind == "postgres":
            if pg_server is None:
                pytest.skip("PostgreSQL not reachable")
            url = pg_server.new_database()
            target = urlparse(url)
            self.proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
            self.url = self.proxy.rewrite(url)
        else:
            self.blocker = tmp_path / "db"
            self.url = f"sqlite:///{self.blocker / 'docqa.db'}"

    def down(self) -> None:
        if self.kind == "postgres":
            self.proxy.down()
        else:
            self.blocker.write_text("not a directory: the database cannot be created here")

    def up(self) -> None:
        if self.kind == "postgres":
            self.proxy.up()
        else:
            self.blocker.unlink()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_start_with_database_down_is_degraded_then_recovers(kind, tmp_path, pg_server):
    outage = Outage(kind, tmp_path, pg_server)
    outage.down()
    receiver = Receiver()
    settings = fast(
        Settings(
            data_dir=tmp_path / "data",
            database_url=outage.url,
            embedder="hash",
            webhook_url=receiver.url,
            webhook_timeout_s=2.0,
        )
    )
    try:
        with running(settings) as client:
            health = client.get("/health")
            assert health.status_code == 200
            body = health.json()
            assert body["status"] == "degraded" and "cannot connect" in body["reason"], body
            assert client.get("/health/ready").status_code == 503
            error = assert_error(client.post("/api/v1/search/", json={"query": "espresso"}), 503, "service_degraded")
            assert body["reason"] in error["message"]
            assert_error(client.get("/api/v1/qa/ask", params={"question": "espresso?"}), 503, "service_degraded")
            assert_error(client.post("/api/v1/index/", json={"chunks": [{"index": 0, "content": "x"}]}), 503)
            assert_error(client.get("/api/v1/search/stats"), 503)
            assert "docqa_healthy 0.0" in client.get("/metrics").text
            wait_for(lambda: receiver.kinds() == ["sync_failed"], timeout_s=3.0)
            assert "cannot connect" in receiver.events[0]["reason"]

            time.sleep(0.5)  # several retries: still one webhook event for the same reason
            assert receiver.kinds() == ["sync_failed"]
            assert client.get("/health").json()["worker"]["retries"] >= 2

            outage.up()
            wait_for(lambda: client.get("/health").json()["status"] == "healthy", timeout_s=5.0)
            index_doc(client, "after", TOPICS[:2])
            assert search(client, TOPICS[1], limit=1)["results"][0]["document_id"] == "after"
            wait_for(lambda: client.get("/health/ready").status_code == 200, timeout_s=2.0)
            assert client.get("/health").json()["embedder"] == {"model": "hash-384", "ready": True, "error": ""}
    finally:
        receiver.close()
        if kind == "postgres":
            outage.proxy.down()


def test_postgres_outage_while_running_degrades_then_recovers(tmp_path, pg_server):
    outage = Outage("postgres", tmp_path, pg_server)
    outage.up()
    settings = fast(Settings(data_dir=tmp_path / "data", database_url=outage.url, embedder="hash"))
    try:
        with running(settings) as client:
            index_doc(client, "doc", TOPICS[:3])
            outage.down()
            wait_for(lambda: client.get("/health").json()["status"] == "degraded", timeout_s=5.0)
            assert_error(client.post("/api/v1/search/", json={"query": TOPICS[0]}), 503)
            outage.up()
            wait_for(lambda: client.get("/health").json()["status"] == "healthy", timeout_s=5.0)
            assert search(client, TOPICS[0], limit=1)["results"][0]["content"] == TOPICS[0]
            assert client.get("/api/v1/search/stats").json()["total_vectors"] == 3
    finally:
        outage.proxy.down()


def test_server_side_disconnects_are_a_503_never_a_500(pg_url, tmp_path):
    """pg_terminate_backend (what a server restart does to every client) raises psycopg's AdminShutdown,
    a subclass of OperationalError: it must read as "database unavailable" on every route."""
    import psycopg

    settings = fast(Settings(data_dir=tmp_path / "data", database_url=pg_url, embedder="hash"))
    with running(settings) as client:
        index_doc(client, "doc", TOPICS[:3])
        calls = [
            lambda: client.get("/api/v1/search/suggest", params={"q": "espr"}),
            lambda: client.post("/api/v1/search/", json={"query": TOPICS[0], "mode": "keyword"}),
            lambda: client.post("/api/v1/search/hybrid", json={"query": TOPICS[0]}),
            lambda: client.get("/api/v1/index/status/doc"),
            lambda: client.get("/api/v1/search/stats"),
        ]
        for call in calls:
            call()  # a pooled connection now exists for the route
            with psycopg.connect(pg_url, autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            response = call()
            assert response.status_code in (200, 503), response.text
            if response.status_code == 503:
                assert_error(response, 503)
            assert call().status_code == 200  # the next request reconnects


def test_startup_sync_over_its_budget_serves_degraded_until_done(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'docqa.db'}", embedder="hash")
    raw = RawSQL(settings.resolved_database_url)
    Docqa.open(settings).close()  # create the schema
    doc = raw.insert_document()
    vectors = random_unit(5000, seed=1)
    raw.execute("BEGIN")
    raw.conn.executemany(
        "INSERT INTO chunks (document_id, collection, ordinal, text, embedding, model, dim) "
        "VALUES (?, 'default', ?, ?, ?, 'hash-384', 384)",
        [(doc, i, f"row {i}", vectors[i].tobytes()) for i in range(5000)],
    )
    raw.execute("COMMIT")
    raw.close()
    with running(fast(settings, startup_sync_timeout_s=0.001)) as client:
        body = client.get("/health").json()
        if body["status"] == "degraded":  # the normal case: 5000 rows take longer than 1 ms
            assert body["reason"] == "startup index sync still running"
            assert_error(client.post("/api/v1/search/", json={"query": "row"}), 503, "service_degraded")
        wait_for(lambda: client.get("/health").json()["status"] == "healthy", timeout_s=10.0)
        assert client.get("/api/v1/search/stats").json()["total_vectors"] == 5000


def test_drift_found_by_periodic_verification_is_repaired_and_announced(settings):
    receiver = Receiver()
    try:
        with running(fast(settings, verify_interval_s=0.3, webhook_url=receiver.url)) as client:
            index_doc(client, "doc", TOPICS[:5])
            hit = search(client, TOPICS[3], limit=1)["results"][0]
            raw = RawSQL(settings.database_url)
            try:
                raw.update_embedding_silently(hit["chunk_id"], HashEmbedder().embed(["something else entirely"])[0])
            finally:
                raw.close()
            wait_for(lambda: "drift_repaired" in receiver.kinds(), timeout_s=5.0)
            event = receiver.events[receiver.kinds().index("drift_repaired")]
            assert event["report"]["repaired"] == 1 and event["status"] == "repaired"
            assert "docqa_drift_repaired_ids_total 1.0" in client.get("/metrics").text
            moved = search(client, "something else entirely", limit=1)["results"][0]
            assert moved["chunk_id"] == hit["chunk_id"]
    finally:
        receiver.close()


def test_slow_webhook_never_delays_sync(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'docqa.db'}", embedder="hash")
    store = Docqa.open(settings)
    store.sync()
    store.add_document(make_chunks(TOPICS), document_id="doc")
    store.close()
    shutil.rmtree(settings.index_dir)  # the startup sync will rebuild: an `index_rebuilt` event
    receiver = Receiver(delay_s=3.0)
    try:
        start = time.monotonic()
        with running(fast(settings, webhook_url=receiver.url, webhook_timeout_s=0.3)) as client:
            assert time.monotonic() - start < 2.0
            assert client.get("/health").json()["last_sync"]["status"] == "rebuilt"
            webhook = client.app.state.runtime.webhook
            wait_for(lambda: webhook.failed == 1, timeout_s=3.0)
            assert search(client, TOPICS[0], limit=1)["results"]
    finally:
        receiver.close()


def test_metrics_count_syncs_searches_and_requests(settings):
    with running(fast(settings)) as client:
        index_doc(client, "doc", TOPICS[:9])
        search(client, TOPICS[0])
        client.get("/api/v1/index/status/unknown-doc")
        text = client.get("/metrics").text
    for needle in [
        "docqa_index_vectors 9.0",
        "docqa_db_rows 9.0",
        "docqa_change_log_lag 0.0",
        "docqa_healthy 1.0",
        'docqa_sync_runs_total{status="rebuilt"} 1.0',
        'docqa_sync_runs_total{status="caught_up"}',
        'docqa_sync_duration_seconds_bucket{le="+Inf",status="rebuilt"} 1.0',
        "docqa_drift_repaired_ids_total 0.0",
        'docqa_search_latency_seconds_count{mode="vector"} 1.0',
        'docqa_http_requests_total{method="POST",route="/api/v1/search/",status="200"} 1.0',
        'docqa_http_requests_total{method="GET",route="/api/v1/index/status/{document_id}",status="404"} 1.0',
    ]:
        assert needle in text, needle


def test_shutdown_saves_the_snapshot_so_a_restart_loads_it(settings):
    with running(fast(settings)) as client:
        index_doc(client, "doc", TOPICS[:4])
    with running(fast(settings)) as client:
        last = client.get("/health").json()["last_sync"]
        assert last["status"] == "in_sync" and last["index_count"] == 4
        assert np.isclose(search(client, TOPICS[2], limit=1)["results"][0]["score"], 1.0, atol=1e-5)


def test_a_collection_built_with_another_embedder_is_reported_not_crashed(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'docqa.db'}", embedder="hash")
    store = Docqa.open(settings, embedder=HashEmbedder(dim=8))
    store.add_document(make_chunks(TOPICS[:2]), document_id="doc")
    store.close()
    with running(fast(settings)) as client:
        body = client.get("/health").json()
        assert body["status"] == "degraded" and "hash-8" in body["reason"], body
        assert_error(client.post("/api/v1/search/", json={"query": "x"}), 503, "service_degraded")
