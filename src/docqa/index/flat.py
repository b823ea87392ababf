"""Exact inner-product search over all vectors: IndexIDMap2(IndexFlatIP)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import faiss
import numpy as np

from docqa.index import digest as dg
from docqa.index.base import VectorIndex


class FlatIndex(VectorIndex):
    kind = "flat"

    def __init__(self, dim: int, index: faiss.Index | None = None) -> None:
        super().__init__(dim)
        self.index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def _add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self.index.add_with_ids(vectors, ids)

    def _remove(self, ids: np.ndarray) -> None:
        self.index.remove_ids(faiss.IDSelectorBatch(ids))

    def _id_map(self) -> np.ndarray:
        return faiss.vector_to_array(self.index.id_map).astype(np.int64, copy=False)

    def _storage(self) -> np.ndarray:
        n = len(self)
        inner = faiss.downcast_index(self.index.index)
        if n == 0:
            return np.empty((0, self.dim), dtype=np.float32)
        return faiss.rev_swig_ptr(inner.get_xb(), n * self.dim).reshape(n, self.dim)

    def get(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) == 0 or len(self) == 0:
            return np.empty(0, dtype=np.int64), np.empty((0, self.dim), dtype=np.float32)
        id_map = self._id_map()
        mask = np.isin(id_map, ids)
        return id_map[mask].copy(), self._storage()[mask].copy()

    def contents(self) -> tuple[np.ndarray, np.ndarray]:
        return self._id_map().copy(), self._storage().copy()

    def content_hashes(self) -> tuple[np.ndarray, np.ndarray]:
        ids = self._id_map()
        return ids.copy(), dg.row_hashes(ids, self._storage())

    def bulk_load(self, expected: int, batches: Iterable[tuple[np.ndarray, np.ndarray]]) -> int:
        """Stream straight into preallocated FAISS storage: peak memory ~1x the vectors, not 2x."""
        if len(self) or expected <= 0:
            return super().bulk_load(expected, batches)
        inner = faiss.downcast_index(self.index.index)
        inner.codes.resize(expected * self.dim * 4)
        xb = faiss.rev_swig_ptr(inner.get_xb(), expected * self.dim).reshape(expected, self.dim)
        all_ids = np.empty(expected, dtype=np.int64)
        filled = 0
        overflow: list[tuple[np.ndarray, np.ndarray]] = []
        for ids, vectors in batches:
            room = min(len(ids), expected - filled)
            xb[filled : filled + room] = vectors[:room]
            all_ids[filled : filled + room] = ids[:room]
            self.digest = dg.add(self.digest, dg.digest_of(ids[:room], vectors[:room]))
            filled += room
            if room < len(ids):
                overflow.append((ids[room:].copy(), np.array(vectors[room:], dtype=np.float32)))
        inner.codes.resize(filled * self.dim * 4)
        inner.ntotal = filled
        self.index.id_map.resize(filled)
        if filled:
            faiss.rev_swig_ptr(self.index.id_map.data(), filled)[:] = all_ids[:filled]
        self.index.ntotal = filled
        self.index.construct_rev_map()
        for ids, vectors in overflow:
            self.add(ids, vectors)
        return filled + sum(len(ids) for ids, _ in overflow)

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        if len(self) == 0 or k <= 0:
            m = len(queries)
            return np.full((m, max(k, 0)), -np.inf, dtype=np.float32), np.full((m, max(k, 0)), -1, dtype=np.int64)
        params = None
        if allowed is not None:
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64)))
        scores, ids = self.index.search(queries, k, params=params)
        return scores, ids

    def write(self, directory: Path) -> list[str]:
        faiss.write_index(self.index, str(directory / "index.faiss"))
        return ["index.faiss"]

    @classmethod
    def read(cls, directory: Path, dim: int, params: dict) -> "FlatIndex":
        # read_index already returns the concrete class; a downcast wrapper would not own the memory
        index = faiss.read_index(str(directory / "index.faiss"))
        if not isinstance(index, faiss.IndexIDMap2) or index.d != dim:
            raise ValueError("index.faiss is not a flat id-mapped index of the expected dimension")
        if not isinstance(faiss.downcast_index(index.index), faiss.IndexFlatIP):
            raise ValueError("index.faiss does not wrap an exact inner-product index")
        return cls(dim, index)
