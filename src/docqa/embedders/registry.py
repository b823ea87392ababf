"""Choose an embedder by name, and name the embedder a stored model id belongs to. Heavy imports happen
inside each backend.

A collection records the `model_id` of the embedder that built it. Opening it
without choosing an embedder (`Settings.embedder` empty) uses that recorded
embedder (`name_for_model`); a new collection gets `Settings.default_embedder`.
"""

from __future__ import annotations

from collections.abc import Callable

from docqa.config import Settings
from docqa.embedders.base import Embedder
from docqa.errors import InvalidInput


def _hash(settings: Settings) -> Embedder:
    from docqa.embedders.hash import HashEmbedder

    return HashEmbedder()


def _minilm(settings: Settings) -> Embedder:
    from docqa.embedders.minilm import MiniLMEmbedder

    return MiniLMEmbedder(batch_size=settings.embed_batch_size, threads=settings.embed_threads or None)


def _minilm_int8(settings: Settings) -> Embedder:
    from docqa.embedders.minilm_onnx import MiniLMOnnxEmbedder

    return MiniLMOnnxEmbedder(
        batch_size=settings.embed_batch_size,
        threads=settings.embed_threads or None,
        cache_dir=settings.model_cache,
    )


def _openai(settings: Settings) -> Embedder:
    from docqa.embedders.openai import OpenAIEmbedder

    return OpenAIEmbedder.from_settings(settings)


_REGISTRY: dict[str, Callable[[Settings], Embedder]] = {
    "hash": _hash,
    "minilm": _minilm,
    "minilm-int8": _minilm_int8,
    "openai": _openai,
}

# model id -> embedder name: exact ids first, then the prefixes of the parametrized ones
_MODEL_IDS = {"minilm": "minilm", "minilm-int8": "minilm-int8"}
_MODEL_PREFIXES = (("hash-", "hash"), ("openai:", "openai"))


def available_embedders() -> list[str]:
    return sorted(_REGISTRY)


def name_for_model(model_id: str) -> str | None:
    """The registered embedder whose vectors carry `model_id` (as stored for a collection), or None."""
    if model_id in _MODEL_IDS:
        return _MODEL_IDS[model_id]
    for prefix, name in _MODEL_PREFIXES:
        if model_id.startswith(prefix):
            return name
    return None


def get_embedder(settings: Settings, name: str | None = None) -> Embedder:
    """`name`, else the explicitly chosen embedder, else the default for new collections."""
    name = name or settings.embedder or settings.default_embedder
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise InvalidInput(f"unknown embedder {name!r}; choose one of {', '.join(available_embedders())}") from None
    return factory(settings)
