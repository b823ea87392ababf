"""The LlamaIndex vector store with llama-index-core's own types: VectorStoreIndex, retrievers, MetadataFilters,
delete by ref_doc_id; on SQLite and PostgreSQL, with a local tokenizer and embedding (nothing reaches the network:
see conftest.py)."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from tests.integrations.conftest import need

need("llama_index.core")

import llama_index.core  # noqa: E402
import pytest_socket  # noqa: E402
from llama_index.core import Document, StorageContext, VectorStoreIndex  # noqa: E402
from llama_index.core.base.embeddings.base import BaseEmbedding  # noqa: E402
from llama_index.core.node_parser import SentenceSplitter  # noqa: E402
from llama_index.core.schema import MetadataMode, TextNode  # noqa: E402
from llama_index.core.vector_stores.types import (  # noqa: E402
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)

from docqa.embedders.hash import HashEmbedder  # noqa: E402
from docqa.errors import EmbedderError, InvalidInput  # noqa: E402
from docqa.integrations.llamaindex import DocqaLlamaVectorStore  # noqa: E402

_hash = HashEmbedder(dim=64)


class HashEmbedding(BaseEmbedding):
    """A local LlamaIndex embedding (docqa's hash embedder, scaled so the store's normalization is exercised)."""

    model_name: str = "hash-64"

    def _get_text_embedding(self, text: str) -> list[float]:
        return (_hash.embed([text])[0] * 3.0).tolist()

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._get_text_embedding(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_text_embedding(query)


DOCS = [
    Document(
        text="The fridge keeps food cold. Defrost the freezer twice a year.",
        id_="kitchen",
        metadata={"room": "kitchen", "floor": 0},
    ),
    Document(
        text="Check the tyre pressure monthly. The drill battery charges in an hour.",
        id_="garage",
        metadata={"room": "garage", "floor": 0},
    ),
    Document(
        text="The attic window leaks when it rains; seal the frame.",
        id_="attic",
        metadata={"room": "attic", "floor": 2},
    ),
]


@pytest.fixture(autouse=True)
def local_llama_settings():
    """LlamaIndex's defaults would reach the network (tiktoken data, OpenAI): local ones instead."""
    saved = llama_index.core.Settings._tokenizer, llama_index.core.Settings._embed_model
    llama_index.core.Settings.tokenizer = lambda text: text.split()
    llama_index.core.Settings.embed_model = HashEmbedding()
    yield
    llama_index.core.Settings._tokenizer, llama_index.core.Settings._embed_model = saved


@pytest.fixture
def store(db_url, tmp_path):
    store = DocqaLlamaVectorStore(
        embed_model=HashEmbedding(), database_url=db_url, data_dir=tmp_path / "data", collection="li"
    )
    yield store
    store.close()


@pytest.fixture
def index(store):
    return VectorStoreIndex.from_documents(
        DOCS,
        storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=HashEmbedding(),
        transformations=[SentenceSplitter(chunk_size=12, chunk_overlap=0)],
    )


def test_nothing_here_can_reach_the_network():
    assert socket.socket.connect is not pytest_socket._true_connect  # pytest-socket's guard is on for this folder


def test_index_adds_nodes_as_docqa_documents_and_retrieves_them(index, store):
    docqa = store.client
    nodes = store.get_nodes(filters=MetadataFilters(filters=[MetadataFilter(key="ref_doc_id", value="kitchen")]))
    assert len(nodes) == 2 and {n.ref_doc_id for n in nodes} == {"kitchen"}  # split in two sentences
    assert docqa.stats().total_vectors == docqa.stats().total_documents == 6
    (stored,) = docqa.get_documents([nodes[0].node_id])
    assert stored.chunks[0].text == nodes[0].get_content()  # one node, one chunk, the text as given
    found = index.as_retriever(similarity_top_k=1).retrieve("defrost the freezer")
    assert found[0].node.ref_doc_id == "kitchen" and "Defrost" in found[0].node.get_content()
    embedded_text = found[0].node.get_content(metadata_mode=MetadataMode.EMBED)  # what LlamaIndex embedded
    expected = float(np.dot(*_hash.embed(["defrost the freezer", embedded_text])))
    assert found[0].score == pytest.approx(expected, abs=1e-5)  # the cosine of LlamaIndex's own vectors
    assert found[0].node.metadata == {"room": "kitchen", "floor": 0}


