"""Narrow interfaces the domain modules receive instead of the whole library object.

The sync engine owns the FAISS index and is its only writer; search, QA and
evaluation only *read* it, through `IndexReader`. The engine satisfies it
structurally, so nothing below the app layer needs to import the engine (or
FAISS) to search.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt


class IndexReader(Protocol):
    """The read side of a collection's vector index."""

    @property
    def applied_seq(self) -> int:
        """The last change-log seq the index reflects."""
        ...

    def search(
        self, queries: npt.NDArray[np.float32], k: int, allowed: npt.NDArray[np.int64] | None = None
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """(scores, ids) of the `k` nearest members per query row; ids -1 pad a short result."""
        ...

    def wait_for_seq(self, seq: int, timeout_s: float) -> bool:
        """Block until change `seq` is applied; False on timeout."""
        ...
