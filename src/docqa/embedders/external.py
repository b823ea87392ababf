"""An embedder given as a function: any model the caller already has (a LangChain `Embeddings`, an API client).

    ExternalEmbedder(lambda texts: model.encode(texts), dim=768, model_id="my-model-v2")

`model_id` is the identity stored with every vector, so it must name the model
exactly (two models of one dimension are still two ids). Vectors are checked
(shape, finite) and L2-normalized like every docqa embedder's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from docqa.embedders.base import Embedder, check_texts, normalize_rows
from docqa.errors import EmbedderError, InvalidInput

EmbedFn = Callable[[list[str]], Sequence[Sequence[float]] | np.ndarray]
EmbedQueryFn = Callable[[str], Sequence[float] | np.ndarray]


class ExternalEmbedder(Embedder):
    def __init__(
        self, embed: EmbedFn, *, dim: int, model_id: str, embed_query: EmbedQueryFn | None = None, max_tokens: int = 512
    ) -> None:
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise InvalidInput(f"dim must be a positive integer, not {dim!r}", field="dim")
        if not isinstance(model_id, str) or not model_id.strip():
            raise InvalidInput("model_id must be a non-empty string naming the model", field="model_id")
        self._embed = embed
        self._embed_query = embed_query
        self.dim = dim
        self.model_id = model_id
        self.max_tokens = max_tokens

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        items = check_texts(texts)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._checked(self._embed(items), len(items))

    def embed_query(self, text: str) -> np.ndarray:
        if self._embed_query is None:
            return self.embed([text])[0]
        return self._checked(np.asarray(self._embed_query(text), dtype=np.float32).reshape(1, -1), 1)[0]

    def _checked(self, vectors: Sequence[Sequence[float]] | np.ndarray, n: int) -> np.ndarray:
        try:
            out = np.asarray(vectors, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise EmbedderError(f"embedder {self.model_id!r} returned something that is not vectors: {exc}") from None
        if out.shape != (n, self.dim):
            raise EmbedderError(
                f"embedder {self.model_id!r} returned an array of shape {out.shape} for {n} text(s), "
                f"expected ({n}, {self.dim})"
            )
        if not np.isfinite(out).all():
            raise EmbedderError(f"embedder {self.model_id!r} returned NaN or infinite values")
        return normalize_rows(out)
