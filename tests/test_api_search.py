"""Search, stats, QA and metrics through the real app, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from docqa.config import Settings
from tests.conftest import database_for
from tests.helpers import TOPICS
from tests.test_api_support import assert_error, fast, index_doc, running, search

DOCS = {
    "lab-a": ({"patient_id": "p1", "document_type": "lab", "date": "2024-01-10"}, TOPICS[0:3]),
    "note-b": ({"patient_id": "p2", "document_type": "note", "date": "2024-03-05"}, TOPICS[3:6]),
    "note-c": ({"patient_id": "p1", "document_type": "note", "date": "2024-06-01"}, TOPICS[6:9]),
}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def client(request, tmp_path_factory, pg_server):
    """One app per database for the whole module: these tests only read."""
    data_dir = tmp_path_factory.mktemp("api-search")
    url = database_for(request.param, data_dir, pg_server)
    settings = Settings(data_dir=data_dir, database_url=url, embedder="hash", snapshot_interval_s=0.0)
    with running(fast(settings)) as c:
        for doc_id, (meta, texts) in DOCS.items():
            index_doc(c, doc_id, texts, metadata=meta, filename=f"{doc_id}.txt")
        yield c


def docs_of(body: dict) -> set[str]:
    return {r["document_id"] for r in body["results"]}


@pytest.mark.parametrize(
    "filters, expected",
    [
        ({"patient_id": "p1"}, {"lab-a", "note-c"}),
        ({"document_type": "note"}, {"note-b", "note-c"}),
        ({"document_type": ["lab", "note"]}, {"lab-a", "note-b", "note-c"}),
        ({"date_from": "2024-02-01"}, {"note-b", "note-c"}),
        ({"date_to": "2024-02-01T00:00:00Z"}, {"lab-a"}),
        ({"date_from": "2024-02-01", "date_to": "2024-04-01"}, {"note-b"}),
        ({"document_id": "note-b"}, {"note-b"}),
        ({"document_ids": ["lab-a", "note-c"]}, {"lab-a", "note-c"}),
        ({"patient_id": "p1", "document_type": "note"}, {"note-c"}),
        ({"patient_id": "nobody"}, set()),
    ],
)
def test_filters(client, filters, expected):
    body = search(client, "policy checklist machine", limit=20, filters=filters)
    assert docs_of(body) == expected
    assert body["filters_applied"] == filters
    assert body["total_results"] == len(body["results"])


def test_limit_threshold_and_shape(client):
    body = search(client, TOPICS[4], limit=3)
    assert len(body["results"]) == 3 and body["query"] == TOPICS[4] and body["mode"] == "vector"
    first = body["results"][0]
    assert first["content"] == TOPICS[4] and first["file_type"] == "text/plain" and first["filename"] == "note-b.txt"
    assert set(first) >= {
        "chunk_id",
        "document_id",
        "score",
        "content",
        "filename",
        "file_type",
        "chunk_index",
        "metadata",
    }
    scores = [r["score"] for r in body["results"]]
    assert scores == sorted(scores, reverse=True)
    strict = search(client, TOPICS[4], limit=10, threshold=0.99)["results"]
    assert [r["content"] for r in strict] == [TOPICS[4]]
    assert body["execution_time_ms"] > 0 and body["filters_applied"] == {}


@pytest.mark.parametrize("mode", ["keyword", "hybrid"])
def test_other_modes(client, mode):
    body = search(client, "espresso descaling", mode=mode, limit=5)
    assert body["mode"] == mode
    assert body["results"] and body["results"][0]["content"] == TOPICS[0]


def test_metadata_filter_on_any_key(client):
    body = search(client, "policy checklist machine", limit=20, filters={"metadata": {"date": "2024-03-05"}})
    assert docs_of(body) == {"note-b"}
    body = search(
        client,
        "policy checklist machine",
        limit=20,
        filters={"metadata": {"patient_id": ["p2", "p9"], "document_type": "note"}},
    )
    assert docs_of(body) == {"note-b"}
    bad = client.post("/api/v1/search/", json={"query": "x", "filters": {"metadata": {"bad key!": "v"}}})
    assert_error(bad, 422, "validation_error")


def test_hybrid_route_fuses_and_takes_weights(client):
    body = client.post("/api/v1/search/hybrid", json={"query": "espresso descaling", "limit": 5}).json()
    assert body["mode"] == "hybrid" and body["results"][0]["content"] == TOPICS[0]
    assert body["results"][0]["score"] <= 1.0 and body["total_results"] == len(body["results"])
    same = search(client, "espresso descaling", mode="hybrid", limit=5)
    assert [r["chunk_id"] for r in same["results"]] == [r["chunk_id"] for r in body["results"]]
    # all the weight on one side: the fused order is that side's order (over the two hits that side
    # ranks with distinct scores; the hash embedder ties the rest at 0, and FAISS orders ties by k)
    for side, weights in (
        ("vector", {"vector_weight": 1, "keyword_weight": 0}),
        ("keyword", {"vector_weight": 0, "keyword_weight": 1}),
    ):
        fused = client.post(
            "/api/v1/search/hybrid", json={"query": "machine policy audit", "limit": 3, **weights}
        ).json()
        alone = search(client, "machine policy audit", mode=side, limit=3)
        assert [r["chunk_id"] for r in fused["results"]][:2] == [r["chunk_id"] for r in alone["results"]][:2]
    # the weights reach the fusion: a hit only the vector side found scores twice as high with the keyword weight at 0
    even = client.post("/api/v1/search/hybrid", json={"query": "machine policy audit", "limit": 3}).json()["results"]
    vector_only = client.post(
        "/api/v1/search/hybrid", json={"query": "machine policy audit", "limit": 3, "keyword_weight": 0}
    ).json()["results"]
    assert vector_only[2]["score"] == pytest.approx(2 * even[2]["score"], rel=1e-3)
    filtered = client.post(
        "/api/v1/search/hybrid", json={"query": "policy", "limit": 20, "filters": {"document_type": "lab"}}
    ).json()
    assert docs_of(filtered) == {"lab-a"} and filtered["filters_applied"] == {"document_type": "lab"}
    assert_error(
        client.post("/api/v1/search/hybrid", json={"query": "x", "vector_weight": 0, "keyword_weight": 0}), 422
    )
    assert_error(
        client.post("/api/v1/search/hybrid", json={"query": "x", "vector_weight": -1}), 422, "validation_error"
    )
    assert_error(client.post("/api/v1/search/hybrid", json={"query": ""}), 422, "validation_error")


def test_suggest_route_completes_from_the_corpus(client):
    body = client.get("/api/v1/search/suggest", params={"q": "espr"}).json()
    assert body["q"] == "espr" and body["suggestions"]
    assert all(s.casefold().startswith("espr") for s in body["suggestions"])
    assert client.get("/api/v1/search/suggest", params={"q": "zzzz"}).json()["suggestions"] == []
    assert client.get("/api/v1/search/suggest").json() == {"q": "", "suggestions": []}
    assert len(client.get("/api/v1/search/suggest", params={"q": "e", "limit": 1}).json()["suggestions"]) <= 1
    assert_error(client.get("/api/v1/search/suggest", params={"q": "e", "limit": 0}), 422, "validation_error")
    assert_error(client.get("/api/v1/search/suggest", params={"q": "a\x00b"}), 422)


def test_stats_reports_counts_model_and_sync_state(client):
    stats = client.get("/api/v1/search/stats").json()
    assert stats["total_vectors"] == 9 and stats["total_chunks"] == 9 and stats["total_documents"] == 3
    assert stats["embedding_model"] == "hash-384" and stats["dim"] == 384 and stats["index_type"] == "flat"
    assert stats["lag"] == 0 and stats["applied_seq"] == stats["db_seq"] > 0
    assert stats["status"] == "healthy" and stats["last_sync"]["status"] in ("caught_up", "in_sync")


def test_ask_answers_with_cited_sources(client):
    body = client.get(
        "/api/v1/qa/ask", params={"question": "how often does the espresso machine need descaling?"}
    ).json()
    assert body["found"] is True and body["sources"]
    source = body["sources"][0]
    assert source["document_id"] == "lab-a" and source["filename"] == "lab-a.txt"
    assert source["text"] and source["char_end"] > source["char_start"]
    restricted = client.get(
        "/api/v1/qa/ask", params={"question": "espresso descaling", "context_documents": "note-b,note-c"}
    ).json()
    assert {s["document_id"] for s in restricted["sources"]} <= {"note-b", "note-c"}
    repeated = client.get("/api/v1/qa/ask?question=espresso&context_documents=note-b&context_documents=lab-a")
    assert repeated.status_code == 200
    assert_error(client.get("/api/v1/qa/ask", params={"question": "x", "context_documents": "bad id!"}), 422)
    assert_error(client.get("/api/v1/qa/ask", params={"question": "   "}), 422)
    assert_error(client.get("/api/v1/qa/ask"), 422, "validation_error")


@pytest.mark.parametrize("mode", ["vector", "keyword", "hybrid"])
@pytest.mark.parametrize(
    "query",
    [
        "!!!",
        "a & b | !c",
        "'",
        '"unbalanced',
        "*",
        "NEAR(x",
        "AND OR NOT",
        "-",
        ":*",
        "ünïcödé 漢字",
        "x" * 5000,
        "%_\\",
        "(((",
        "col:val",
    ],
)
def test_odd_queries_are_answered(client, mode, query):
    """Text that is syntax in FTS5 or tsquery is only ever words: answered, never an error or a 500."""
    response = client.post("/api/v1/search/", json={"query": query, "mode": mode, "limit": 5})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["query"], body["mode"]) == (query, mode)
    results = body["results"]
    assert len(results) == body["total_results"] <= 5
    if mode == "vector":
        assert len(results) == 5  # the corpus holds more than five chunks: a vector search always fills k
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    assert len({r["chunk_id"] for r in results}) == len(results) and all(r["content"] for r in results)


@pytest.mark.parametrize(
    "path, body",
    [
        ("/api/v1/search/", {"query": "x", "limit": True}),
        ("/api/v1/search/", {"query": "x", "threshold": False}),
        ("/api/v1/search/", {"query": "x", "min_seq": True}),
        ("/api/v1/search/", {"query": "x", "limit": "10"}),
        ("/api/v1/search/hybrid", {"query": "x", "rrf_k": False}),
        ("/api/v1/search/hybrid", {"query": "x", "vector_weight": True}),
    ],
)
def test_booleans_and_strings_are_not_numbers(client, path, body):
    """Found by schemathesis: pydantic's lax mode read a JSON true as the integer 1."""
    assert_error(client.post(path, json=body), 422, "validation_error")


def test_integral_floats_are_integers_as_json_schema_says(client):
    """Clients whose JSON encoder writes 10.0 for 10 (the original service accepted them) keep working."""
    body = client.post("/api/v1/search/", json={"query": TOPICS[4], "limit": 2.0, "min_seq": 0.0}).json()
    assert len(body["results"]) == 2
    assert client.post("/api/v1/search/hybrid", json={"query": "x", "rrf_k": 60.0}).status_code == 200
    assert_error(client.post("/api/v1/search/", json={"query": "x", "limit": 2.5}), 422, "validation_error")


@pytest.mark.parametrize("metadata", [{"patient_id": []}, {"patient_id": ["p"] * 1001}])
def test_metadata_filter_lists_are_bounded(client, metadata):
    for path in ("/api/v1/search/", "/api/v1/search/hybrid"):
        assert_error(client.post(path, json={"query": "x", "filters": {"metadata": metadata}}), 422, "validation_error")
