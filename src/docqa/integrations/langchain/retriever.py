"""`DocqaRetriever`: LangChain's vector-store retriever plus docqa's own search modes, `hybrid` (keyword and vector
rankings fused) and `keyword`, with the same `search_kwargs` (k, filter, score_threshold) and, for hybrid, docqa's
fusion weights (vector_weight, keyword_weight, rrf_k)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, ClassVar

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.runnables.config import run_in_executor
from langchain_core.vectorstores import VectorStoreRetriever

from docqa.integrations.langchain.vectorstore import DocqaVectorStore

DOCQA_MODES = ("hybrid", "keyword")


class DocqaRetriever(VectorStoreRetriever):
    """`store.as_retriever(search_type="hybrid", search_kwargs={"k": 5, "filter": {"room": "kitchen"}})`, or
    `DocqaRetriever(vectorstore=store)` (hybrid by default)."""

    vectorstore: DocqaVectorStore
    search_type: str = "hybrid"
    allowed_search_types: ClassVar[Collection[str]] = ("similarity", "similarity_score_threshold", "mmr", *DOCQA_MODES)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        if self.search_type not in DOCQA_MODES:
            return super()._get_relevant_documents(query, run_manager=run_manager, **kwargs)
        return self._docqa_search(query, kwargs)

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        if self.search_type not in DOCQA_MODES:
            return await super()._aget_relevant_documents(query, run_manager=run_manager, **kwargs)
        return await run_in_executor(None, self._docqa_search, query, kwargs)

    def _docqa_search(self, query: str, kwargs: dict[str, Any]) -> list[Document]:
        options = self.search_kwargs | kwargs
        if self.search_type == "keyword":
            return self.vectorstore.keyword_search(query, **options)
        return self.vectorstore.hybrid_search(query, **options)
