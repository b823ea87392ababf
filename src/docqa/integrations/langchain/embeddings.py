"""docqa's embedders as LangChain `Embeddings`, and LangChain `Embeddings` as a docqa embedder."""

from __future__ import annotations

from typing import Any

from langchain_core.embeddings import Embeddings

from docqa.app.embedding import Embedder, builtin_embedder, external_embedder
from docqa.config import Settings
from docqa.errors import InvalidInput


class DocqaEmbeddings(Embeddings):
    """One of docqa's embedders (default: MiniLM) for LangChain: unit-length vectors, batched like docqa's.

    A `DocqaVectorStore` given one stores its vectors under docqa's own model id, so the collection
    opens as usual in `docqa serve` and the CLI."""

    def __init__(self, name: str = "minilm", *, settings: Settings | None = None) -> None:
        self.name = name
        self.embedder: Embedder = builtin_embedder(name, settings)

    @property
    def model_id(self) -> str:
        return self.embedder.model_id

    @property
    def dimension(self) -> int:
        return self.embedder.dim

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors: list[list[float]] = self.embedder.embed(texts).tolist()
        return vectors

    def embed_query(self, text: str) -> list[float]:
        vector: list[float] = self.embedder.embed_query(text).tolist()
        return vector

    def __repr__(self) -> str:
        return f"DocqaEmbeddings({self.name!r}, model_id={self.model_id!r})"


def default_model_id(embedding: Embeddings, dim: int) -> str:
    """The class name (with its `model` or `model_name` when it has one) and the dimension: `OpenAIEmbeddings:
    text-embedding-3-small-1536`. Two models of one class and dimension need distinct `model_id`s."""
    name = type(embedding).__name__
    for attr in ("model", "model_name"):
        value = getattr(embedding, attr, None)
        if isinstance(value, str) and value:
            return f"{name}:{value}-{dim}"
    return f"{name}-{dim}"


def docqa_embedder(embedding: Embeddings, model_id: str | None = None) -> Embedder:
    """The docqa embedder for a LangChain `Embeddings`: docqa's own when it is a `DocqaEmbeddings`, else a wrapper
    whose dimension is probed once (one `embed_query`) and whose model id is `model_id` or `default_model_id`."""
    if isinstance(embedding, DocqaEmbeddings) and model_id in (None, embedding.model_id):
        return embedding.embedder
    if not isinstance(embedding, Embeddings):
        raise InvalidInput(f"embedding must be a LangChain Embeddings, not {type(embedding).__name__}")
    probe: Any = embedding.embed_query("dimension probe")
    dim = len(probe)
    return external_embedder(
        embedding.embed_documents,
        dim=dim,
        model_id=model_id or default_model_id(embedding, dim),
        embed_query=embedding.embed_query,
    )
