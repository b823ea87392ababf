"""A fast deterministic embedder for tests: hashed bag of words and bigrams.

Texts sharing words get similar vectors, so search behaves sensibly in tests
without loading a model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import xxhash

from docqa.embedders.base import Embedder, normalize_rows

_WORD = re.compile(r"\w+", re.UNICODE)


class HashEmbedder(Embedder):
    semantic = False  # its cosines count shared words: no clear-match weighting in hybrid fusion

    def __init__(self, dim: int = 384) -> None:
        self.dim = dim
        self.model_id = f"hash-{dim}"
        self.max_tokens = 256

    def _features(self, text: str) -> list[str]:
        words = [w.lower() for w in _WORD.findall(text)]
        return words + [a + " " + b for a, b in zip(words, words[1:])]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for feature in self._features(text):
                h = xxhash.xxh64_intdigest(feature.encode("utf-8"))
                out[row, h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
            if not text.strip():
                out[row, 0] = 1.0
        return normalize_rows(out)

    def count_tokens(self, text: str) -> int:
        return len(_WORD.findall(text))
