"""The vector index interface. Implementations: flat (default) and hnsw.

An index holds exactly the stored float32 embeddings keyed by chunk id and
keeps its own count and content digest up to date on every add/remove.
It knows nothing about SQL; the sync engine is its only writer.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Iterable

import numpy as np

from docqa.index import digest as dg


class VectorIndex(ABC):
    kind: str = ""
    metric: str = "inner_product"

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.digest = 0

    # --- writes (sync engine only) ---
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if len(ids) == 0:
            return
        if vectors.shape != (len(ids), self.dim):
            raise ValueError(f"vectors shape {vectors.shape} does not match ({len(ids)}, {self.dim})")
        self._add(ids, vectors)
        self.digest = dg.add(self.digest, dg.digest_of(ids, vectors))

    def remove(self, ids: np.ndarray) -> np.ndarray:
        """Remove the given ids where present. Returns the ids that were present."""
        ids = np.unique(np.asarray(ids, dtype=np.int64))
        present, vectors = self.get(ids)
        if len(present):
            self._remove(present)
            self.digest = dg.sub(self.digest, dg.digest_of(present, vectors))
        return present

    def upsert(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self.remove(ids)
        self.add(ids, vectors)

    # --- reads ---
    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def _add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...

    @abstractmethod
    def _remove(self, ids: np.ndarray) -> None: ...

    @abstractmethod
    def get(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(present ids, their vectors) among `ids`."""

    @abstractmethod
    def contents(self) -> tuple[np.ndarray, np.ndarray]:
        """All (ids, vectors) currently in the index."""

    @abstractmethod
    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) each (m, k); missing slots have id -1. `allowed` restricts to those ids before ranking."""

    # --- persistence ---
    @abstractmethod
    def write(self, directory: Path) -> list[str]:
        """Write the index files into `directory`; return their names."""

    @classmethod
    @abstractmethod
    def read(cls, directory: Path, dim: int, params: dict) -> "VectorIndex": ...

    def params(self) -> dict:
        return {}

    def recompute_digest(self) -> int:
        return dg.combine(self.content_hashes()[1])

    def content_hashes(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, row hashes) of everything in the index, for finding the ids that differ."""
        ids, vectors = self.contents()
        return ids, dg.row_hashes(ids, vectors)

    def bulk_load(self, expected: int, batches: Iterable[tuple[np.ndarray, np.ndarray]]) -> int:
        """Fill an empty index from streamed batches. Returns rows loaded."""
        total = 0
        for ids, vectors in batches:
            self.add(ids, vectors)
            total += len(ids)
        return total

    @property
    def needs_compaction(self) -> bool:
        return False
