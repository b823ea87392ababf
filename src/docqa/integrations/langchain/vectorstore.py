"""`DocqaVectorStore`: a LangChain `VectorStore` whose documents are docqa documents in a docqa collection.

One LangChain id is one docqa document with one chunk (the text as given, not re-chunked) and the
metadata as the document's; it lives in the same database as files ingested by docqa, so the change-log
triggers, the digest verification and repair cover it like any other document. Scores are cosine
similarities (higher is better); filters match document metadata exactly (see `convert.search_filters`).
The async methods are LangChain's defaults: the sync ones in an executor (docqa is thread-safe).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore, VectorStoreRetriever
from langchain_core.vectorstores.utils import maximal_marginal_relevance

from docqa.app import Docqa
from docqa.config import Settings
from docqa.errors import Conflict, NotFound, SyncFailed
from docqa.integrations.langchain.convert import (
    Filter,
    document_inputs,
    hit_document,
    ids_list,
    search_filters,
    stored_document,
)
from docqa.integrations.langchain.embeddings import docqa_embedder

DEFAULT_K = 4


class DocqaVectorStore(VectorStore):
    def __init__(
        self,
        embedding: Embeddings,
        *,
        database_url: str | None = None,
        data_dir: str | Path | None = None,
        collection: str = "default",
        model_id: str | None = None,
        **settings: Any,
    ) -> None:
        """Open (or create) `collection` in `database_url` (default: the SQLite file in `data_dir`) and prove its
        index; `settings` are any other docqa Settings fields (index_type="hnsw", ...)."""
        values = {"database_url": database_url, "data_dir": data_dir, **settings}
        config = Settings(collection=collection, **{k: v for k, v in values.items() if v is not None})
        docqa = Docqa.open(config, embedder=docqa_embedder(embedding, model_id))
        self._init(docqa, embedding, owned=True)

    def _init(self, docqa: Docqa, embedding: Embeddings, owned: bool) -> None:
        self.docqa = docqa
        self._embedding = embedding
        self._owned = owned
        report = docqa.sync()
        if report.status == "degraded":
            self.close()
            raise SyncFailed(f"collection {docqa.collection!r} could not be synced: {report.reason}")

    @classmethod
    def from_docqa(cls, docqa: Docqa, embedding: Embeddings | None = None) -> Self:
        """A store over an open library (e.g. files ingested with docqa); `embedding` defaults to its embedder.
        Closing the store leaves `docqa` open."""
        from docqa.integrations.langchain.embeddings import DocqaEmbeddings

        store = cls.__new__(cls)
        if embedding is None:
            embedding = DocqaEmbeddings.__new__(DocqaEmbeddings)
            embedding.name, embedding.embedder = docqa.model, docqa.embedder
        store._init(docqa, embedding, owned=False)
        return store

    @property
    def embeddings(self) -> Embeddings:
        return self._embedding

    @property
    def collection(self) -> str:
        return self.docqa.collection

    # --- writes --------------------------------------------------------------------
    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Add or replace documents; an id already stored is replaced (the same text and metadata: left as it is)."""
        items = document_inputs(list(texts), metadatas, ids)
        if not items:
            return []
        try:
            results = self.docqa.add_documents(items)
        except Conflict as exc:
            raise Conflict(
                f"{exc.message}. docqa document ids are unique in a database, not per collection: "
                f"is one of these ids stored in another collection?",
                **exc.details,
            ) from exc
        return [r.document_id for r in results]

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool:
        """Delete these documents (unknown ids are ignored); their vectors are out of the index on return."""
        for document_id in ids_list(ids):
            try:
                self.docqa.delete_document(document_id, sync=False)
            except NotFound:
                pass
        self.docqa.sync("catch_up")
        return True

    def delete_collection(self) -> int:
        """Delete every document of the collection; returns how many went."""
        deleted = 0
        while batch := self.docqa.list_documents(limit=1000):
            for doc in batch:
                self.docqa.delete_document(doc.id, sync=False)
            deleted += len(batch)
        self.docqa.sync("catch_up")
        return deleted

    # --- reads -----------------------------------------------------------------------
    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        return [stored_document(d) for d in self.docqa.get_documents(list(ids))]

    def similarity_search(self, query: str, k: int = DEFAULT_K, filter: Filter = None, **kwargs: Any) -> list[Document]:
        return [doc for doc, _ in self.similarity_search_with_score(query, k, filter, **kwargs)]

    def similarity_search_with_score(
        self, query: str, k: int = DEFAULT_K, filter: Filter = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        hits = self.docqa.search(query, mode="vector", k=k, filters=search_filters(filter))
        return [(hit_document(h), h.score) for h in hits]

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = DEFAULT_K, filter: Filter = None, **kwargs: Any
    ) -> list[Document]:
        return [doc for doc, _ in self.similarity_search_with_score_by_vector(embedding, k, filter)]

    def similarity_search_with_score_by_vector(
        self, embedding: list[float], k: int = DEFAULT_K, filter: Filter = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        hits = self.docqa.search(_unit(embedding), mode="vector", k=k, filters=search_filters(filter))
        return [(hit_document(h), h.score) for h in hits]

    def hybrid_search(
        self,
        query: str,
        k: int = DEFAULT_K,
        filter: Filter = None,
        *,
        score_threshold: float | None = None,
        vector_weight: float | None = None,
        keyword_weight: float | None = None,
        rrf_k: int | None = None,
    ) -> list[Document]:
        """docqa's hybrid search: keyword (BM25 / ts_rank) and vector rankings fused by reciprocal rank fusion;
        the weights and `rrf_k` default to the settings'; `score_threshold` is on the fused score (1.0: first in
        both rankings)."""
        hits = self.docqa.search(
            query,
            mode="hybrid",
            k=k,
            filters=search_filters(filter),
            min_score=score_threshold,
            vector_weight=vector_weight,
            keyword_weight=keyword_weight,
            rrf_k=rrf_k,
        )
        return [hit_document(h) for h in hits]

    def keyword_search(
        self, query: str, k: int = DEFAULT_K, filter: Filter = None, *, score_threshold: float | None = None
    ) -> list[Document]:
        """docqa's keyword search (SQLite FTS5 BM25, PostgreSQL full text); no embedding involved."""
        hits = self.docqa.search(query, mode="keyword", k=k, filters=search_filters(filter), min_score=score_threshold)
        return [hit_document(h) for h in hits]

    def _select_relevance_score_fn(self) -> Any:
        return _relevance

    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = DEFAULT_K,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Filter = None,
        **kwargs: Any,
    ) -> list[Document]:
        vector = self.docqa.embedder.embed_query(query)
        return self.max_marginal_relevance_search_by_vector(vector.tolist(), k, fetch_k, lambda_mult, filter)

    def max_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = DEFAULT_K,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Filter = None,
        **kwargs: Any,
    ) -> list[Document]:
        """The `fetch_k` nearest, then `k` of them chosen for relevance and diversity (`lambda_mult` 1: relevance
        only, 0: diversity only), with the vectors stored in the database."""
        query = _unit(embedding)
        hits = self.docqa.search(query, mode="vector", k=max(k, fetch_k), filters=search_filters(filter))
        stored = self.docqa.get_documents(list(dict.fromkeys(h.document_id for h in hits)), vectors=True)
        vectors = {c.chunk_id: c.embedding for d in stored for c in d.chunks if c.embedding is not None}
        hits = [h for h in hits if h.chunk_id in vectors]  # a document deleted meanwhile drops out
        if not hits:
            return []
        chosen = maximal_marginal_relevance(
            query, [vectors[h.chunk_id].tolist() for h in hits], lambda_mult=lambda_mult, k=min(k, len(hits))
        )
        return [hit_document(hits[i]) for i in chosen]

    def as_retriever(self, **kwargs: Any) -> VectorStoreRetriever:
        """LangChain's search types (similarity, similarity_score_threshold, mmr) and docqa's `hybrid` and
        `keyword`: `as_retriever(search_type="hybrid", search_kwargs={"k": 5, "filter": {...}})`."""
        from docqa.integrations.langchain.retriever import DocqaRetriever

        tags = kwargs.pop("tags", None) or [*self._get_retriever_tags()]
        return DocqaRetriever(vectorstore=self, tags=tags, **kwargs)

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> Self:
        """A store opened with `kwargs` (database_url, data_dir, collection, model_id, settings) holding `texts`."""
        store = cls(embedding, **kwargs)
        store.add_texts(texts, metadatas, ids=ids)
        return store

    # --- lifecycle -----------------------------------------------------------------------
    def close(self) -> None:
        """Save the index snapshot and release the database (a store from `from_docqa` leaves its library open)."""
        if self._owned:
            self.docqa.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _unit(vector: Sequence[float] | np.ndarray) -> np.ndarray:
    """A query vector of unit length, so scores are cosine similarities whatever the model's scale."""
    out = np.asarray(vector, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(out))
    return out / norm if norm > 0 else out


def _relevance(score: float) -> float:
    """LangChain's relevance scores are 0..1: the cosine similarity, negative ones as 0."""
    return max(0.0, min(1.0, score))
