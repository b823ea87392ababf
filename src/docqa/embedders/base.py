"""The embedder interface. One implementation per module, chosen by `registry`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from docqa.errors import InvalidInput


class Embedder(ABC):
    """Turns texts into L2-normalized float32 vectors.

    `model_id` is the identity stored with every chunk: two embedders whose
    vectors differ (even slightly, e.g. an int8 variant) must have different
    model ids so their vectors are never mixed in one collection.
    """

    model_id: str
    dim: int
    max_tokens: int = 256  # the model's own truncation limit, in its tokens
    # whether cosines measure meaning (a trained model): hybrid fusion weighs a clear vector match more
    # (search/dispatch.vector_confidence); a bag-of-words hash's large margins come from shared words
    semantic: bool = True

    @abstractmethod
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return an (n, dim) float32 array, each row of unit length."""

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def load(self) -> None:
        """Load the model now; lazy embedders otherwise load it on their first `embed`."""
        return None

    def count_tokens(self, text: str) -> int:
        """Tokens the model would see for `text` (without special tokens)."""
        return len(text.split())

    def close(self) -> None:
        return None


def check_texts(texts: Sequence[str]) -> list[str]:
    """The texts of an embed() call as a list; a bare string or a non-string item is a clear error."""
    if isinstance(texts, str):
        raise InvalidInput("embed() takes a sequence of texts, not a single string")
    items = list(texts)
    for i, text in enumerate(items):
        if not isinstance(text, str):
            raise InvalidInput(f"text #{i} is {type(text).__name__}, not str")
    return items


class MiniLMShared:
    """What both MiniLM embedders (torch and ONNX int8) share: the packaged model's files and
    token counts with its WordPiece vocabulary."""

    _model_path: Path | None = None

    @property
    def model_path(self) -> Path:
        from docqa.embedders import tokenizer

        return self._model_path or tokenizer.model_dir()

    def count_tokens(self, text: str) -> int:
        from docqa.embedders import tokenizer

        return tokenizer.count_tokens(text)

    def count_tokens_batch(self, texts: Sequence[str]) -> list[int]:
        from docqa.embedders import tokenizer

        return tokenizer.count_tokens_batch(texts)


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms
