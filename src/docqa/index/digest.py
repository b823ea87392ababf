"""Order-independent content digest of a set of (id, embedding) rows.

row_hash = xxh3_64(embedding bytes, seed=id); digest = sum of row hashes
mod 2**64, together with the count. Equal sets give equal digests whatever
the order; one changed float, a swapped id, a missing or extra row changes
it (up to a 2**-64 chance). Adding and removing rows updates the digest in
O(changed rows), so the index never rescans itself to know its digest.
"""

from __future__ import annotations

import numpy as np
import xxhash

MASK = (1 << 64) - 1


def row_hashes(ids: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    if vectors.dtype != np.dtype("<f4") or vectors.ndim != 2 or vectors.strides[1] != 4:
        vectors = np.ascontiguousarray(vectors, dtype="<f4")  # each row must be one contiguous buffer; the array need not be
    out = np.empty(len(ids), dtype=np.uint64)
    h = xxhash.xxh3_64_intdigest
    for i, (row_id, row) in enumerate(zip(ids.tolist(), vectors)):
        out[i] = h(row, seed=row_id & MASK)
    return out


def combine(hashes: np.ndarray) -> int:
    return int(hashes.sum(dtype=np.uint64))


def digest_of(ids: np.ndarray, vectors: np.ndarray) -> int:
    return combine(row_hashes(ids, vectors))


def add(a: int, b: int) -> int:
    return (a + b) & MASK


def sub(a: int, b: int) -> int:
    return (a - b) & MASK


def to_hex(value: int) -> str:
    return f"{value & MASK:016x}"


def from_hex(text: str) -> int:
    return int(text, 16) & MASK
