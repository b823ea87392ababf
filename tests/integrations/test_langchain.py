"""docqa's own tests of the LangChain adapter, beyond LangChain's standard suite: what holds for docqa documents
(ids, the index, sync), MMR, the hybrid retriever with filters, and errors that name the problem."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import RawSQL
from tests.integrations.conftest import need

need("langchain_core")

from langchain_core.documents import Document  # noqa: E402
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings  # noqa: E402

from docqa.app import Docqa  # noqa: E402
from docqa.config import Settings  # noqa: E402
from docqa.errors import EmbedderMismatch, InvalidInput  # noqa: E402
from docqa.integrations.langchain import DocqaEmbeddings, DocqaRetriever, DocqaVectorStore  # noqa: E402

KITCHEN = [
    ("fridge", "The fridge keeps food at four degrees; defrost it twice a year.", {"room": "kitchen", "n": 1}),
    ("oven", "Preheat the oven before baking bread; clean the oven racks monthly.", {"room": "kitchen", "n": 2}),
    ("tyres", "Check the tyre pressure of the car every month.", {"room": "garage", "n": 3}),
    ("drill", "The drill battery charges in one hour in the garage.", {"room": "garage", "n": 4}),
]


class TableEmbeddings(Embeddings):
    """Known vectors for known texts (unit tests of ranking); any other text is an error."""

    def __init__(self, table: dict[str, list[float]]) -> None:
        self.table = table

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.table[t] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.table[text]


@pytest.fixture
def open_store(db_url, tmp_path):
    opened = []

    def make(embedding: Embeddings | None = None, **kwargs) -> DocqaVectorStore:
        kwargs.setdefault("collection", "lc")
        store = DocqaVectorStore(
            embedding or DocqaEmbeddings("hash"), database_url=db_url, data_dir=tmp_path / "data", **kwargs
        )
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store) -> DocqaVectorStore:
    store = open_store()
    store.add_texts([t for _, t, _ in KITCHEN], [m for _, _, m in KITCHEN], ids=[i for i, _, _ in KITCHEN])
    return store


def test_one_langchain_id_is_one_docqa_document_of_one_chunk_with_the_text_as_given(open_store):
    store = open_store()
    long_text = " ".join(f"word{i}" for i in range(2_000))  # far past chunk_max_tokens: still one chunk
    ids = store.add_texts([long_text, "short"], [{"k": [1, 2], "nested": {"a": True}}, {}], ids=["long", "s"])
    assert ids == ["long", "s"]
    record = store.docqa.get_document("long")
    assert record.chunks_total == 1 and record.metadata == {"k": [1, 2], "nested": {"a": True}}
    (stored,) = store.docqa.get_documents(["long"])
    assert stored.chunks[0].text == long_text
    got = store.get_by_ids(["s", "long", "missing"])
    assert got == [
        Document(id="s", page_content="short", metadata={}),
        Document(id="long", page_content=long_text, metadata={"k": [1, 2], "nested": {"a": True}}),
    ]
    generated = store.add_documents([Document("no id given")])
    assert len(generated) == 1 and store.get_by_ids(generated)[0].page_content == "no id given"


def test_readding_the_same_text_changes_nothing_and_new_metadata_replaces_the_old(open_store):
    store = open_store()
    store.add_texts(["same"], [{"v": 1}], ids=["x"])
    seq = store.docqa.stats().db_seq
    store.add_texts(["same"], [{"v": 1}], ids=["x"])
    assert store.docqa.stats().db_seq == seq  # nothing written, nothing re-embedded
    store.add_texts(["same"], [{}], ids=["x"])
    assert store.get_by_ids(["x"])[0].metadata == {}


def test_delete_takes_the_vectors_out_of_the_faiss_index(store):
    vector = store.embeddings.embed_query(KITCHEN[0][1])
    assert store.similarity_search_by_vector(vector, k=1)[0].id == "fridge"
    before = store.docqa.index_state().vectors
    assert store.delete(["fridge", "never-stored"]) is True
    assert store.docqa.index_state().vectors == before - 1
    assert "fridge" not in [d.id for d in store.similarity_search_by_vector(vector, k=4)]
    assert store.get_by_ids(["fridge"]) == []
    with pytest.raises(InvalidInput, match="needs the ids"):
        store.delete(None)
    assert store.delete_collection() == 3 and store.docqa.index_state().vectors == 0


def test_the_index_is_provably_in_sync_after_langchain_writes_cli_check(store, db_url, tmp_path):
    store.delete(["oven"])
    store.add_texts(["The freezer is at minus eighteen."], [{"room": "kitchen"}], ids=["freezer"])
    store.close()  # saves the snapshot, as any docqa process does on close
    cmd = [sys.executable, "-m", "docqa.cli.main", "--db", db_url, "--data-dir", str(tmp_path / "data")]
    result = subprocess.run(
        [*cmd, "--collection", "lc", "sync", "--check", "--json"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert '"status": "in_sync"' in result.stdout and '"db_count": 4' in result.stdout


def test_a_collection_of_a_foreign_embedding_is_in_sync_for_a_fresh_library(open_store, db_url, tmp_path):
    embedding = DeterministicFakeEmbedding(size=16)
    store = open_store(embedding, collection="fake")
    store.add_texts(["a", "b", "c"], ids=["1", "2", "3"])
    store.delete(["2"])
    store.close()
    assert store.docqa.model == "DeterministicFakeEmbedding-16"
    settings = Settings(database_url=db_url, data_dir=tmp_path / "data", collection="fake")
    again = DocqaVectorStore(embedding, database_url=db_url, data_dir=tmp_path / "data", collection="fake")
    try:
        assert again.docqa.sync("check").status == "in_sync"
    finally:
        again.close()
    with pytest.raises(EmbedderMismatch, match="DeterministicFakeEmbedding-16"):  # another model: refused, named
        DocqaVectorStore(
            DeterministicFakeEmbedding(size=8), database_url=db_url, data_dir=settings.data_dir, collection="fake"
        )


def test_the_cli_opens_a_collection_of_a_foreign_embedding_for_everything_that_needs_no_embedding(
    open_store, db_url, tmp_path
):
    """`docqa sync/stats/documents` on a LangChain-built collection work; text search says why it cannot."""
    store = open_store(DeterministicFakeEmbedding(size=16), collection="fake")
    store.add_texts(["a", "b", "c"], ids=["1", "2", "3"])
    store.close()
    cmd = [sys.executable, "-m", "docqa.cli.main", "--db", db_url, "--data-dir", str(tmp_path / "data")]

    def docqa(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*cmd, "--collection", "fake", *args], capture_output=True, text=True, timeout=120)

    for args in (["sync", "--check"], ["sync", "--force"], ["stats"], ["documents"]):
        result = docqa(*args)
        assert result.returncode == 0, (args, result.stdout + result.stderr)
    assert "3" in docqa("stats").stdout
    refused = docqa("search", "a")
    assert refused.returncode == 2
    assert "DeterministicFakeEmbedding-16" in refused.stderr and "cannot embed text for it" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_drift_behind_the_stores_back_is_repaired_for_langchain_documents(store, db_url):
    (fridge,) = store.docqa.get_documents(["fridge"])
    wrong = np.asarray(store.embeddings.embed_query(KITCHEN[2][1]), dtype=np.float32)
    raw = RawSQL(db_url)
    try:
        raw.update_embedding_silently(fridge.chunks[0].chunk_id, wrong)  # no trigger sees it
    finally:
        raw.close()
    report = store.docqa.sync("auto")
    assert report.status == "repaired" and report.repaired == 1
    found = store.similarity_search_with_score_by_vector(wrong.tolist(), k=2)
    assert {d.id for d, _ in found} == {"fridge", "tyres"} and found[0][1] == pytest.approx(1.0, abs=1e-5)


def test_scores_are_cosine_similarities_and_relevance_scores_stay_in_0_1(store):
    scored = store.similarity_search_with_score(KITCHEN[1][1], k=4)
    assert scored[0][0].id == "oven" and scored[0][1] == pytest.approx(1.0, abs=1e-5)
    assert [s for _, s in scored] == sorted((s for _, s in scored), reverse=True)
    relevance = store.similarity_search_with_relevance_scores(KITCHEN[1][1], k=4)
    assert all(0.0 <= r <= 1.0 for _, r in relevance) and relevance[0][1] == pytest.approx(1.0, abs=1e-5)


def test_filters_match_document_metadata_in_every_search(store):
    assert {d.id for d in store.similarity_search("battery", k=4, filter={"room": "garage"})} == {"tyres", "drill"}
    assert {d.id for d in store.similarity_search("x", k=4, filter={"n": {"$in": [1, 4]}})} == {"fridge", "drill"}
    assert [d.id for d in store.similarity_search("oven", k=4, filter={"n": {"$eq": 2}})] == ["oven"]
    assert store.similarity_search("oven", k=4, filter={"room": "attic"}) == []
    with pytest.raises(InvalidInput, match=r"only \$eq, \$in are supported, got \['\$gt'\]"):
        store.similarity_search("oven", filter={"n": {"$gt": 1}})


def test_max_marginal_relevance_trades_a_near_duplicate_for_a_different_document(open_store):
    table = {
        "q": [1.0, 0.0, 0.0],
        "a": [0.95, 0.31, 0.0],
        "a-again": [0.94, 0.34, 0.0],  # nearly a
        "b": [0.9, -0.44, 0.0],  # less similar to q, but unlike a
        "dimension probe": [0.0, 1.0, 0.0],  # the store asks once for the dimension
    }
    store = open_store(TableEmbeddings(table), model_id="table-3", collection="mmr")
    store.add_texts(["a", "a-again", "b"], ids=["a", "a2", "b"])
    assert [d.id for d in store.similarity_search("q", k=2)] == ["a", "a2"]
    assert [d.id for d in store.max_marginal_relevance_search("q", k=2, fetch_k=3)] == ["a", "b"]
    assert [d.id for d in store.max_marginal_relevance_search("q", k=2, fetch_k=3, lambda_mult=1.0)] == ["a", "a2"]
    mmr = store.as_retriever(search_type="mmr", search_kwargs={"k": 2, "fetch_k": 3})
    assert [d.id for d in mmr.invoke("q")] == ["a", "b"]


def test_hybrid_retriever_fuses_keyword_and_vector_rankings_under_filters(store):
    retriever = store.as_retriever(search_type="hybrid", search_kwargs={"k": 2, "filter": {"room": "kitchen"}})
    assert isinstance(retriever, DocqaRetriever)
    found = retriever.invoke("defrost")
    assert [d.id for d in found][:1] == ["fridge"] and {d.metadata["room"] for d in found} == {"kitchen"}
    keyword = DocqaRetriever(vectorstore=store, search_type="keyword", search_kwargs={"k": 4})
    assert [d.id for d in keyword.invoke("racks")] == ["oven"]  # the word is only in the oven's text
    only_garage = store.as_retriever(search_type="hybrid", search_kwargs={"filter": {"room": ["garage"]}})
    assert {d.id for d in only_garage.invoke("oven racks monthly")} <= {"tyres", "drill"}
    weighted = store.hybrid_search("racks", k=1, vector_weight=0.0, keyword_weight=1.0)
    assert [d.id for d in weighted] == ["oven"]


@pytest.mark.asyncio
async def test_async_retriever_and_store_methods(store):
    retriever = store.as_retriever(search_type="hybrid", search_kwargs={"k": 1})
    assert [d.id for d in await retriever.ainvoke("tyre pressure")] == ["tyres"]
    ids = await store.aadd_texts(["async text"], ids=["async"])
    assert [d.id for d in await store.asimilarity_search("async text", k=1)] == ids
    await store.adelete(ids)
    assert await store.aget_by_ids(ids) == []
    assert [d.id for d in await store.amax_marginal_relevance_search("tyre pressure", k=1)] == ["tyres"]


def test_from_texts_and_from_docqa_over_files_ingested_by_docqa(db_url, tmp_path):
    store = DocqaVectorStore.from_texts(
        ["alpha", "beta"], DocqaEmbeddings("hash"), ids=["a", "b"], database_url=db_url, data_dir=tmp_path / "d"
    )
    try:
        assert [d.id for d in store.similarity_search("beta", k=1)] == ["b"]
    finally:
        store.close()
    settings = Settings(database_url=db_url, data_dir=tmp_path / "d", collection="files", embedder="hash")
    docqa = Docqa.open(settings)
    try:
        outcome = docqa.ingest_bytes(b"# Bikes\n\nOil the chain.\n\n# Boats\n\nCheck the hull.", "care.md")
        files = DocqaVectorStore.from_docqa(docqa)
        (hit,) = files.similarity_search("hull", k=1)
        assert hit.id == outcome.document_id and "hull" in hit.page_content
        assert files.embeddings.embed_query("x") == docqa.embedder.embed_query("x").tolist()
        files.close()
        assert docqa.stats().total_vectors >= 1  # the library stays open
    finally:
        docqa.close()


def test_bad_input_is_a_clear_error(open_store):
    store = open_store()
    with pytest.raises(InvalidInput, match="not JSON"):
        store.add_texts(["t"], [{"when": object()}])
    with pytest.raises(InvalidInput, match="got 2 metadatas for 1 texts"):
        store.add_texts(["t"], [{}, {}])
    with pytest.raises(InvalidInput, match="k must be an integer between 1 and 100"):
        store.similarity_search("t", k=0)


def test_an_id_taken_in_another_collection_is_refused_naming_why(open_store):
    open_store(collection="one").add_texts(["x"], ids=["shared"])
    with pytest.raises(InvalidInput, match="taken by collection 'one'"):
        open_store(collection="two").add_texts(["y"], ids=["shared"])


def test_docqa_embeddings_store_under_docqa_model_ids(open_store):
    store = open_store()
    assert store.docqa.model == "hash-384" and DocqaEmbeddings("hash").model_id == "hash-384"
    assert Path(store.docqa.settings.data_dir).name == "data"
