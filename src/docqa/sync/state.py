"""The engine's configuration, and the index a collection serves from with what the engine knows about it.

Searches read it under a shared lock; a sync changes it under the exclusive
one (`changing`) or swaps in a new one (`install`). `dirty` says the index
changed since the snapshot on disk was written or loaded.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from docqa.errors import ServiceDegraded
from docqa.index.base import Ids, Scores, VectorIndex
from docqa.sync.rwlock import RWLock


@dataclass(frozen=True)
class EngineConfig:
    collection: str
    model: str
    dim: int
    index_root: Path
    index_type: str = "flat"
    index_params: Mapping[str, Any] | None = None  # HNSW: m, ef_construction (build), ef_search (query)
    batch_rows: int = 20_000
    repair_max_fraction: float = 0.10
    snapshot_interval_s: float = 30.0


class IndexHolder:
    def __init__(self) -> None:
        self.index: VectorIndex | None = None
        self.identity = ""  # the database identity the index was built against
        self.applied_seq = 0
        self.dirty = False
        self.last_save = 0.0  # monotonic time the snapshot on disk was last written or loaded
        self.save_error = ""  # why the last snapshot save failed, "" once one succeeds
        self.save_wanted = False  # a save is due now, not at the interval (after a rebuild or repair)
        self.version = 0  # counts every change: a save made outside the sync lock knows what it saved
        self.repairing = ""  # why a repair or rebuild is running right now ("" when none is): for health
        self._rw = RWLock()
        self._seq_cond = threading.Condition()

    def __len__(self) -> int:
        index = self.index
        return len(index) if index is not None else 0

    def search(
        self,
        queries: npt.NDArray[np.float32],
        k: int,
        allowed: npt.NDArray[np.int64] | None,
        ef_search: int | None,
    ) -> tuple[Scores, Ids]:
        with self._rw.read():
            index = self.index
            if index is None:
                raise ServiceDegraded("the vector index is not loaded yet (sync has not completed)")
            return index.search(queries, k, allowed, ef_search)

    def wait_for_seq(self, seq: int, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        with self._seq_cond:
            while self.applied_seq < seq:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._seq_cond.wait(left)
        return True

    # --- writes: the sync engine only, one sync at a time ---
    def install(self, index: VectorIndex, identity: str, applied_seq: int, *, dirty: bool) -> None:
        """Swap in another index (rebuilt, or loaded from a snapshot: then not dirty)."""
        with self._rw.write():
            self.index, self.identity = index, identity
            self.dirty = dirty
            self.version += 1
        if not dirty:
            self.last_save = time.monotonic()
        self.set_applied(applied_seq)

    @contextlib.contextmanager
    def changing(self) -> Iterator[VectorIndex]:
        """The index, for a change in place: searches wait until it is done."""
        index = self.index
        if index is None:
            raise ServiceDegraded("the vector index is not loaded")
        with self._rw.write():
            self.dirty = True
            self.version += 1
            yield index

    def set_applied(self, seq: int) -> None:
        with self._seq_cond:
            self.applied_seq = seq
            self._seq_cond.notify_all()
