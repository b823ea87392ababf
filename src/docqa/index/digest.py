"""Order-independent content digest of a set of rows from their 64-bit row hashes.

digest = sum of row hashes mod 2**64, together with the count. Equal sets
give equal digests whatever the order; one changed float, a swapped id, a
missing or extra row changes it (up to a 2**-64 chance). Adding and removing
rows updates it in O(changed rows), so the index never rescans itself to know
its digest. What a row hash is (a function of id and embedding bytes) is the
database backend's definition: docqa.storage.rowhash.
"""

from __future__ import annotations

import numpy as np

MASK = (1 << 64) - 1


def combine(hashes: np.ndarray) -> int:
    return int(np.asarray(hashes, dtype=np.uint64).sum(dtype=np.uint64))


def add(a: int, b: int) -> int:
    return (a + b) & MASK


def sub(a: int, b: int) -> int:
    return (a - b) & MASK


def to_hex(value: int) -> str:
    return f"{value & MASK:016x}"


def from_hex(text: str) -> int:
    return int(text, 16) & MASK
