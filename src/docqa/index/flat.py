"""Exact inner-product search over all vectors: IndexIDMap2(IndexFlatIP).

Storage is allocated with headroom (HEADROOM) when the index is bulk-loaded or
read from a snapshot: FAISS keeps its vectors in one std::vector, and the first
add beyond its capacity copies all of it (1.5 GB at 1M x 384; 3 s on this
machine under load), which would otherwise land on the first catch-up after
every start.
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt
import xxhash

from docqa.index import digest as dg
from docqa.index.base import Block, Hashes, Ids, Scores, VectorIndex, Vectors, empty_hashes, empty_ids, no_hits

HEADROOM_FRACTION = 0.05
HEADROOM_MIN_ROWS = 1_024
# FAISS's serialisation of IndexIDMap2(IndexFlatIP): per index a fourcc and the header
# d:int32, ntotal:int64, two int64 placeholders, is_trained:uint8, metric_type:int32;
# then the vectors (uint64 count of floats + data) and the ids (uint64 count + int64 data).
_HEADER = struct.Struct("<4siqqqBi")
_METRIC_INNER_PRODUCT = 0
_READ_BLOCK = 8 << 20
HASHES_FILE = "hashes.npy"


class ChecksumMismatch(ValueError):
    """The file read does not have the checksum its manifest records."""


class UnsupportedLayout(ValueError):
    """The file is not the plain layout `read_verified` understands; use the generic path."""


def _capacity(rows: int) -> int:
    return rows + max(HEADROOM_MIN_ROWS, int(rows * HEADROOM_FRACTION))


class FlatIndex(VectorIndex):
    kind = "flat"

    def __init__(self, dim: int, index: Any = None, hashes: Hashes | None = None) -> None:
        super().__init__(dim)
        self.index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        # row hashes by position, like FAISS's id_map; a buffer with headroom, the first len(self) valid
        self._hbuf: Hashes = np.zeros(0, dtype=np.uint64)
        if hashes is not None:
            if len(hashes) != len(self):
                raise ValueError(f"{len(hashes)} row hashes for {len(self)} vectors")
            self._hbuf = np.ascontiguousarray(hashes, dtype=np.uint64)
        elif len(self):
            raise ValueError("an index with vectors needs their row hashes")

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def _add(self, ids: Ids, vectors: Vectors, hashes: Hashes) -> None:
        n = len(self)
        self._reserve_hashes(n + len(ids))
        self.index.add_with_ids(vectors, ids)
        self._hbuf[n : n + len(ids)] = hashes

    def _reserve_hashes(self, rows: int) -> None:
        if len(self._hbuf) < rows:
            grown = np.zeros(max(rows, 2 * len(self._hbuf)), dtype=np.uint64)
            grown[: len(self)] = self._hbuf[: len(self)]
            self._hbuf = grown

    def _hashes(self) -> Hashes:
        return self._hbuf[: len(self)]

    def _remove(self, ids: Ids) -> None:
        """Remove by moving the last rows into the holes: O(removed) row moves.

        FAISS's own remove_ids compacts the whole index in order (a scan and a
        memmove of up to all 1.5 GB at 1M x 384: 0.2 s even for one id), which
        made every catch-up with an update or delete cost O(N). Row order is
        not meaningful (ids map positions), so filling holes from the tail is
        equivalent. The id -> position map of IndexIDMap2 is rebuilt (O(N)
        but cheap, ~0.04 s at 1M).

        Delete means gone: a removed row is either overwritten by a mover or
        lies past the new end, and the vacated tail is zeroed before FAISS's
        size shrinks, so neither the next snapshot (which writes only the first
        `keep` rows) nor the buffer's spare capacity keeps the removed vectors.
        """
        n = len(self)
        id_map = self._id_map()
        pos = np.flatnonzero(np.isin(id_map, ids))
        if len(pos) == 0:
            return
        keep = n - len(pos)
        holes = pos[pos < keep]
        movers = np.setdiff1d(np.arange(keep, n, dtype=np.int64), pos, assume_unique=True)
        storage = self._storage()
        storage[holes] = storage[movers]
        storage[keep:n] = 0  # the removed rows and the movers' old copies: nothing removed stays in memory
        id_map[holes] = id_map[movers]
        self._hbuf[holes] = self._hbuf[movers]
        self._hbuf[keep:n] = 0
        inner = faiss.downcast_index(self.index.index)
        inner.codes.resize(keep * self.dim * 4)  # shrinking keeps the capacity
        inner.ntotal = keep
        self.index.id_map.resize(keep)
        self.index.ntotal = keep
        self.index.construct_rev_map()

    def _id_map(self) -> Ids:
        """The ids by position: a view into FAISS's own array (copy it to keep it)."""
        n = len(self)
        if n == 0:
            return np.empty(0, dtype=np.int64)
        ids: Ids = faiss.rev_swig_ptr(self.index.id_map.data(), n)
        return ids

    def _storage(self) -> Vectors:
        n = len(self)
        inner = faiss.downcast_index(self.index.index)
        if n == 0:
            return np.empty((0, self.dim), dtype=np.float32)
        xb: Vectors = faiss.rev_swig_ptr(inner.get_xb(), n * self.dim).reshape(n, self.dim)
        return xb

    def _rows_of(self, ids: Ids) -> Ids:
        where = {int(chunk_id): row for row, chunk_id in enumerate(self._id_map().tolist())}
        return np.array([where[i] for i in ids.tolist() if i in where], dtype=np.int64)

    def get(self, ids: npt.ArrayLike) -> tuple[Ids, Vectors]:
        wanted = np.asarray(ids, dtype=np.int64)
        if len(wanted) == 0 or len(self) == 0:
            return empty_ids(), np.empty((0, self.dim), dtype=np.float32)
        id_map = self._id_map()
        mask = np.isin(id_map, wanted)
        return id_map[mask].copy(), self._storage()[mask].copy()

    def hashes_of(self, ids: npt.ArrayLike) -> tuple[Ids, Hashes]:
        wanted = np.asarray(ids, dtype=np.int64)
        if len(wanted) == 0 or len(self) == 0:
            return empty_ids(), empty_hashes()
        id_map = self._id_map()
        mask = np.isin(id_map, wanted)
        return id_map[mask].copy(), self._hashes()[mask].copy()

    def contents(self) -> tuple[Ids, Vectors]:
        return self._id_map().copy(), self._storage().copy()

    def content_hashes(self) -> tuple[Ids, Hashes]:
        return self._id_map().copy(), self._hashes().copy()

    def content_blocks(self, rows: int = 65_536) -> Iterator[Block]:
        ids, storage, hashes = self._id_map(), self._storage(), self._hashes()  # views: nothing copied
        for start in range(0, len(ids), rows):
            yield ids[start : start + rows], storage[start : start + rows], hashes[start : start + rows]

    def bulk_load(self, expected: int, batches: Iterable[Block]) -> int:
        """Stream straight into preallocated FAISS storage: peak memory ~1x the vectors, not 2x."""
        if len(self) or expected <= 0:
            return super().bulk_load(expected, batches)
        inner = faiss.downcast_index(self.index.index)
        inner.codes.resize(_capacity(expected) * self.dim * 4)  # shrunk to `filled` below; the capacity stays
        xb = faiss.rev_swig_ptr(inner.get_xb(), expected * self.dim).reshape(expected, self.dim)
        all_ids: Ids = np.empty(expected, dtype=np.int64)
        self._hbuf = np.zeros(_capacity(expected), dtype=np.uint64)
        filled = 0
        overflow: list[Block] = []
        for ids, vectors, hashes in batches:
            room = min(len(ids), expected - filled)
            xb[filled : filled + room] = vectors[:room]
            all_ids[filled : filled + room] = ids[:room]
            self._hbuf[filled : filled + room] = hashes[:room]
            self.digest = dg.add(self.digest, dg.combine(hashes[:room]))
            filled += room
            if room < len(ids):
                overflow.append((ids[room:].copy(), np.array(vectors[room:], dtype=np.float32), hashes[room:].copy()))
            del ids, vectors, hashes  # let the batch buffer go before the next one is read
        inner.codes.resize(filled * self.dim * 4)
        inner.ntotal = filled
        self.index.id_map.resize(filled)
        if filled:
            faiss.rev_swig_ptr(self.index.id_map.data(), filled)[:] = all_ids[:filled]
        self.index.ntotal = filled
        self.index.construct_rev_map()
        for ids, vectors, hashes in overflow:
            self.add(ids, vectors, hashes)
        return filled + sum(len(ids) for ids, _, _ in overflow)

    def search(
        self, queries: npt.ArrayLike, k: int, allowed: npt.ArrayLike | None = None, ef_search: int | None = None
    ) -> tuple[Scores, Ids]:
        q = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        if len(self) == 0 or k <= 0:
            return no_hits(len(q), k)
        if allowed is None:
            scores, ids = self.index.search(q, k)
        else:
            sel = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
            scores, ids = self.index.search(q, k, params=faiss.SearchParameters(sel=sel))
        return scores, ids

    def write(self, directory: Path) -> list[str]:
        faiss.write_index(self.index, str(directory / "index.faiss"))
        np.save(directory / HASHES_FILE, self._hashes(), allow_pickle=False)
        return ["index.faiss", HASHES_FILE]

    @classmethod
    def read_verified(cls, directory: Path, dim: int, params: Mapping[str, Any], files: Mapping[str, Any]) -> FlatIndex:
        """Read index.faiss in one pass, straight into storage with headroom, checking its
        size and xxh3 (as recorded in the manifest's `files`) on the way.

        Nothing read is trusted before it is checked against the manifest-sized
        layout, so a damaged file cannot make us allocate more than the recorded
        size. Raises ChecksumMismatch, or UnsupportedLayout when the file is not
        the plain IndexIDMap2(IndexFlatIP) layout (the caller then falls back to
        checksum + faiss.read_index).
        """
        path = directory / "index.faiss"
        with open(path, "rb", buffering=0) as fh:
            head, n = _read_header(fh, dim, files)
            digest = xxhash.xxh3_64(head)
            index = cls(dim)
            flat = faiss.downcast_index(index.index.index)
            flat.codes.resize(_capacity(n) * dim * 4)
            if n:
                xb = faiss.rev_swig_ptr(flat.get_xb(), n * dim)
                _read_into(fh, memoryview(xb.view(np.uint8)), digest)
            flat.codes.resize(n * dim * 4)
            count = fh.read(8)
            digest.update(count)
            if struct.unpack("<Q", count)[0] != n:
                raise UnsupportedLayout("id count does not match the vector count")
            index.index.id_map.resize(n)
            if n:
                ids = faiss.rev_swig_ptr(index.index.id_map.data(), n)
                _read_into(fh, memoryview(ids.view(np.uint8)), digest)
            if fh.read(1):
                raise UnsupportedLayout("trailing bytes")
        if digest.hexdigest() != (files.get("index.faiss") or {}).get("xxh3"):
            raise ChecksumMismatch("index.faiss checksum does not match the manifest (corrupt)")
        flat.ntotal = n
        index.index.ntotal = n
        flat.is_trained = True
        index.index.is_trained = True
        index.index.construct_rev_map()
        hashes = read_hashes(directory, n)
        index._hbuf = np.zeros(_capacity(n), dtype=np.uint64)
        index._hbuf[:n] = hashes
        return index

    @classmethod
    def read_members(cls, directory: Path, dim: int, files: Mapping[str, Any]) -> tuple[Ids, Hashes]:
        """The ids at the end of index.faiss and hashes.npy, without reading the vectors."""
        try:
            with open(directory / "index.faiss", "rb", buffering=0) as fh:
                head, n = _read_header(fh, dim, files)
                fh.seek(len(head) + n * dim * 4)
                count = fh.read(8)
                data = fh.read(n * 8)
            if len(count) != 8 or struct.unpack("<Q", count)[0] != n or len(data) != n * 8:
                raise UnsupportedLayout("id block does not match the vector count")
            ids: Ids = np.frombuffer(data, dtype="<i8").astype(np.int64)
        except UnsupportedLayout:
            ids = cls.read(directory, dim, {}).content_hashes()[0]
        return ids, read_hashes(directory, len(ids))

    @classmethod
    def read(cls, directory: Path, dim: int, params: Mapping[str, Any]) -> FlatIndex:
        # read_index already returns the concrete class; a downcast wrapper would not own the memory
        index = faiss.read_index(str(directory / "index.faiss"))
        if not isinstance(index, faiss.IndexIDMap2) or index.d != dim:
            raise ValueError("index.faiss is not a flat id-mapped index of the expected dimension")
        if not isinstance(faiss.downcast_index(index.index), faiss.IndexFlatIP):
            raise ValueError("index.faiss does not wrap an exact inner-product index")
        return cls(dim, index, read_hashes(directory, int(index.ntotal)))


