"""LangChain's own standard suites: for vector stores (sync and async) on SQLite and on PostgreSQL, and for
embeddings (docqa's hash embedder, and MiniLM, the real model).

One database of each kind for the module, a fresh collection per test (LangChain's suite wants an empty store
each time; a collection costs milliseconds, a database much more), emptied after it: docqa document ids are
unique in a database, and the suite reuses ids ("1", "2", ...) from test to test.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.conftest import database_for
from tests.integrations.conftest import mark_async_tests, need

need("langchain_core")
need("langchain_tests")

from langchain_tests.integration_tests import EmbeddingsIntegrationTests, VectorStoreIntegrationTests  # noqa: E402

from docqa.integrations.langchain import DocqaEmbeddings, DocqaVectorStore  # noqa: E402

mark_async_tests(VectorStoreIntegrationTests)
mark_async_tests(EmbeddingsIntegrationTests)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def database(request, tmp_path_factory, pg_server) -> tuple[str, Path]:
    data_dir = tmp_path_factory.mktemp(f"langchain-{request.param}")
    return database_for(request.param, data_dir, pg_server), data_dir


class TestDocqaVectorStoreStandard(VectorStoreIntegrationTests):
    @pytest.fixture
    def vectorstore(self, database):
        url, data_dir = database
        store = DocqaVectorStore(
            self.get_embeddings(), database_url=url, data_dir=data_dir, collection=f"lc-{uuid.uuid4().hex[:12]}"
        )
        try:
            yield store
        finally:
            store.delete_collection()
            store.close()


class TestDocqaEmbeddingsStandard(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[DocqaEmbeddings]:
        return DocqaEmbeddings

    @property
    def embedding_model_params(self) -> dict:
        return {"name": "hash"}


@pytest.mark.model
class TestDocqaMiniLMEmbeddingsStandard(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[DocqaEmbeddings]:
        return DocqaEmbeddings

    @property
    def embedding_model_params(self) -> dict:
        return {"name": "minilm"}

    @pytest.fixture(scope="class")
    @classmethod
    def model(cls) -> DocqaEmbeddings:
        """One model load for the class (the suite's own fixture would load it for every test)."""
        return DocqaEmbeddings("minilm")
