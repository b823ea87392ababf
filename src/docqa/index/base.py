"""The vector index interface. Implementations: flat (default) and hnsw.

An index holds exactly the stored float32 embeddings keyed by chunk id, with
each row's hash as the database defines it (docqa.storage.rowhash), and keeps
its count and content digest (the sum of those hashes) up to date on every
add/remove. It knows nothing about SQL; the sync engine is its only writer.

Removal means gone: once `remove` returns, the removed rows' vector bytes are
no longer in any buffer the index will write to disk (each implementation says
how in its `_remove`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from docqa.index import digest as dg

Ids = npt.NDArray[np.int64]
Vectors = npt.NDArray[np.float32]
Hashes = npt.NDArray[np.uint64]
Scores = npt.NDArray[np.float32]
Block = tuple[Ids, Vectors, Hashes]


def empty_ids() -> Ids:
    return np.empty(0, dtype=np.int64)


def empty_hashes() -> Hashes:
    return np.empty(0, dtype=np.uint64)


def no_hits(m: int, k: int) -> tuple[Scores, Ids]:
    k = max(k, 0)
    return np.full((m, k), -np.inf, dtype=np.float32), np.full((m, k), -1, dtype=np.int64)


class VectorIndex(ABC):
    kind: str = ""
    metric: str = "inner_product"
    # parameters fixed when the index is built: a snapshot built with other values is rebuilt
    BUILD_PARAMS: tuple[str, ...] = ()

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.digest = 0
        # set by `read` when the index it read differs from its files in a way the next snapshot must
        # carry (HNSW: tombstoned vectors an older version saved, zeroed now): the loader saves it again
        self.rewrite_due = False

    @classmethod
    def create(cls, dim: int, params: Mapping[str, Any]) -> VectorIndex:
        """An empty index of this type built with `params` (the keys it does not know are ignored)."""
        return cls(dim)

    # --- writes (sync engine only) ---
    def add(self, ids: npt.ArrayLike, vectors: npt.ArrayLike, hashes: npt.ArrayLike) -> None:
        """Add rows (ids not present) with their row hashes as read from the database."""
        ids_ = np.ascontiguousarray(ids, dtype=np.int64)
        vectors_ = np.ascontiguousarray(vectors, dtype=np.float32)
        hashes_ = np.ascontiguousarray(hashes, dtype=np.uint64)
        if len(ids_) == 0:
            return
        if vectors_.shape != (len(ids_), self.dim):
            raise ValueError(f"vectors shape {vectors_.shape} does not match ({len(ids_)}, {self.dim})")
        if hashes_.shape != (len(ids_),):
            raise ValueError(f"{len(hashes_)} row hashes for {len(ids_)} rows")
        self._add(ids_, vectors_, hashes_)
        self.digest = dg.add(self.digest, dg.combine(hashes_))

    def remove(self, ids: npt.ArrayLike) -> Ids:
        """Remove the given ids where present. Returns the ids that were present."""
        wanted: Ids = np.unique(np.asarray(ids, dtype=np.int64))
        present, hashes = self.hashes_of(wanted)
        if len(present):
            self._remove(present)
            self.digest = dg.sub(self.digest, dg.combine(hashes))
        return present

    def upsert(self, ids: npt.ArrayLike, vectors: npt.ArrayLike, hashes: npt.ArrayLike) -> None:
        self.remove(ids)
        self.add(ids, vectors, hashes)

    @abstractmethod
    def _add(self, ids: Ids, vectors: Vectors, hashes: Hashes) -> None: ...

    @abstractmethod
    def _remove(self, ids: Ids) -> None:
        """Remove present ids; their vector bytes must leave every buffer `write` saves."""

    # --- reads ---
    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def get(self, ids: npt.ArrayLike) -> tuple[Ids, Vectors]:
        """(present ids, their vectors) among `ids`."""

    @abstractmethod
    def hashes_of(self, ids: npt.ArrayLike) -> tuple[Ids, Hashes]:
        """(present ids, their row hashes) among `ids`."""

    @abstractmethod
    def content_hashes(self) -> tuple[Ids, Hashes]:
        """(ids, row hashes) of everything in the index, for finding the ids that differ."""

    @abstractmethod
    def contents(self) -> tuple[Ids, Vectors]:
        """All (ids, vectors) currently in the index."""

    def raw_vectors(self) -> Vectors:
        """The vectors as FAISS holds them, by position, writable (tombstoned rows included).

        A seam for fault-injection tests and diagnostics only: writing here changes vectors under
        the row hashes kept with them (a bookkeeping bug, a flipped bit), which only the deep
        check can see. The engine never writes through it."""
        return self._storage()

    def rows_of(self, ids: npt.ArrayLike) -> Ids:
        """The row of each present id in `raw_vectors()`, in the order given (absent ids left out)."""
        return self._rows_of(np.asarray(ids, dtype=np.int64).reshape(-1))

    @abstractmethod
    def _storage(self) -> Vectors: ...

    @abstractmethod
    def _rows_of(self, ids: Ids) -> Ids: ...

    @abstractmethod
    def search(
        self, queries: npt.ArrayLike, k: int, allowed: npt.ArrayLike | None = None, ef_search: int | None = None
    ) -> tuple[Scores, Ids]:
        """(scores, ids) each (m, k); missing slots have id -1. `allowed` restricts to those ids before ranking.

        `ef_search`: the query-time breadth of an approximate index for this call (ignored by exact ones).
        """

    # --- parameters ---
    def params(self) -> dict[str, Any]:
        return {}

    @classmethod
    def build_params(cls, params: Mapping[str, Any] | None) -> dict[str, Any]:
        """The build-time parameters `params` resolve to (defaults filled in): a snapshot whose manifest
        records other values is rebuilt, not loaded."""
        return {}

    def set_query_params(self, params: Mapping[str, Any]) -> None:
        """Apply the query-time parameters among `params` (e.g. HNSW's ef_search); others are ignored."""
        del params  # an exact index has none

    # --- persistence ---
    @abstractmethod
    def write(self, directory: Path) -> list[str]:
        """Write the index files into `directory`; return their names."""

    @classmethod
    @abstractmethod
    def read(cls, directory: Path, dim: int, params: Mapping[str, Any]) -> VectorIndex: ...

    @classmethod
    def read_verified(
        cls, directory: Path, dim: int, params: Mapping[str, Any], files: Mapping[str, Any]
    ) -> VectorIndex | None:
        """Read and check the index files against the manifest's `files` in one pass, where the type can
        (flat); None: it cannot, and the caller checksums every file, then calls `read`."""
        return None

    @classmethod
    @abstractmethod
    def read_members(cls, directory: Path, dim: int, files: Mapping[str, Any]) -> tuple[Ids, Hashes]:
        """(ids, row hashes) a snapshot directory holds, read without loading its vectors (cheap).

        Unverified beyond the file layout: the caller checks them against the manifest's count and digest.
        """

    def content_blocks(self, rows: int = 65_536) -> Iterator[Block]:
        """(ids, vectors, row hashes) of everything in the index, a block at a time (call under a read lock).

        This default copies everything first; flat and HNSW override it to copy (or view) one block at a time.
        """
        ids, hashes = self.content_hashes()
        _, vectors = self.contents()
        for start in range(0, len(ids), rows):
            yield ids[start : start + rows], vectors[start : start + rows], hashes[start : start + rows]

    def recompute_digest(self) -> int:
        return dg.combine(self.content_hashes()[1])

    def bulk_load(self, expected: int, batches: Iterable[Block]) -> int:
        """Fill an empty index from streamed (ids, vectors, hashes) batches. Returns rows loaded."""
        total = 0
        for ids, vectors, hashes in batches:
            self.add(ids, vectors, hashes)
            total += len(ids)
        return total

    def compaction_due(self, removed: int = 0, added: int = 0) -> bool:
        """Whether the index needs a rebuild to reclaim removed rows, after `removed` more removals and
        `added` more rows (what a catch-up would do; 0, 0: now)."""
        return False

    @property
    def needs_compaction(self) -> bool:
        return self.compaction_due()
