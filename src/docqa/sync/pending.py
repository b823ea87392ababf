"""What the change log holds past an index's position, read without applying it.

A sync applies it (`apply`); a check only computes what the index would be
after it (`count_after`, `digest_after`, `hashes_after`), so it can say
exactly what a sync would do while changing nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from docqa.index import digest as dg
from docqa.index.base import Hashes, Ids, VectorIndex, Vectors, empty_hashes, empty_ids
from docqa.storage import changes, vectors
from docqa.storage.db import Connection


@dataclass(frozen=True)
class Pending:
    touched: Ids  # distinct chunk ids with a change after the index's position
    ids: Ids  # those that are members now, with their current vectors and row hashes
    vectors: Vectors
    hashes: Hashes
    present: Ids  # those the index holds now, with the row hashes it keeps
    present_hashes: Hashes

    @classmethod
    def nothing(cls, dim: int) -> Pending:
        return cls(
            empty_ids(), empty_ids(), np.empty((0, dim), dtype=np.float32), empty_hashes(), empty_ids(), empty_hashes()
        )

    @property
    def count(self) -> int:
        return len(self.touched)

    @property
    def added(self) -> int:
        """An update is a remove + add of the same id: it counts once, as added."""
        return len(self.ids)

    @property
    def removed(self) -> int:
        return len(np.setdiff1d(self.present, self.ids))

    def apply(self, index: VectorIndex) -> None:
        index.remove(self.touched)
        index.add(self.ids, self.vectors, self.hashes)

    def count_after(self, index: VectorIndex) -> int:
        return len(index) - len(self.present) + len(self.ids)

    def digest_after(self, index: VectorIndex) -> int:
        return dg.add(dg.sub(index.digest, dg.combine(self.present_hashes)), dg.combine(self.hashes))

    def hashes_after(self, index: VectorIndex) -> tuple[Ids, Hashes]:
        ids, hashes = index.content_hashes()
        if self.count:
            keep = ~np.isin(ids, self.touched)
            ids, hashes = np.concatenate([ids[keep], self.ids]), np.concatenate([hashes[keep], self.hashes])
        return ids, hashes


def read_pending(conn: Connection, index: VectorIndex, collection: str, model: str, after: int, upto: int) -> Pending:
    if upto <= after:
        return Pending.nothing(index.dim)
    touched = changes.changed_chunk_ids(conn, collection, after, upto)
    ids, vecs, hashes = vectors.fetch_vectors(conn, collection, model, index.dim, touched)
    present, present_hashes = index.hashes_of(touched)
    return Pending(touched, ids, vecs, hashes, present, present_hashes)
