"""The vector index interface. Implementations: flat (default) and hnsw.

An index holds exactly the stored float32 embeddings keyed by chunk id, with
each row's hash as the database defines it (docqa.storage.rowhash), and keeps
its count and content digest (the sum of those hashes) up to date on every
add/remove. It knows nothing about SQL; the sync engine is its only writer.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from docqa.index import digest as dg


class VectorIndex(ABC):
    kind: str = ""
    metric: str = "inner_product"

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.digest = 0

    # --- writes (sync engine only) ---
    def add(self, ids: np.ndarray, vectors: np.ndarray, hashes: np.ndarray) -> None:
        """Add rows (ids not present) with their row hashes as read from the database."""
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        hashes = np.ascontiguousarray(hashes, dtype=np.uint64)
        if len(ids) == 0:
            return
        if vectors.shape != (len(ids), self.dim):
            raise ValueError(f"vectors shape {vectors.shape} does not match ({len(ids)}, {self.dim})")
        if hashes.shape != (len(ids),):
            raise ValueError(f"{len(hashes)} row hashes for {len(ids)} rows")
        self._add(ids, vectors, hashes)
        self.digest = dg.add(self.digest, dg.combine(hashes))

    def remove(self, ids: np.ndarray) -> np.ndarray:
        """Remove the given ids where present. Returns the ids that were present."""
        ids = np.unique(np.asarray(ids, dtype=np.int64))
        present, hashes = self.hashes_of(ids)
        if len(present):
            self._remove(present)
            self.digest = dg.sub(self.digest, dg.combine(hashes))
        return present

    def upsert(self, ids: np.ndarray, vectors: np.ndarray, hashes: np.ndarray) -> None:
        self.remove(ids)
        self.add(ids, vectors, hashes)

    # --- reads ---
    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def _add(self, ids: np.ndarray, vectors: np.ndarray, hashes: np.ndarray) -> None: ...

    @abstractmethod
    def _remove(self, ids: np.ndarray) -> None: ...

    @abstractmethod
    def get(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(present ids, their vectors) among `ids`."""

    @abstractmethod
    def hashes_of(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(present ids, their row hashes) among `ids`."""

    @abstractmethod
    def content_hashes(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, row hashes) of everything in the index, for finding the ids that differ."""

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
    def read(cls, directory: Path, dim: int, params: dict) -> VectorIndex: ...

    def params(self) -> dict:
        return {}

    def content_blocks(self, rows: int = 65_536) -> Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(ids, vectors, row hashes) of everything in the index, a block at a time (call under a read lock).

        This default copies everything first; flat and HNSW override it to copy (or view) one block at a time.
        """
        ids, hashes = self.content_hashes()
        _, vectors = self.contents()
        for start in range(0, len(ids), rows):
            yield ids[start : start + rows], vectors[start : start + rows], hashes[start : start + rows]

    def recompute_digest(self) -> int:
        return dg.combine(self.content_hashes()[1])

    def bulk_load(self, expected: int, batches: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> int:
        """Fill an empty index from streamed (ids, vectors, hashes) batches. Returns rows loaded."""
        total = 0
        for ids, vectors, hashes in batches:
            self.add(ids, vectors, hashes)
            total += len(ids)
        return total

    @property
    def needs_compaction(self) -> bool:
        return False
