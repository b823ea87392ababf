"""One identity rule for documents, held by a unique index: the same document twice is one document."""

from __future__ import annotations

import threading

from docqa.app import Docqa
from docqa.embedders.hash import HashEmbedder
from docqa.ingest.document import PARSER_VERSION
from docqa.types import ChunkInput
from tests.helpers import TOPICS
from tests.test_api_support import fast, running

TEXT = ("\n\n".join(TOPICS)).encode()


def upload(client, name: str, data: bytes, **form: str):
    return client.post("/api/v1/index/upload", files={"file": (name, data)}, data=form)


def documents(library: Docqa) -> list:
    return library.list_documents()


def test_the_same_upload_twice_is_one_document(settings):
    library = Docqa.open(settings, embedder=HashEmbedder())
    library.sync()
    with running(fast(settings), library) as client:
        first = upload(client, "notes.txt", TEXT).json()
        again = upload(client, "notes.txt", TEXT).json()
        assert (first["status"], again["status"]) == ("added", "unchanged")
        assert again["document_id"] == first["document_id"] and again["embedded"] == 0
        tagged = upload(client, "notes.txt", TEXT, metadata='{"team": "ward-3"}').json()
        assert (tagged["status"], tagged["document_id"]) == ("updated", first["document_id"])
        other = upload(client, "notes.txt", TEXT + b"\n\nA new paragraph about kettles.").json()
        assert other["status"] == "added" and other["document_id"] != first["document_id"]  # other bytes
        hits = client.post("/api/v1/search/", json={"query": TOPICS[3], "limit": 5}).json()["results"]
        assert len({h["document_id"] for h in hits if h["content"] == TOPICS[3]}) <= 2  # no third copy
    assert len(documents(library)) == 2
    assert documents(library)[0].metadata.get("team") == "ward-3" or documents(library)[1].metadata.get("team")
    library.close()


def test_concurrent_writers_of_one_document_add_it_once(settings):
    """Ten uploads at once with one document_id and the same bytes, from five processes' worth of
    connections (separate libraries: the database decides, not a lock in one process)."""
    libraries = [Docqa.open(settings, embedder=HashEmbedder()) for _ in range(5)]
    outcomes: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(10)

    def write(library: Docqa) -> None:
        try:
            start.wait(10)
            outcomes.append(library.ingest_bytes(TEXT, "same.txt", document_id="one-doc", sync=False).status)
        except BaseException as exc:  # collected: a failure must fail the test, not vanish in a thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(libraries[i % 5],)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert sorted(outcomes) == ["added"] + ["unchanged"] * 9, outcomes
    library = libraries[0]
    assert [d.id for d in documents(library)] == ["one-doc"]
    assert library.get_document("one-doc").chunks_total == library.stats().total_chunks
    for each in libraries:
        each.close()


def test_a_retried_failure_replaces_its_own_failed_row_and_a_good_version_replaces_it(settings):
    library = Docqa.open(settings, embedder=HashEmbedder())
    for _ in range(3):
        failed = library.ingest_bytes(b"%PDF-1.7\n garbage", "scan.pdf", document_id="scan")
        assert failed.status == "failed"
    assert [(d.id, d.status) for d in documents(library)] == [("scan", "failed")]
    good = library.ingest_bytes(TEXT, "scan.txt", document_id="scan")
    assert good.status == "added" and good.document_id == "scan"
    assert [(d.id, d.status) for d in documents(library)] == [("scan", "indexed")]
    assert library.ingest_bytes(b"%PDF-1.7\n garbage", "scan.pdf", document_id="scan").status == "failed"
    assert library.get_document("scan").status == "indexed"  # a good version is never replaced by a failure
    for _ in range(2):  # an upload without an id that keeps failing: one failed row, not one per try
        library.ingest_bytes(b"%PDF-1.7\n more garbage", "other.pdf")
    assert sum(d.status == "failed" for d in documents(library)) == 1
    library.close()


def test_files_are_one_document_per_path(settings, tmp_path):
    library = Docqa.open(settings, embedder=HashEmbedder())
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_bytes(TEXT)
    (folder / "b.txt").write_bytes(TEXT)  # the same bytes at another path: another document
    first = library.ingest_paths([folder])
    second = library.ingest_paths([folder])
    assert first.count("added") == 2 and second.count("unchanged") == 2
    assert len(documents(library)) == 2
    library.close()


def test_a_document_replaced_while_its_update_is_embedded_is_still_written(settings):
    """Which chunks need an embedding is decided inside the write's transaction, not before it."""
    from tests.helpers import make_chunks

    library = Docqa.open(settings, embedder=HashEmbedder())
    other = Docqa.open(settings, embedder=HashEmbedder())
    library.add_document(make_chunks(TOPICS[:4]), document_id="doc")
    embed_new = library.writer.embed_new
    calls = []

    def replaced_meanwhile(documents):  # type: ignore[no-untyped-def]
        if not calls:  # another writer replaces the stored chunks while this one embeds
            other.add_document(make_chunks(TOPICS[6:9]), document_id="doc")
        calls.append(1)
        return embed_new(documents)

    library.writer.embed_new = replaced_meanwhile  # type: ignore[method-assign]
    result = library.add_document(make_chunks(TOPICS[2:6]), document_id="doc")  # 2 chunks the first rows had
    assert result.outcome == "updated" and len(calls) >= 1
    library.sync("catch_up")
    assert sorted(h.content for h in library.search(TOPICS[2], k=10) if h.document_id == "doc") == sorted(TOPICS[2:6])
    library.close()
    other.close()


def _forget_parser_versions(library: Docqa) -> None:
    """What a database written by a docqa from before the parser version was recorded holds."""
    with library.db.connection() as conn, conn.transaction():
        conn.execute("UPDATE documents SET parser_version = 0")


def test_a_file_cut_by_another_parser_version_is_parsed_again(settings, tmp_path, monkeypatch):
    """The same bytes again are `unchanged` only when this docqa's parser cut the stored chunks: after an
    upgrade that parses differently, the next ingest parses them again (and embeds only the chunks that
    changed); a document given as chunks has no parser version and stays unchanged."""
    from docqa.ingest import stream

    library = Docqa.open(settings, embedder=HashEmbedder())
    library.sync()
    small, big = tmp_path / "small.md", tmp_path / "big.md"
    small.write_bytes(b"# Ward notes\n\n" + TEXT)
    big.write_bytes(b"\n\n".join(b"## Part %d\n\n" % i + TEXT for i in range(30)))
    monkeypatch.setattr(stream, "BATCH_CHUNKS", 8)  # the big file is staged batch by batch
    for path in (small, big):
        first = library.ingest_file(path)
        assert first.status == "added" and library.find_by_source(str(path)).parser_version == PARSER_VERSION
        assert library.ingest_file(path).status == "unchanged"
    assert library.find_by_source(str(big)).chunks_total > 8  # more than one batch: the staged write
    given = [ChunkInput(text=t, ordinal=i) for i, t in enumerate(TOPICS[:3])]
    library.add_document(given, document_id="given", content_hash="given-v1")
    _forget_parser_versions(library)
    for path in (small, big):
        again = library.ingest_file(path)
        assert again.status == "updated" and again.embedded == 0  # the same text: no chunk embedded again
        assert library.find_by_source(str(path)).parser_version == PARSER_VERSION
        assert library.ingest_file(path).status == "unchanged"
    assert library.add_document(given, document_id="given", content_hash="given-v1").outcome == "unchanged"
    assert library.get_document("given").parser_version == 0
    assert len(documents(library)) == 3
    library.close()
