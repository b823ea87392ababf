"""Ingestion end to end on both databases: idempotence, partial re-embedding,
prune, failures recorded, resume after SIGKILL."""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

from docqa.app import Docqa
from docqa.embedders.hash import HashEmbedder

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


class CountingEmbedder(HashEmbedder):
    def __init__(self) -> None:
        super().__init__(384)
        self.embedded: list[str] = []

    def embed(self, texts):
        self.embedded.extend(texts)
        return super().embed(texts)


@pytest.fixture
def counting():
    return CountingEmbedder()


@pytest.fixture
def cstore(settings, counting):
    s = Docqa.open(settings, embedder=counting)
    s.sync()
    yield s
    s.close()


def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    shutil.copytree(SAMPLES, folder, ignore=shutil.ignore_patterns("tools", "README.md"))
    return folder


def test_reingest_unchanged_computes_no_embedding(cstore, counting, tmp_path):
    folder = corpus(tmp_path)
    first = cstore.ingest_paths([folder], recursive=True)
    assert first.count("added") >= 10 and first.count("failed") == 0
    n = len(counting.embedded)
    assert n > 50
    second = cstore.ingest_paths([folder], recursive=True)
    assert second.count("unchanged") == first.count("added")
    assert len(counting.embedded) == n  # nothing embedded the second time
    assert cstore.sync().status in ("caught_up", "in_sync")
    assert len(cstore.engine) == cstore.stats().total_chunks


def test_changed_file_reembeds_only_changed_chunks(cstore, counting, tmp_path):
    folder = tmp_path / "c"
    folder.mkdir()
    paragraphs = [f"Paragraph {i} talks about topic number {i} in some detail. " * 6 for i in range(12)]
    f = folder / "notes.md"
    f.write_text("# Notes\n\n" + "\n\n".join(paragraphs))
    cstore.ingest_paths([folder])
    chunks_before = cstore.stats().total_chunks
    counting.embedded.clear()
    paragraphs[5] = "This paragraph was rewritten entirely with brand new words about gardening. " * 3
    f.write_text("# Notes\n\n" + "\n\n".join(paragraphs))
    summary = cstore.ingest_paths([folder])
    assert summary.count("updated") == 1
    assert 0 < len(counting.embedded) < chunks_before  # only the chunks whose text changed
    assert any("gardening" in t for t in counting.embedded)
    cstore.sync()
    hits = cstore.search("rewritten gardening words", k=1)
    assert "gardening" in hits[0].content
    assert not any("topic number 5 in" in h.content for h in cstore.search("topic number 5", k=20))


def test_prune_deletes_documents_whose_files_are_gone(cstore, tmp_path):
    folder = corpus(tmp_path)
    cstore.ingest_paths([folder], recursive=True)
    total = cstore.stats().total_documents
    (folder / "recipe-collection.txt").unlink()
    kept = cstore.ingest_paths([folder], recursive=True)
    assert kept.pruned == [] and cstore.stats().total_documents == total
    pruned = cstore.ingest_paths([folder], recursive=True, prune=True)
    assert [Path(p).name for p in pruned.pruned] == ["recipe-collection.txt"]
    assert cstore.stats().total_documents == total - 1
    cstore.sync()
    assert all(h.filename != "recipe-collection.txt" for h in cstore.search("sourdough bread recipe", k=20))


def test_bad_files_are_recorded_failed_and_the_batch_goes_on(cstore, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "good.txt").write_text("A perfectly readable note about tea brewing temperatures.")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf")
    (folder / "empty.md").write_text("")
    (folder / "image.txt").write_bytes(bytes(range(256)) * 40)
    summary = cstore.ingest_paths([folder])
    assert summary.count("added") == 1 and summary.count("failed") == 3
    errors = {Path(o.source).name: o.error for o in summary.outcomes if o.status == "failed"}
    assert "empty" in errors["empty.md"]
    assert "broken.pdf" in errors["broken.pdf"]
    docs = {d.filename: d for d in cstore.list_documents()}
    assert docs["broken.pdf"].status == "failed" and docs["broken.pdf"].error


def test_a_failure_never_replaces_a_good_stored_version(cstore, tmp_path):
    f = tmp_path / "doc.txt"
    f.write_text("Original good content about lighthouse keepers and their logbooks.")
    cstore.ingest_paths([f])
    f.write_bytes(b"")
    summary = cstore.ingest_paths([f])
    assert summary.count("failed") == 1
    doc = cstore.list_documents()[0]
    assert doc.status == "indexed" and cstore.stats().total_chunks > 0


