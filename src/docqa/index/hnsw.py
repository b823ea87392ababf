"""Approximate search with HNSW. HNSW cannot remove vectors, so removals are
tombstones: the position stays in the graph but is excluded during search by
an id selector, and the engine compacts (rebuilds) once tombstones pile up.

Positions in the graph are mapped to chunk ids by `labels`; an updated chunk
gets a new position and its old one becomes a tombstone, so one chunk id never
has two live vectors.

Delete means gone, for tombstones too. A tombstone's vector is overwritten
with zeros the moment it is removed, in the storage FAISS searches and saves,
so the next snapshot (and this process's memory) no longer holds its bytes.
Why overwrite, not compact before every save: compaction is a rebuild of the
whole graph (~18 s at 100k on this machine, minutes at 1M), which a trickle
of deletes would then pay every snapshot interval; zeroing costs O(removed).
What the zeroed node keeps is its place in the graph: its links to live
neighbours, which route searches through it. A zero vector scores 0 against
every query, as an unrelated vector would, so it still routes (slightly
worse, bounded by the compaction threshold) and is never returned (the
selector excludes it). The links say only "near these live chunks" — no more
than those chunks' own vectors, which are in the index anyway — and they go
with the next compaction (COMPACT_FRACTION of the graph, or any rebuild).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TypedDict

import faiss
import numpy as np
import numpy.typing as npt

from docqa.index.base import Block, Hashes, Ids, Scores, VectorIndex, Vectors, empty_ids, no_hits

COMPACT_FRACTION = 0.2
COMPACT_MIN_TOMBSTONES = 1000
DEFAULT_M = 32
DEFAULT_EF_CONSTRUCTION = 80
DEFAULT_EF_SEARCH = 64
DIRECT_LOOKUP_FACTOR = 4  # an id -> position table while the largest id is under 4x the live count
FILES = ("index.faiss", "labels.npy", "alive.npy", "hashes.npy")


class HnswIndex(VectorIndex):
    kind = "hnsw"
    BUILD_PARAMS = ("m", "ef_construction")

    def __init__(
        self,
        dim: int,
        m: int = DEFAULT_M,
        ef_construction: int = DEFAULT_EF_CONSTRUCTION,
        ef_search: int = DEFAULT_EF_SEARCH,
        index: Any = None,
        labels: Ids | None = None,
        alive: npt.NDArray[np.bool_] | None = None,
        hashes: Hashes | None = None,
    ) -> None:
        super().__init__(dim)
        self.m, self.ef_construction, self.ef_search = int(m), int(ef_construction), int(ef_search)
        if index is None:
            index = faiss.IndexHNSWFlat(dim, self.m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = self.ef_construction
        self.index = index
        self.index.hnsw.efSearch = self.ef_search
        self.labels: Ids = labels if labels is not None else empty_ids()
        self.alive: npt.NDArray[np.bool_] = alive if alive is not None else np.empty(0, dtype=bool)
        self.hashes: Hashes = hashes if hashes is not None else np.empty(0, dtype=np.uint64)  # by position
        self._pos = {int(label): i for i, label in enumerate(self.labels.tolist()) if self.alive[i]}
        self._changed()

    @classmethod
    def create(cls, dim: int, params: Mapping[str, Any]) -> HnswIndex:
        return cls(dim, **_known(params))

    def _changed(self) -> None:
        """Drop what searches cache about the live set (called on every add/remove, under the write lock)."""
        self._lookup: tuple[Ids, Ids, npt.NDArray[np.int32] | None] | None = None  # see _positions
        self._search_params: dict[int, tuple[Any, ...]] = {}  # ef -> (params, objects they point into)

    def __len__(self) -> int:
        return len(self._pos)

    @property
    def tombstones(self) -> int:
        return int(len(self.labels) - len(self._pos))

    def compaction_due(self, removed: int = 0, added: int = 0) -> bool:
        size = len(self.labels) + added
        return self.tombstones + removed > max(COMPACT_MIN_TOMBSTONES, COMPACT_FRACTION * size)

    # --- writes ---
    def _add(self, ids: Ids, vectors: Vectors, hashes: Hashes) -> None:
        dup = [i for i in ids.tolist() if i in self._pos]
        if dup:
            raise ValueError(f"ids already present: {dup[:5]}")
        start = len(self.labels)
        self.index.add(vectors)
        self.labels = np.concatenate([self.labels, ids])
        self.alive = np.concatenate([self.alive, np.ones(len(ids), dtype=bool)])
        self.hashes = np.concatenate([self.hashes, hashes])
        for offset, chunk_id in enumerate(ids.tolist()):
            self._pos[chunk_id] = start + offset
        self._changed()

    def _remove(self, ids: Ids) -> None:
        """Tombstone the positions and overwrite their vectors with zeros (see the module docstring)."""
        gone = [p for p in (self._pos.pop(i, None) for i in ids.tolist()) if p is not None]
        if gone:
            positions = np.asarray(gone, dtype=np.int64)
            self.alive[positions] = False
            self._storage()[positions] = 0.0
        self._changed()

    # --- reads ---
    def _storage(self) -> Vectors:
        storage = faiss.downcast_index(self.index.storage)
        n = int(storage.ntotal)
        if n == 0:
            return np.empty((0, self.dim), dtype=np.float32)
        xb: Vectors = faiss.rev_swig_ptr(storage.get_xb(), n * self.dim).reshape(n, self.dim)
        return xb

    def _vectors_at(self, positions: Ids) -> Vectors:
        if len(positions) == 0:
            return np.empty((0, self.dim), dtype=np.float32)
        return self._storage()[positions].copy()

    def _positions(self, ids: npt.ArrayLike) -> tuple[Ids, Ids]:
        """(present ids, their positions) among `ids`, in the order given, without a Python loop.

        Chunk ids come from a database sequence, so they are usually dense: then a direct id -> position
        table (int32, built once per change of the index) answers with one gather; else a sorted lookup.
        """
        if self._lookup is None:
            self._lookup = self._build_lookup()
        keys, positions, direct = self._lookup
        wanted = np.asarray(ids, dtype=np.int64).ravel()
        if len(keys) == 0 or len(wanted) == 0:
            return empty_ids(), empty_ids()
        if direct is not None:
            inside = (wanted >= 0) & (wanted < len(direct))
            if not inside.all():
                wanted = wanted[inside]
            found = direct[wanted]
            hit = found >= 0
            return wanted[hit], found[hit].astype(np.int64)
        at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
        hit = keys[at] == wanted
        return wanted[hit], positions[at[hit]]

    def _build_lookup(self) -> tuple[Ids, Ids, npt.NDArray[np.int32] | None]:
        live = np.flatnonzero(self.alive).astype(np.int64)
        order = np.argsort(self.labels[live], kind="stable")
        keys, positions = self.labels[live][order], live[order]
        direct = None
        if (
            len(keys)
            and keys[0] >= 0
            and keys[-1] < DIRECT_LOOKUP_FACTOR * len(keys) + 1024
            and len(self.labels) < 2**31
        ):
            direct = np.full(int(keys[-1]) + 1, -1, dtype=np.int32)
            direct[keys] = positions
        return keys, positions, direct

    def _rows_of(self, ids: Ids) -> Ids:
        return np.array([self._pos[i] for i in ids.tolist() if i in self._pos], dtype=np.int64)

    def get(self, ids: npt.ArrayLike) -> tuple[Ids, Vectors]:
        present, positions = self._positions(ids)
        return present, self._vectors_at(positions)

    def hashes_of(self, ids: npt.ArrayLike) -> tuple[Ids, Hashes]:
        present, positions = self._positions(ids)
        return present, self.hashes[positions]

    def content_hashes(self) -> tuple[Ids, Hashes]:
        positions = np.flatnonzero(self.alive)
        return self.labels[positions].copy(), self.hashes[positions].copy()

    def content_blocks(self, rows: int = 65_536) -> Iterator[Block]:
        positions = np.flatnonzero(self.alive)
        for start in range(0, len(positions), rows):
            block = positions[start : start + rows]  # one block of vectors copied at a time, not all of them
            yield self.labels[block], self._vectors_at(block), self.hashes[block]

    def contents(self) -> tuple[Ids, Vectors]:
        positions = np.flatnonzero(self.alive)
        return self.labels[positions].copy(), self._vectors_at(positions)

    # --- search ---
    def _params_for(self, ef: int, allowed: npt.ArrayLike | None) -> tuple[Any, ...]:
        """SearchParametersHNSW for one search, with the objects it points into (kept alive by the caller).

        Unfiltered searches reuse one cached set per ef; with no tombstones they need no selector at all
        (the per-visited-node membership test is most of what a filtered search costs over raw FAISS).
        """
        if allowed is None:
            cached = self._search_params.get(ef)
            if cached is not None:
                return cached
            if self.tombstones == 0:
                made: tuple[Any, ...] = (faiss.SearchParametersHNSW(efSearch=ef),)
            else:
                made = self._selected(ef, self.alive)
            self._search_params[ef] = made
            return made
        mask = np.zeros(len(self.labels), dtype=bool)
        mask[self._positions(allowed)[1]] = True
        return self._selected(ef, mask)

    def _selected(self, ef: int, mask: npt.NDArray[np.bool_]) -> tuple[Any, ...]:
        bitmap = np.packbits(mask, bitorder="little")
        sel = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bitmap))
        return faiss.SearchParametersHNSW(sel=sel, efSearch=ef), sel, bitmap

    def search(
        self, queries: npt.ArrayLike, k: int, allowed: npt.ArrayLike | None = None, ef_search: int | None = None
    ) -> tuple[Scores, Ids]:
        q = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        if len(self) == 0 or k <= 0:
            return no_hits(len(q), k)
        held = self._params_for(max(int(ef_search or self.ef_search), k), allowed)
        scores, positions = self.index.search(q, k, params=held[0])
        ids: Ids = np.where(positions >= 0, self.labels[np.maximum(positions, 0)], -1)
        return scores, ids

    # --- parameters ---
    def params(self) -> dict[str, Any]:
        return {"m": self.m, "ef_construction": self.ef_construction, "ef_search": self.ef_search}

    @classmethod
    def build_params(cls, params: Mapping[str, Any] | None) -> dict[str, Any]:
        params = params or {}
        return {
            "m": int(params.get("m", DEFAULT_M)),
            "ef_construction": int(params.get("ef_construction", DEFAULT_EF_CONSTRUCTION)),
        }

    def set_query_params(self, params: Mapping[str, Any]) -> None:
        if params.get("ef_search") is not None:
            self.ef_search = int(params["ef_search"])
            self.index.hnsw.efSearch = self.ef_search
            self._search_params = {}

    # --- persistence ---
    def write(self, directory: Path) -> list[str]:
        faiss.write_index(self.index, str(directory / "index.faiss"))
        np.save(directory / "labels.npy", self.labels, allow_pickle=False)
        np.save(directory / "alive.npy", self.alive, allow_pickle=False)
        np.save(directory / "hashes.npy", self.hashes, allow_pickle=False)
        return list(FILES)

    @classmethod
    def read(cls, directory: Path, dim: int, params: Mapping[str, Any]) -> HnswIndex:
        index = faiss.read_index(str(directory / "index.faiss"))
        labels, alive, hashes = _read_arrays(directory)
        if not isinstance(index, faiss.IndexHNSWFlat) or index.d != dim:
            raise ValueError("index.faiss is not an HNSW index of the expected dimension")
        if int(index.ntotal) != len(labels):
            raise ValueError("hnsw snapshot files disagree with each other")
        loaded = cls(dim, index=index, labels=labels, alive=alive, hashes=hashes, **_known(params))
        dead = np.flatnonzero(~alive)
        if len(dead) and np.any(loaded._storage()[dead]):  # saved before tombstones were zeroed: zero them now
            loaded._storage()[dead] = 0.0
            loaded.rewrite_due = True
        return loaded

    @classmethod
    def read_members(cls, directory: Path, dim: int, files: Mapping[str, Any]) -> tuple[Ids, Hashes]:
        labels, alive, hashes = _read_arrays(directory)
        return labels[alive], hashes[alive]


class _Params(TypedDict, total=False):
    m: int
    ef_construction: int
    ef_search: int


def _known(params: Mapping[str, Any]) -> _Params:
    known = _Params()
    for key in ("m", "ef_construction", "ef_search"):
        if params.get(key) is not None:
            known[key] = int(params[key])
    return known


def _read_arrays(directory: Path) -> tuple[Ids, npt.NDArray[np.bool_], Hashes]:
    labels = np.load(directory / "labels.npy", allow_pickle=False)
    alive = np.load(directory / "alive.npy", allow_pickle=False)
    hashes = np.load(directory / "hashes.npy", allow_pickle=False)
    if len(labels) != len(alive) or hashes.shape != (len(labels),) or hashes.dtype != np.uint64:
        raise ValueError("hnsw snapshot files disagree with each other")
    return labels.astype(np.int64), alive.astype(bool), hashes
