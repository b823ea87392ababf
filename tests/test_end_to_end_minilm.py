"""End to end with the real MiniLM model: ingest the sample corpus, restart, ask."""

from __future__ import annotations

from pathlib import Path

import pytest

from docqa.app import Docqa
from docqa.config import Settings

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


@pytest.fixture(scope="module")
def minilm():
    from docqa.embedders.minilm import MiniLMEmbedder

    return MiniLMEmbedder(threads=1)


@pytest.mark.model
def test_ingest_restart_search_and_ask_with_the_real_model(minilm, db_url, tmp_path):
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url, embedder="minilm", snapshot_interval_s=0)
    store = Docqa.open(settings, embedder=minilm)
    summary = store.ingest_paths([SAMPLES / "medication-storage-policy.pdf", SAMPLES / "home-espresso-guide.html"])
    assert summary.count("added") == 2 and summary.count("failed") == 0
    assert summary.sync is not None and summary.sync["status"] in ("rebuilt", "caught_up")  # ingest synced the index
    assert store.sync().status == "in_sync"
    store.close()

    again = Docqa.open(settings, embedder=minilm)
    report = again.sync()
    assert report.status == "in_sync" and report.index_count > 0
    hits = again.search("at what temperature must vaccines be kept?", k=3)  # paraphrase, not the text's words
    assert hits[0].filename == "medication-storage-policy.pdf" and hits[0].page is not None

    answer = again.ask("what should a nurse do when the fridge reading is out of range?").to_dict()
    assert answer["found"] and answer["sources"][0]["filename"] == "medication-storage-policy.pdf"
    source = answer["sources"][0]
    assert source["text"] and source["char_end"] > source["char_start"]
    again.close()
