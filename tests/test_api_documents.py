"""`GET /api/v1/documents` and a cited passage's context, through the real app on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from docqa.app import Docqa
from docqa.embedders.hash import HashEmbedder
from tests.helpers import make_chunks
from tests.test_api_support import assert_error, fast, index_doc, running

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLES = Path(__file__).parent.parent / "samples"
PARTS = [
    "The fridge keeps food at four degrees.",
    "Defrost it twice a year.",
    "Preheat the oven before baking bread.",
    "Clean the oven racks monthly.",
    "Check the tyre pressure every month.",
]


def upload(client, name: str, data: bytes):
    return client.post("/api/v1/index/upload", files={"file": (name, data, "application/octet-stream")})


def test_listing_pages_counts_filters_and_orders(settings):
    with running(fast(settings)) as client:
        for i in range(5):
            index_doc(client, f"doc-{i}", [f"text number {i}"], filename=f"d{i}.txt", metadata={"n": i})
        broken = upload(client, "scan.pdf", (FIXTURES / "truncated.pdf").read_bytes())
        assert broken.status_code == 422, broken.text

        first = client.get("/api/v1/documents", params={"limit": 2}).json()
        assert first["total"] == 6 and first["limit"] == 2 and first["offset"] == 0 and first["next_offset"] == 2
        assert [d["document_id"] for d in first["documents"]] == ["doc-0", "doc-1"]
        doc = first["documents"][0]
        assert (doc["filename"], doc["status"], doc["chunks_total"], doc["metadata"]) == (
            "d0.txt",
            "indexed",
            1,
            {"n": 0},
        )
        assert doc["error"] is None and doc["created_at"] and doc["content_type"] == "text/plain"

        pages, offset = [], 0
        while offset is not None:
            page = client.get("/api/v1/documents", params={"limit": 2, "offset": offset}).json()
            pages.append([d["document_id"] for d in page["documents"]])
            offset = page["next_offset"]
        assert len(pages) == 3 and sum(len(p) for p in pages) == 6 and len({i for p in pages for i in p}) == 6

        newest = client.get("/api/v1/documents", params={"order": "newest", "limit": 1}).json()["documents"]
        assert newest[0]["filename"] == "scan.pdf" and newest[0]["status"] == "failed"

        failed = client.get("/api/v1/documents", params={"status": "failed"}).json()
        assert failed["total"] == 1 and failed["status"] == "failed" and failed["next_offset"] is None
        assert failed["documents"][0]["error"] and failed["documents"][0]["chunks_total"] == 0
        assert client.get("/api/v1/documents", params={"status": "indexed", "limit": 0}).json() == {
            "documents": [],
            "total": 5,
            "limit": 0,
            "offset": 0,
            "status": "indexed",
            "order": "oldest",
            "next_offset": None,
        }
        assert client.get("/api/v1/documents", params={"offset": 100}).json()["documents"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=-1", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("offset=-5", "offset"),
        ("offset=99999999999999999999", "offset"),
        ("status=done", "status"),
        ("order=sideways", "order"),
    ],
)
def test_listing_refuses_bad_parameters_by_name(settings, query, field):
    with running(fast(settings)) as client:
        error = assert_error(client.get(f"/api/v1/documents?{query}"), 422, "validation_error")
        assert [e["field"] for e in error["details"]["errors"]] == [field] and field in error["message"]


def test_context_of_a_chunk_with_its_neighbours(settings):
    with running(fast(settings)) as client:
        index_doc(client, "home", PARTS, filename="home.txt")
        index_doc(client, "other", ["another document entirely"])
        chunks = {h["chunk_index"]: h["chunk_id"] for h in _hits(client, "home")}
        ctx = client.get(f"/api/v1/documents/home/chunks/{chunks[2]}/context").json()
        assert ctx["text"] == " ".join(PARTS[1:4]) and ctx["contiguous"] is True
        assert ctx["text"][ctx["highlight_start"] : ctx["highlight_end"]] == PARTS[2]
        assert [c["ordinal"] for c in ctx["chunks"]] == [1, 2, 3] and ctx["more_before"] and ctx["more_after"]
        assert all(ctx["text"][c["start"] : c["end"]] == PARTS[c["ordinal"]] for c in ctx["chunks"])
        assert (ctx["document_id"], ctx["filename"], ctx["chunk_id"]) == ("home", "home.txt", chunks[2])

        start = len(" ".join(PARTS[:2])) + 1 + len("Preheat the ")  # "oven" in the document's characters
        span = client.get(
            f"/api/v1/documents/home/chunks/{chunks[2]}/context", params={"start": start, "end": start + 4}
        ).json()
        assert span["text"][span["highlight_start"] : span["highlight_end"]] == "oven"

        edge = client.get(f"/api/v1/documents/home/chunks/{chunks[0]}/context?before=3&after=0").json()
        assert edge["text"] == PARTS[0] and not edge["more_before"] and edge["more_after"]
        whole = client.get(f"/api/v1/documents/home/chunks/{chunks[4]}/context?before=10&after=10").json()
        assert whole["text"] == " ".join(PARTS) and not whole["more_before"] and not whole["more_after"]


def test_an_answer_source_resolves_to_its_highlighted_passage(settings):
    """Uploaded markdown: chunks overlap, sections leave blank lines; the stitched text shows each chunk once."""
    data = (SAMPLES / "clinic-patient-intake.md").read_bytes()
    with running(fast(settings, qa_min_score=0.1, chunk_max_tokens=64, chunk_overlap_tokens=16)) as client:
        doc_id = upload(client, "intake.md", data).json()["document_id"]
        answer = client.get("/api/v1/qa/ask", params={"question": "What should patients bring to the first visit?"})
        source = answer.json()["sources"][0]
        ctx = client.get(
            f"/api/v1/documents/{doc_id}/chunks/{source['chunk_id']}/context",
            params={"before": 2, "after": 2, "start": source["char_start"], "end": source["char_end"]},
        ).json()
        assert ctx["text"][ctx["highlight_start"] : ctx["highlight_end"]] == source["text"]
        assert ctx["contiguous"] and len(ctx["chunks"]) >= 3
        stored = {c["chunk_id"]: c for c in _hits(client, doc_id, limit=100)}
        for placed in ctx["chunks"]:  # every chunk's own text, at its place in the stitched text
            assert ctx["text"][placed["start"] : placed["end"]] == stored[placed["chunk_id"]]["content"]
        assert len(ctx["text"]) < sum(placed["end"] - placed["start"] for placed in ctx["chunks"])  # overlaps once


@pytest.mark.parametrize(
    ("path", "status", "field"),
    [
        ("/api/v1/documents/nope/chunks/1/context", 404, None),
        ("/api/v1/documents/bad%20id/chunks/1/context", 422, "document_id"),
        ("/api/v1/documents/home/chunks/99999999999999999999/context", 422, "chunk_id"),
        ("/api/v1/documents/home/chunks/-1/context", 422, "chunk_id"),
        ("/api/v1/documents/home/chunks/abc/context", 422, "chunk_id"),
        ("/api/v1/documents/home/chunks/{first}/context?before=11", 422, "before"),
        ("/api/v1/documents/home/chunks/{first}/context?after=-1", 422, "after"),
        ("/api/v1/documents/home/chunks/{first}/context?start=3", 422, "start"),
        ("/api/v1/documents/home/chunks/{first}/context?start=9&end=3", 422, "start"),
        ("/api/v1/documents/home/chunks/{first}/context?start=500&end=600", 422, "start"),
        ("/api/v1/documents/home/chunks/{other}/context", 404, None),  # a chunk of another document
        ("/api/v1/documents/home/chunks/987654321/context", 404, None),
    ],
)
def test_context_refuses_unknown_ids_and_bad_spans(settings, path, status, field):
    with running(fast(settings)) as client:
        index_doc(client, "home", PARTS)
        index_doc(client, "other", ["another document entirely"])
        first = min(h["chunk_id"] for h in _hits(client, "home"))
        other = _hits(client, "other")[0]["chunk_id"]
        error = assert_error(client.get(path.format(first=first, other=other)), status)
        if field is not None:
            assert error["details"].get("field") == field or field in {e["field"] for e in error["details"]["errors"]}


def test_documents_of_another_collection_are_neither_listed_nor_shown(settings):
    other = Docqa.open(settings.replace(collection="elsewhere"), embedder=HashEmbedder())
    try:
        written = other.add_document(
            make_chunks(["private text of another collection"]), document_id="hidden", filename="x.txt"
        )
        chunk_id = other.get_documents(["hidden"])[0].chunks[0].chunk_id
    finally:
        other.close()
    assert written.added == 1
    with running(fast(settings)) as client:
        assert client.get("/api/v1/documents").json()["total"] == 0
        assert_error(client.get(f"/api/v1/documents/hidden/chunks/{chunk_id}/context"), 404, "not_found")


def test_documents_need_a_key_when_keys_are_set(settings):
    with running(fast(settings, api_key="admin-k", read_api_key="read-k")) as client:
        assert_error(client.get("/api/v1/documents"), 401, "unauthorized")
        assert client.get("/api/v1/documents", headers={"X-API-Key": "read-k"}).status_code == 200
        assert_error(client.get("/api/v1/documents/x/chunks/1/context"), 401, "unauthorized")


def _hits(client, document_id: str, limit: int = 10) -> list[dict]:
    body = {"query": "anything", "limit": limit, "filters": {"document_id": document_id}}
    return client.post("/api/v1/search/", json=body).json()["results"]
