"""Embedders for the faces that bring or expose one (the integrations), without reaching below the app layer.

embedder = external_embedder(model.encode, dim=768, model_id="my-model-v2")
docqa = Docqa.open(settings, embedder=embedder)
minilm = builtin_embedder("minilm")          # docqa's own, e.g. to expose it to another framework
"""

from __future__ import annotations

from docqa.config import Settings
from docqa.embedders import Embedder, get_embedder
from docqa.embedders.external import EmbedFn, EmbedQueryFn, ExternalEmbedder

__all__ = ["EmbedFn", "EmbedQueryFn", "Embedder", "builtin_embedder", "external_embedder"]


def external_embedder(
    embed: EmbedFn, *, dim: int, model_id: str, embed_query: EmbedQueryFn | None = None, max_tokens: int = 512
) -> Embedder:
    """An embedder made of a function from texts to vectors (of `dim` numbers each), stored under `model_id`."""
    return ExternalEmbedder(embed, dim=dim, model_id=model_id, embed_query=embed_query, max_tokens=max_tokens)


def builtin_embedder(name: str, settings: Settings | None = None) -> Embedder:
    """One of docqa's own embedders by name (minilm, minilm-int8, hash, openai), configured by `settings`."""
    return get_embedder(settings or Settings(), name)
