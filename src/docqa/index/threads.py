"""FAISS's OpenMP thread count for the calling thread.

Single queries are fastest on one OpenMP thread (DESIGN: 7.8 ms vs 42 ms at
100k); the count is per calling thread, so each request thread sets it once.
"""

from __future__ import annotations

import threading

_state = threading.local()


def use_search_threads(n: int) -> None:
    if getattr(_state, "omp", None) == n:
        return
    import faiss

    faiss.omp_set_num_threads(max(1, n))
    _state.omp = n
