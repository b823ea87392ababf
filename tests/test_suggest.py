"""Suggestions come from the corpus: headings and frequent phrases, prefix-matched, by frequency."""

from __future__ import annotations

import pytest

from docqa.errors import InvalidInput
from docqa.search.dispatch import suggest
from docqa.types import ChunkInput
from tests.test_keyword import HOSTILE

CHUNKS = [
    ("Bike Manual > 3. Tyre pressure", "Tyre pressure depends on tyre width. Check tyre pressure weekly."),
    ("Bike Manual > 3. Tyre pressure", "Low tyre pressure causes pinch flats.\nTyre levers help."),
    ("Bike Manual > 5. Chain care", "Changing the chain is easy. Chain care matters; chain wear is measured."),
    ("Bike Manual > 5. Chain care", "Check the chain for wear after rain."),
]


@pytest.fixture
def corpus(store):
    store.add_document([ChunkInput(text=t, ordinal=i, heading=h) for i, (h, t) in enumerate(CHUNKS)], filename="b.txt")
    return store


def test_prefix_completions_ranked_by_frequency(corpus) -> None:
    got = suggest(corpus, "tyre pr")
    assert got[0].casefold() == "tyre pressure"  # 4 in text + 2 headings
    assert all(s.casefold().startswith("tyre pr") for s in got)
    assert "tyre pressure weekly" in [s.casefold() for s in got]
    assert suggest(corpus, "Tyre Pressure")[0].casefold() == "tyre pressure"


def test_single_word_prefix_and_headings(corpus) -> None:
    got = [s.casefold() for s in suggest(corpus, "ch")]
    assert got[0] == "chain"
    assert "chain care" in got and "check" in got
    assert got.index("chain") < got.index("chain care")  # more frequent first
    assert "Tyre pressure" in suggest(corpus, "tyre", limit=20)  # the heading, numbering stripped


def test_stemmed_index_does_not_hide_completions(corpus) -> None:
    assert "changing" in [s.casefold() for s in suggest(corpus, "changi")]


def test_limit_nothing_and_hostile_input(corpus) -> None:
    assert len(suggest(corpus, "t", limit=2)) == 2
    assert suggest(corpus, "zzz") == []
    assert suggest(corpus, "") == [] and suggest(corpus, "   ") == []
    assert not any(s.casefold().endswith((" the", " and")) for s in suggest(corpus, "check", limit=50))
    for q in HOSTILE:
        assert isinstance(suggest(corpus, q), list)
    for bad in (0, 101):
        with pytest.raises(InvalidInput):
            suggest(corpus, "ch", limit=bad)


def test_suggestions_follow_deletes(corpus) -> None:
    doc = corpus.list_documents()[0]
    corpus.delete_document(doc.id)
    assert suggest(corpus, "tyre") == []