def test_ingest_bytes_and_headings_travel_with_chunks(cstore, counting):
    md = b"# Guide\n\n## Install\n\nRun the installer and accept the licence.\n\n## Usage\n\nOpen the app and log in."
    out = cstore.ingest_bytes(md, "guide.md", metadata={"team": "docs"})
    assert out.status == "added" and out.chunks >= 1
    assert any(t.startswith("Guide") for t in counting.embedded)  # heading path is embedded with the text
    doc = cstore.get_document(out.document_id)
    assert doc.metadata["team"] == "docs" and doc.content_type == "text/markdown"


class StallsAfter60Chunks(HashEmbedder):
    """Embeds the first 60 chunks (and whatever batch they end in), then never returns: the ingest is
    caught midway whatever the machine's speed (a fast one finished all 150 files between two polls)."""

    def __init__(self) -> None:
        super().__init__()
        self.embedded = 0

    def embed(self, texts):  # type: ignore[no-untyped-def]
        if self.embedded >= 60:
            threading.Event().wait()
        self.embedded += len(texts)
        return super().embed(texts)


def _ingest_forever(settings, folder: str) -> None:
    store = Docqa.open(settings, embedder=StallsAfter60Chunks())
    store.ingest_paths([Path(folder)], recursive=True)


@pytest.mark.slow
def test_ingest_killed_midway_resumes_without_duplicates(settings, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(150):
        (folder / f"note{i:03}.txt").write_text(f"Note {i}. " + " ".join(f"word{i}x{j}" for j in range(120)))
    ctx = mp.get_context("spawn")
    child = ctx.Process(target=_ingest_forever, args=(settings, str(folder)))
    child.start()
    store = Docqa.open(settings, embedder=HashEmbedder())
    deadline = time.time() + 60
    while time.time() < deadline and len(store.list_documents(limit=1000)) < 20:
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    partial = len(store.list_documents(limit=1000))
    assert 0 < partial < 150
    summary = store.ingest_paths([folder], recursive=True)
    assert summary.count("unchanged") >= partial - 1  # committed documents are not redone
    docs = store.list_documents(limit=1000)
    assert len(docs) == 150 and len({d.source for d in docs}) == 150  # no duplicates
    report = store.sync()
    assert report.index_count == store.stats().total_chunks
    store.close()


def test_exclude_leaves_out_files_by_name_or_relative_path(tmp_path):
    from docqa.ingest.batch import discover

    root = tmp_path / "docs"
    (root / "drafts").mkdir(parents=True)
    for rel in ("README.md", "guide.md", "drafts/wip.md", "drafts/README.md", "notes.txt"):
        (root / rel).write_text("text")
    names = lambda files: sorted(f.relative_to(root.resolve()).as_posix() for f in files)  # noqa: E731
    files, skipped = discover([root], True, None, exclude=["README.md"])
    assert names(files) == ["drafts/wip.md", "guide.md", "notes.txt"] and skipped == []
    files, _ = discover([root], True, None, exclude=["drafts/*", "*.txt"])
    assert names(files) == ["README.md", "guide.md"]
    # a file named explicitly is taken even when a pattern would exclude it
    files, _ = discover([root / "README.md"], True, None, exclude=["README.md"])
    assert names(files) == ["README.md"]


def test_samples_without_their_readme_are_the_twelve_documents(cstore):
    summary = cstore.ingest_paths([SAMPLES], recursive=True, exclude=["README.md", "tools/*"])
    assert summary.count("added") == 12 and summary.skipped == [] and summary.count("failed") == 0


def test_ingest_roots_a_reference_pages_sections_at_its_title(cstore, tmp_path):
    """The whole ingest path applies the title root (chunking.under_title): what the model embeds and the
    keyword index holds is "VACUUM > Parameters", not "Parameters"."""
    page = tmp_path / "sql-vacuum.html"
    page.write_text(
        "<html><head><title>VACUUM</title></head><body><h2>VACUUM</h2><p>VACUUM - garbage-collect a database.</p>"
        "<h2>Parameters</h2><p>PARALLEL: perform index vacuum and index cleanup in parallel workers.</p></body></html>",
        encoding="utf-8",
    )
    cstore.ingest_paths([page])
    with cstore.db.connection() as conn:
        headings = [r[0] for r in conn.fetchall("SELECT heading FROM chunks ORDER BY ordinal")]
    assert headings == ["VACUUM", "VACUUM > Parameters"]
