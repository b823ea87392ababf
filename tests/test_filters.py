"""Metadata filters mean the same on SQLite and PostgreSQL, in every search mode."""

from __future__ import annotations

import pytest

from docqa.types import SearchFilters
from tests.helpers import make_chunks

DOCS = {
    "urgent": {"urgent": True, "score": 3, "ratio": 0.5, "tag": "a"},
    "calm": {"urgent": False, "score": 4, "ratio": 1.5, "tag": "b"},
    "untagged": {},
}


@pytest.fixture
def corpus(store):
    for doc_id, meta in DOCS.items():
        store.add_document(
            make_chunks([f"boiler service note {doc_id}", f"boiler pressure reading {doc_id}"]),
            document_id=doc_id,
            metadata=meta,
        )
    return store


@pytest.mark.parametrize("mode", ["vector", "keyword", "hybrid"])
@pytest.mark.parametrize(
    "metadata, expected",
    [
        ({"urgent": True}, {"urgent"}),
        ({"urgent": False}, {"calm"}),
        ({"urgent": [True, False]}, {"urgent", "calm"}),
        ({"score": 3}, {"urgent"}),
        ({"ratio": 1.5}, {"calm"}),
        ({"tag": ["a", "b"]}, {"urgent", "calm"}),
        ({"tag": "a", "urgent": False}, set()),
        ({"missing": "x"}, set()),
        ({"tag": []}, set()),  # one of no values: nothing (PostgreSQL has no `IN ()`)
    ],
)
def test_metadata_values_of_every_json_type(corpus, mode, metadata, expected):
    hits = corpus.search("boiler", mode=mode, k=10, filters=SearchFilters(metadata=metadata))
    assert {h.document_id for h in hits} == expected
    if expected:
        assert len(hits) == 2 * len(expected)  # every matching chunk, not a post-filtered short list