def test_metadata_filters_restrict_the_query(index):
    garage = MetadataFilters(filters=[MetadataFilter(key="room", value="garage")])
    found = index.as_retriever(similarity_top_k=5, filters=garage).retrieve("fridge food cold")
    assert found and {n.node.metadata["room"] for n in found} == {"garage"}
    upstairs = MetadataFilters(
        filters=[
            MetadataFilter(key="floor", value=2),
            MetadataFilter(key="room", value=["attic", "roof"], operator=FilterOperator.IN),
        ],
        condition=FilterCondition.AND,
    )
    assert {n.node.ref_doc_id for n in index.as_retriever(similarity_top_k=5, filters=upstairs).retrieve("window")} == {
        "attic"
    }
    with pytest.raises(InvalidInput, match="operator '>' is not supported"):
        index.as_retriever(
            filters=MetadataFilters(filters=[MetadataFilter(key="floor", value=1, operator=FilterOperator.GT)])
        ).retrieve("x")
    with pytest.raises(InvalidInput, match="only the AND condition"):
        index.as_retriever(
            filters=MetadataFilters(
                filters=[MetadataFilter(key="floor", value=1), MetadataFilter(key="room", value="a")],
                condition=FilterCondition.OR,
            )
        ).retrieve("x")


def test_delete_by_ref_doc_id_takes_every_node_out_of_the_index(index, store):
    docqa = store.client
    index.delete_ref_doc("kitchen")
    assert store.get_nodes(filters=MetadataFilters(filters=[MetadataFilter(key="ref_doc_id", value="kitchen")])) == []
    assert docqa.index_state().vectors == 4
    found = index.as_retriever(similarity_top_k=6).retrieve("The fridge keeps food cold.")
    assert "kitchen" not in {n.node.ref_doc_id for n in found}
    assert docqa.sync("check").status == "in_sync"


def test_query_modes_hybrid_text_search_mmr_and_restrictions(index, store):
    def ids(mode, **kw):
        result = store.query(VectorStoreQuery(mode=mode, similarity_top_k=kw.pop("k", 2), **kw))
        assert len(result.nodes) == len(result.similarities) == len(result.ids)
        return [n.ref_doc_id for n in result.nodes]

    assert ids(VectorStoreQueryMode.TEXT_SEARCH, query_str="tyre pressure", k=1) == ["garage"]
    assert ids(VectorStoreQueryMode.HYBRID, query_str="seal the attic window frame", k=1) == ["attic"]
    assert ids(VectorStoreQueryMode.HYBRID, query_str="tyre", alpha=0.0, k=1) == ["garage"]  # keyword side only
    assert len(ids(VectorStoreQueryMode.MMR, query_str="the", k=3)) == 3
    assert set(ids(VectorStoreQueryMode.DEFAULT, query_str="the", doc_ids=["attic"], k=5)) == {"attic"}
    node_id = store.get_nodes(filters=MetadataFilters(filters=[MetadataFilter(key="room", value="attic")]))[0].node_id
    result = store.query(VectorStoreQuery(query_str="fridge", node_ids=[node_id], similarity_top_k=5))
    assert result.ids == [node_id]
    with pytest.raises(InvalidInput, match="'svm' is not supported"):
        store.query(VectorStoreQuery(query_str="x", mode=VectorStoreQueryMode.SVM))


def test_nodes_with_their_own_embeddings_need_no_embed_model(db_url, tmp_path):
    store = DocqaLlamaVectorStore(embed_dim=3, model_id="given-3", database_url=db_url, data_dir=tmp_path / "d")
    try:
        store.add(
            [
                TextNode(id_="n1", text="one", embedding=[1.0, 0.0, 0.0]),
                TextNode(id_="n2", text="two", embedding=[0.0, 2.0, 0.0]),
            ]
        )
        result = store.query(VectorStoreQuery(query_embedding=[0.0, 5.0, 0.0], similarity_top_k=1))
        assert result.ids == ["n2"] and result.similarities[0] == pytest.approx(1.0)
        assert [n.get_content() for n in store.get_nodes(["n1"])] == ["one"]
        store.delete_nodes(["n1"])
        assert store.get_nodes(["n1", "n2"])[0].node_id == "n2" and len(store.get_nodes(["n1", "n2"])) == 1
        with pytest.raises(EmbedderError, match="no embed_model"):
            store.add([TextNode(id_="n3", text="three")])
        store.clear()
        assert store.client.index_state().vectors == 0
    finally:
        store.close()
    with pytest.raises(InvalidInput, match="embed_dim and model_id"):
        DocqaLlamaVectorStore(database_url=db_url, data_dir=tmp_path / "d")
