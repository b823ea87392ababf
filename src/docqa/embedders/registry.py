"""Choose an embedder by name. Heavy imports happen inside each backend."""

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

    return MiniLMOnnxEmbedder(batch_size=settings.embed_batch_size, threads=settings.embed_threads or None)


def _openai(settings: Settings) -> Embedder:
    from docqa.embedders.openai import OpenAIEmbedder

    return OpenAIEmbedder.from_settings(settings)


_REGISTRY: dict[str, Callable[[Settings], Embedder]] = {
    "hash": _hash,
    "minilm": _minilm,
    "minilm-int8": _minilm_int8,
    "openai": _openai,
}


def available_embedders() -> list[str]:
    return sorted(_REGISTRY)


def get_embedder(settings: Settings, name: str | None = None) -> Embedder:
    name = name or settings.embedder
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise InvalidInput(f"unknown embedder {name!r}; choose one of {', '.join(available_embedders())}") from None
    return factory(settings)