def read_hashes(directory: Path, count: int) -> Hashes:
    """The row hashes saved beside the vectors (one per position); checked against the vector count."""
    hashes: Hashes = np.load(directory / HASHES_FILE, allow_pickle=False)
    if hashes.dtype != np.uint64 or hashes.shape != (count,):
        raise ValueError(f"{HASHES_FILE} holds {hashes.dtype}{hashes.shape}, expected uint64 ({count},)")
    return hashes


def _read_header(fh: io.FileIO, dim: int, files: Mapping[str, Any]) -> tuple[bytes, int]:
    """(the header bytes, the vector count) of a plain IndexIDMap2(IndexFlatIP) file of the size the
    manifest records; UnsupportedLayout for anything else."""
    info = files.get("index.faiss") or {}
    size = os.fstat(fh.fileno()).st_size
    head = fh.read(2 * _HEADER.size + 8)
    if len(head) < 2 * _HEADER.size + 8:
        raise UnsupportedLayout("file shorter than its headers")
    outer, inner_h = _HEADER.unpack_from(head, 0), _HEADER.unpack_from(head, _HEADER.size)
    (n_floats,) = struct.unpack_from("<Q", head, 2 * _HEADER.size)
    n = int(outer[2])
    if (
        (outer[0], inner_h[0]) != (b"IxM2", b"IxFI")
        or outer[1] != dim
        or inner_h[1] != dim
        or inner_h[2] != n
        or outer[6] != _METRIC_INNER_PRODUCT
        or inner_h[6] != _METRIC_INNER_PRODUCT
        or n < 0
        or n_floats != n * dim
        or size != len(head) + n * dim * 4 + 8 + n * 8
        or size != info.get("size")
    ):
        raise UnsupportedLayout("not a plain IndexIDMap2(IndexFlatIP) file of the recorded size")
    return head, n


def _read_into(fh: io.FileIO, target: memoryview, digest: Any) -> None:
    """Fill `target` from `fh` in blocks, hashing each (xxhash releases the GIL)."""
    done, total = 0, len(target)
    while done < total:
        got = fh.readinto(target[done : min(total, done + _READ_BLOCK)])
        if not got:
            raise UnsupportedLayout("file ended early")
        digest.update(target[done : done + got])
        done += got
