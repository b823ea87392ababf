"""A small readers-writer lock: many searches at once, one index mutation at a time.

Writers are preferred (a waiting writer holds back new readers), so a sync is
never starved by a stream of searches. The read side is on every query's path,
so it is kept cheap: a plain mutex (not Condition's default RLock), one
reusable context-manager object (no generator per call), and a notify only
when a writer is actually waiting.
"""

from __future__ import annotations

import threading
from types import TracebackType


class RWLock:
    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._cond = threading.Condition(self._mutex)
        self._readers = 0
        self._writer = False
        self._waiting_writers = 0
        self._reading = _Reading(self)
        self._writing = _Writing(self)

    def read(self) -> _Reading:
        """`with lock.read():` — shared with other readers, excluded by a writer."""
        return self._reading

    def write(self) -> _Writing:
        """`with lock.write():` — exclusive."""
        return self._writing


class _Reading:
    __slots__ = ("_rw",)

    def __init__(self, rw: RWLock) -> None:
        self._rw = rw

    def __enter__(self) -> None:
        rw = self._rw
        with rw._mutex:
            while rw._writer or rw._waiting_writers:
                rw._cond.wait()
            rw._readers += 1

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        rw = self._rw
        with rw._mutex:
            rw._readers -= 1
            if rw._readers == 0 and rw._waiting_writers:
                rw._cond.notify_all()


class _Writing:
    __slots__ = ("_rw",)

    def __init__(self, rw: RWLock) -> None:
        self._rw = rw

    def __enter__(self) -> None:
        rw = self._rw
        with rw._mutex:
            rw._waiting_writers += 1
            try:
                while rw._writer or rw._readers:
                    rw._cond.wait()
            except BaseException:  # interrupted: let the readers it held back go on
                rw._waiting_writers -= 1
                rw._cond.notify_all()
                raise
            rw._waiting_writers -= 1
            rw._writer = True

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        rw = self._rw
        with rw._mutex:
            rw._writer = False
            rw._cond.notify_all()
