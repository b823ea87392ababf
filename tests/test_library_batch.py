"""The library's batch methods: add_documents (one embedding pass, one catch-up) and get_documents (with chunks)."""

from __future__ import annotations

import numpy as np
import pytest

from docqa.app import Docqa
from docqa.app.batch import DocumentInput
from docqa.app.embedding import external_embedder
from docqa.errors import EmbedderError, InvalidInput
from docqa.types import ChunkInput, SearchFilters


def doc(document_id: str, *texts: str, **metadata) -> DocumentInput:
    return DocumentInput(
        chunks=[ChunkInput(text=t, ordinal=i) for i, t in enumerate(texts)],
        document_id=document_id,
        metadata=metadata,
    )


class CountingEmbedder:
    """Wraps the test embedder to count model calls."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.calls: list[int] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls.append(len(texts))
        return self.inner.embed(texts)


def test_add_documents_embeds_all_new_chunks_in_one_call_and_indexes_them(settings, embedder):
    counting = CountingEmbedder(embedder)
    docqa = Docqa.open(settings, embedder=external_embedder(counting, dim=384, model_id="counting-384"))
    try:
        docqa.sync()
        results = docqa.add_documents(
            [doc("a", "alpha one", "alpha two", kind="x"), doc("b", "beta"), doc("c", "gamma", kind="y")]
        )
        assert [r.outcome for r in results] == ["added"] * 3
        assert counting.calls == [4]
        assert docqa.stats().total_vectors == 4 and docqa.stats().lag == 0
        assert docqa.search("beta", k=1)[0].document_id == "b"
        # the same documents again: nothing is embedded; a changed one is embedded alone
        counting.calls.clear()
        again = docqa.add_documents([doc("a", "alpha one", "alpha two", kind="x"), doc("b", "beta changed")])
        assert counting.calls == [1]
        assert again[1].outcome == "updated" and again[1].added == 1 and again[1].removed == 1
        assert docqa.sync("check").status == "in_sync"
    finally:
        docqa.close()


def test_get_documents_returns_chunks_metadata_and_vectors_in_the_order_asked(store):
    store.add_documents([doc("a", "first part", "second part", lang="en"), doc("b", "other")])
    found = store.get_documents(["b", "missing", "a", "b"])
    assert [d.id for d in found] == ["b", "a"]
    b, a = found
    assert [c.text for c in b.chunks] == ["other"]
    assert a.metadata == {"lang": "en"} and [c.text for c in a.chunks] == ["first part", "second part"]
    assert a.text == "first part\nsecond part" and a.document.chunks_total == 2
    assert all(c.embedding is None for c in a.chunks)
    with_vectors = store.get_documents(["a"], vectors=True)[0]
    expected = store.embedder.embed(["first part", "second part"])
    np.testing.assert_allclose(np.stack([c.embedding for c in with_vectors.chunks]), expected, rtol=1e-6)
    assert store.get_documents([]) == []


def test_get_documents_sees_only_its_own_collection(settings, embedder):
    first = Docqa.open(settings, embedder=embedder)
    second = Docqa.open(settings.replace(collection="other"), embedder=embedder)
    try:
        first.add_documents([doc("shared-id", "in the first collection")])
        assert second.get_documents(["shared-id"]) == []
        assert [d.id for d in first.get_documents(["shared-id"])] == ["shared-id"]
    finally:
        first.close()
        second.close()


def test_external_embedder_checks_what_the_function_returns(store):
    wrong_dim = external_embedder(lambda texts: [[1.0, 0.0]] * len(texts), dim=3, model_id="m")
    with pytest.raises(EmbedderError, match=r"shape \(1, 2\).*expected \(1, 3\)"):
        wrong_dim.embed(["x"])
    nan = external_embedder(lambda texts: [[float("nan")] * 3] * len(texts), dim=3, model_id="m")
    with pytest.raises(EmbedderError, match="NaN"):
        nan.embed(["x"])
    unnormalized = external_embedder(lambda texts: [[3.0, 4.0]] * len(texts), dim=2, model_id="m")
    np.testing.assert_allclose(unnormalized.embed(["x"]), [[0.6, 0.8]], rtol=1e-6)
    with pytest.raises(InvalidInput, match="model_id"):
        external_embedder(lambda texts: [], dim=2, model_id=" ")
    with pytest.raises(InvalidInput, match="dim"):
        external_embedder(lambda texts: [], dim=0, model_id="m")


def test_get_documents_by_filters_on_document_metadata(store):
    store.add_documents([doc("a", "one", ref="r1"), doc("b", "two", ref="r2"), doc("c", "three", ref="r1", n=3)])
    assert [d.id for d in store.get_documents(SearchFilters(metadata={"ref": "r1"}))] == ["a", "c"]
    assert [d.id for d in store.get_documents(SearchFilters(metadata={"ref": "r1", "n": 3}))] == ["c"]
    assert [d.id for d in store.get_documents(SearchFilters(metadata={"ref": ["r2", "zz"]}))] == ["b"]
    assert store.get_documents(SearchFilters(metadata={"ref": "none"})) == []
    assert [d.id for d in store.get_documents(SearchFilters())] == ["a", "b", "c"]
