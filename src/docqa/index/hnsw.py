"""Approximate search with HNSW. HNSW cannot remove vectors, so removals are
tombstones: the position stays in the graph but is excluded during search by
an id selector, and the engine compacts (rebuilds) once tombstones pile up.

Positions in the graph are mapped to chunk ids by `labels`; an updated chunk
gets a new position and its old one becomes a tombstone, so one chunk id never
has two live vectors.
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from docqa.index.base import VectorIndex

COMPACT_FRACTION = 0.2


class HnswIndex(VectorIndex):
    kind = "hnsw"

    def __init__(
        self,
        dim: int,
        m: int = 32,
        ef_construction: int = 80,
        ef_search: int = 128,
        index: faiss.Index | None = None,
        labels: np.ndarray | None = None,
        alive: np.ndarray | None = None,
        hashes: np.ndarray | None = None,
    ) -> None:
        super().__init__(dim)
        self.m, self.ef_construction, self.ef_search = m, ef_construction, ef_search
        if index is None:
            index = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = ef_construction
        self.index = index
        self.index.hnsw.efSearch = ef_search
        self.labels = labels if labels is not None else np.empty(0, dtype=np.int64)
        self.alive = alive if alive is not None else np.empty(0, dtype=bool)
        self.hashes = hashes if hashes is not None else np.empty(0, dtype=np.uint64)  # row hash by position
        self._pos = {int(label): i for i, label in enumerate(self.labels) if self.alive[i]}
        self._bitmap: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self._pos)

    @property
    def tombstones(self) -> int:
        return int(len(self.labels) - len(self._pos))

    @property
    def needs_compaction(self) -> bool:
        return self.tombstones > max(1000, COMPACT_FRACTION * len(self.labels))

    def _add(self, ids: np.ndarray, vectors: np.ndarray, hashes: np.ndarray) -> None:
        dup = [int(i) for i in ids if int(i) in self._pos]
        if dup:
            raise ValueError(f"ids already present: {dup[:5]}")
        start = len(self.labels)
        self.index.add(vectors)
        self.labels = np.concatenate([self.labels, ids])
        self.alive = np.concatenate([self.alive, np.ones(len(ids), dtype=bool)])
        self.hashes = np.concatenate([self.hashes, hashes])
        for offset, chunk_id in enumerate(ids.tolist()):
            self._pos[chunk_id] = start + offset
        self._bitmap = None

    def _remove(self, ids: np.ndarray) -> None:
        for chunk_id in ids.tolist():
            pos = self._pos.pop(int(chunk_id), None)
            if pos is not None:
                self.alive[pos] = False
        self._bitmap = None

    def _vectors_at(self, positions: np.ndarray) -> np.ndarray:
        if len(positions) == 0:
            return np.empty((0, self.dim), dtype=np.float32)
        storage = faiss.downcast_index(self.index.storage)
        n = int(storage.ntotal)
        xb = faiss.rev_swig_ptr(storage.get_xb(), n * self.dim).reshape(n, self.dim)
        return xb[positions].copy()

    def get(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        found = [(int(i), self._pos[int(i)]) for i in np.asarray(ids).tolist() if int(i) in self._pos]
        if not found:
            return np.empty(0, dtype=np.int64), np.empty((0, self.dim), dtype=np.float32)
        present = np.array([f[0] for f in found], dtype=np.int64)
        return present, self._vectors_at(np.array([f[1] for f in found], dtype=np.int64))

    def hashes_of(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        found = [(int(i), self._pos[int(i)]) for i in np.asarray(ids).tolist() if int(i) in self._pos]
        present = np.array([f[0] for f in found], dtype=np.int64)
        return present, self.hashes[np.array([f[1] for f in found], dtype=np.int64)]

    def content_hashes(self) -> tuple[np.ndarray, np.ndarray]:
        positions = np.flatnonzero(self.alive)
        return self.labels[positions].copy(), self.hashes[positions].copy()

    def content_blocks(self, rows: int = 65_536):
        positions = np.flatnonzero(self.alive)
        for start in range(0, len(positions), rows):
            block = positions[start : start + rows]  # one block of vectors copied at a time, not all of them
            yield self.labels[block], self._vectors_at(block), self.hashes[block]

    def contents(self) -> tuple[np.ndarray, np.ndarray]:
        positions = np.flatnonzero(self.alive)
        return self.labels[positions].copy(), self._vectors_at(positions)

    def _selector_bitmap(self, allowed: np.ndarray | None) -> np.ndarray:
        if allowed is None:
            if self._bitmap is None:
                self._bitmap = np.packbits(self.alive, bitorder="little")
            return self._bitmap
        mask = np.zeros(len(self.labels), dtype=bool)
        positions = [self._pos[int(i)] for i in np.asarray(allowed).tolist() if int(i) in self._pos]
        mask[positions] = True
        return np.packbits(mask, bitorder="little")

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        m = len(queries)
        if len(self) == 0 or k <= 0:
            return np.full((m, max(k, 0)), -np.inf, dtype=np.float32), np.full((m, max(k, 0)), -1, dtype=np.int64)
        bitmap = self._selector_bitmap(allowed)
        sel = faiss.IDSelectorBitmap(len(self.labels), faiss.swig_ptr(bitmap))
        params = faiss.SearchParametersHNSW(sel=sel, efSearch=max(self.ef_search, k))
        scores, positions = self.index.search(queries, k, params=params)
        ids = np.where(positions >= 0, self.labels[np.clip(positions, 0, None)], -1)
        return scores, ids

    def params(self) -> dict:
        return {"m": self.m, "ef_construction": self.ef_construction, "ef_search": self.ef_search}

    def write(self, directory: Path) -> list[str]:
        faiss.write_index(self.index, str(directory / "index.faiss"))
        np.save(directory / "labels.npy", self.labels, allow_pickle=False)
        np.save(directory / "alive.npy", self.alive, allow_pickle=False)
        np.save(directory / "hashes.npy", self.hashes, allow_pickle=False)
        return ["index.faiss", "labels.npy", "alive.npy", "hashes.npy"]

    @classmethod
    def read(cls, directory: Path, dim: int, params: dict) -> HnswIndex:
        index = faiss.read_index(str(directory / "index.faiss"))
        labels = np.load(directory / "labels.npy", allow_pickle=False)
        alive = np.load(directory / "alive.npy", allow_pickle=False)
        hashes = np.load(directory / "hashes.npy", allow_pickle=False)
        if not isinstance(index, faiss.IndexHNSWFlat) or index.d != dim:
            raise ValueError("index.faiss is not an HNSW index of the expected dimension")
        if (
            int(index.ntotal) != len(labels)
            or len(labels) != len(alive)
            or hashes.shape != (len(labels),)
            or hashes.dtype != np.uint64
        ):
            raise ValueError("hnsw snapshot files disagree with each other")
        return cls(dim, index=index, labels=labels.astype(np.int64), alive=alive.astype(bool), hashes=hashes, **params)
