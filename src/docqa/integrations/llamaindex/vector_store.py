"""`DocqaLlamaVectorStore`: a LlamaIndex `BasePydanticVectorStore` whose nodes are docqa documents.

One node is one docqa document of one chunk: its id is the node id, its text the node's text (not re-chunked),
its metadata the node's as LlamaIndex stores it everywhere (`node_to_metadata_dict`: the node's own keys, the
node serialized without its text, and `ref_doc_id`), so deleting by `ref_doc_id` and metadata filters are
SQL over document metadata. The vectors are the ones LlamaIndex computed (normalized: scores are cosine
similarities); `embed_model` is needed only for what needs docqa to embed (hybrid queries, queries by text,
nodes without an embedding). Everything lives in the docqa database, under every sync guarantee.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.indices.query.embedding_utils import get_top_k_mmr_embeddings
from llama_index.core.schema import BaseNode, MetadataMode, NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict
from pydantic import PrivateAttr

from docqa.app import Docqa
from docqa.app.batch import DocumentInput, StoredDocument
from docqa.app.embedding import Embedder, external_embedder
from docqa.config import Settings
from docqa.errors import EmbedderError, InvalidInput, NotFound, SyncFailed
from docqa.integrations.llamaindex.filters import search_filters
from docqa.limits import MAX_SEARCH_K
from docqa.types import ChunkInput, SearchFilters, SearchHit

KEYWORD_MODES = (VectorStoreQueryMode.TEXT_SEARCH, VectorStoreQueryMode.SPARSE)


class DocqaLlamaVectorStore(BasePydanticVectorStore):
    stores_text: bool = True
    flat_metadata: bool = False

    _docqa: Docqa = PrivateAttr()
    _owned: bool = PrivateAttr(default=True)

    def __init__(
        self,
        *,
        embed_model: BaseEmbedding | None = None,
        embed_dim: int | None = None,
        model_id: str | None = None,
        database_url: str | None = None,
        data_dir: str | Path | None = None,
        collection: str = "default",
        **settings: Any,
    ) -> None:
        """Open (or create) `collection` in `database_url` (default: the SQLite file in `data_dir`); `settings` are
        other docqa Settings fields. Without `embed_model`, give `embed_dim` and `model_id` (nodes then come with
        their embeddings, as `VectorStoreIndex` gives them)."""
        super().__init__(stores_text=True, flat_metadata=False)
        values = {"database_url": database_url, "data_dir": data_dir, **settings}
        config = Settings(collection=collection, **{k: v for k, v in values.items() if v is not None})
        self._attach(Docqa.open(config, embedder=_embedder(embed_model, embed_dim, model_id)), owned=True)

    @classmethod
    def from_docqa(cls, docqa: Docqa) -> DocqaLlamaVectorStore:
        """A store over an open library (queries by text use its embedder); `close()` leaves it open."""
        store = cls.model_construct(stores_text=True, flat_metadata=False)
        store._attach(docqa, owned=False)
        return store

    def _attach(self, docqa: Docqa, owned: bool) -> None:
        self._docqa, self._owned = docqa, owned
        report = docqa.sync()
        if report.status == "degraded":
            self.close()
            raise SyncFailed(f"collection {docqa.collection!r} could not be synced: {report.reason}")

    @classmethod
    def class_name(cls) -> str:
        return "DocqaLlamaVectorStore"

    @property
    def client(self) -> Docqa:
        """The docqa library under the store."""
        return self._docqa

    # --- writes ----------------------------------------------------------------------
    def add(self, nodes: Sequence[BaseNode], **add_kwargs: Any) -> list[str]:
        if not nodes:
            return []
        items = [self._document_input(n) for n in nodes]
        return [r.document_id for r in self._docqa.add_documents(items)]

    def _document_input(self, node: BaseNode) -> DocumentInput:
        text = node.get_content(metadata_mode=MetadataMode.NONE)
        metadata = node_to_metadata_dict(node, remove_text=True, flat_metadata=self.flat_metadata)
        vector = None
        if node.embedding is not None:
            vector = _unit(node.embedding)
        digest = hashlib.sha256(
            (text + "\x00" + json.dumps(metadata, sort_keys=True)).encode("utf-8", "surrogatepass")
        ).hexdigest()
        chunk = ChunkInput(text=text, ordinal=0, char_start=0, char_end=len(text), embedding=vector)
        return DocumentInput(chunks=[chunk], document_id=node.node_id, metadata=metadata, content_hash=digest)

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Delete every node of the source document `ref_doc_id`; their vectors are out of the index on return."""
        self._delete(self._docqa.get_documents(SearchFilters(metadata={"ref_doc_id": ref_doc_id})))

    def delete_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None, **delete_kwargs: Any
    ) -> None:
        """Delete nodes by id, or those matching `filters`, or the ids among those matching."""
        if not node_ids and filters is None:
            raise InvalidInput("delete_nodes() needs node_ids or filters; clear() deletes every node")
        self._delete(self._find(node_ids, filters))

    def clear(self) -> None:
        self._delete(self._docqa.get_documents(SearchFilters()))

    def _delete(self, docs: list[StoredDocument]) -> None:
        for doc in docs:
            try:
                self._docqa.delete_document(doc.id, sync=False)
            except NotFound:  # deleted meanwhile
                pass
        self._docqa.sync("catch_up")

    # --- reads -----------------------------------------------------------------------
    def get_nodes(self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None) -> list[BaseNode]:
        return [self._stored_node(d) for d in self._find(node_ids, filters)]

    def _find(self, node_ids: list[str] | None, filters: MetadataFilters | None) -> list[StoredDocument]:
        if filters is None:
            return self._docqa.get_documents(list(node_ids or []))
        return self._docqa.get_documents(search_filters(filters, node_ids=node_ids) or SearchFilters())

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """Vector (default), hybrid (`alpha`: 1 vector only, 0 keyword only), text search (keyword) or MMR
        (`mmr_threshold` is the relevance weight, 0.5 by default); filters, doc_ids and node_ids restrict all."""
        filters = search_filters(query.filters, query.doc_ids, query.node_ids)
        k = query.similarity_top_k
        if query.mode == VectorStoreQueryMode.HYBRID:
            alpha = query.alpha
            hits = self._docqa.search(
                _text(query),
                mode="hybrid",
                k=query.hybrid_top_k or k,
                filters=filters,
                vector_weight=alpha,
                keyword_weight=None if alpha is None else 1.0 - alpha,
            )
        elif query.mode in KEYWORD_MODES:
            hits = self._docqa.search(_text(query), mode="keyword", k=query.sparse_top_k or k, filters=filters)
        elif query.mode == VectorStoreQueryMode.MMR:
            hits = self._mmr(self._query_vector(query), k, filters, query.mmr_threshold)
        elif query.mode == VectorStoreQueryMode.DEFAULT:
            hits = self._docqa.search(self._query_vector(query), mode="vector", k=k, filters=filters)
        else:
            raise InvalidInput(
                f"query mode {query.mode.value!r} is not supported: use default, hybrid, text_search or mmr"
            )
        return VectorStoreQueryResult(
            nodes=[self._hit_node(h) for h in hits],
            similarities=[h.score for h in hits],
            ids=[self._hit_node_id(h) for h in hits],
        )

    def _query_vector(self, query: VectorStoreQuery) -> np.ndarray:
        if query.query_embedding is not None:
            return _unit(query.query_embedding)
        return self._docqa.embedder.embed_query(_text(query))

    def _mmr(
        self, vector: np.ndarray, k: int, filters: SearchFilters | None, threshold: float | None
    ) -> list[SearchHit]:
        fetch_k = min(MAX_SEARCH_K, max(20, 4 * k))
        hits = self._docqa.search(vector, mode="vector", k=fetch_k, filters=filters)
        stored = self._docqa.get_documents(list(dict.fromkeys(h.document_id for h in hits)), vectors=True)
        vectors = {c.chunk_id: c.embedding for d in stored for c in d.chunks if c.embedding is not None}
        hits = [h for h in hits if h.chunk_id in vectors]
        if not hits:
            return []
        _, chosen = get_top_k_mmr_embeddings(
            vector.tolist(),
            [vectors[h.chunk_id].tolist() for h in hits],
            similarity_top_k=k,
            embedding_ids=list(range(len(hits))),
            mmr_threshold=0.5 if threshold is None else threshold,
        )
        return [hits[i] for i in chosen]

    # --- nodes back from documents -------------------------------------------------------
    @staticmethod
    def _hit_node_id(hit: SearchHit) -> str:
        """The node id: the document's id for one of ours; document#chunk for a file docqa chunked itself."""
        return hit.document_id if "_node_content" in hit.metadata else f"{hit.document_id}#{hit.chunk_index}"

    def _hit_node(self, hit: SearchHit) -> BaseNode:
        if "_node_content" in hit.metadata:
            return metadata_dict_to_node(hit.metadata, text=hit.content)
        node = TextNode(id_=self._hit_node_id(hit), text=hit.content, metadata=dict(hit.metadata))
        node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=hit.document_id)
        return node

    @staticmethod
    def _stored_node(doc: StoredDocument) -> BaseNode:
        if "_node_content" in doc.metadata:
            return metadata_dict_to_node(doc.metadata, text=doc.text)
        return TextNode(id_=doc.id, text=doc.text, metadata=dict(doc.metadata))

    # --- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        """Save the index snapshot and release the database (a store from `from_docqa` leaves its library open)."""
        if self._owned:
            self._docqa.close()


def _embedder(embed_model: BaseEmbedding | None, dim: int | None, model_id: str | None) -> Embedder:
    if embed_model is None:
        if dim is None or not model_id:
            raise InvalidInput("give embed_model, or embed_dim and model_id (the vectors' size and model name)")

        def refuse(texts: list[str]) -> list[list[float]]:
            raise EmbedderError(
                f"this store has no embed_model to embed text with (model {model_id!r}); give nodes with embeddings "
                "and queries with query_embedding, or open the store with embed_model"
            )

        return external_embedder(refuse, dim=dim, model_id=model_id)
    if dim is None:
        dim = len(embed_model.get_text_embedding("dimension probe"))
    return external_embedder(
        embed_model.get_text_embedding_batch,
        dim=dim,
        model_id=model_id or f"{type(embed_model).__name__}:{embed_model.model_name}-{dim}",
        embed_query=embed_model.get_query_embedding,
    )


def _text(query: VectorStoreQuery) -> str:
    if not query.query_str:
        raise InvalidInput(f"a {query.mode.value} query needs query_str")
    return query.query_str


def _unit(vector: Sequence[float]) -> np.ndarray:
    out = np.asarray(vector, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(out))
    return out / norm if norm > 0 else out
