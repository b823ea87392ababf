"""The snapshot read on a second thread while the database works on its side of the proof.

At startup the two are independent until they are compared, and each is about
half of the startup time.
"""

from __future__ import annotations

import threading
from pathlib import Path

from docqa.index import snapshot
from docqa.index.snapshot import Expectation, Loaded, SnapshotRejected


class SnapshotLoad:
    def __init__(self, root: Path, expect: Expectation, tidy: bool) -> None:
        self._manifest = snapshot.peek(root, expect)
        self._outcome: Loaded | SnapshotRejected | None = None
        self._error: BaseException | None = None
        self.adopted = False  # set by the engine once it has installed the loaded index
        self._thread = threading.Thread(
            target=self._work, args=(root, expect, tidy), name="docqa-snapshot-load", daemon=True
        )
        self._thread.start()

    def _work(self, root: Path, expect: Expectation, tidy: bool) -> None:
        try:
            self._outcome = snapshot.load(root, expect, tidy=tidy)
        except SnapshotRejected as exc:
            self._outcome = exc
        except BaseException as exc:  # handed to the caller by result()
            self._error = exc

    def promising(self, db_identity: str, db_max_seq: int, log_floor: int) -> bool:
        """A snapshot on disk that the plan would catch up rather than rebuild (as far as its
        manifest tells before the checksums are read): computing the DB digest now is not wasted."""
        m = self._manifest
        return m is not None and m.db_identity == db_identity and log_floor <= m.applied_seq <= db_max_seq

    def result(self) -> Loaded | SnapshotRejected:
        """Wait for the load: the snapshot loaded, or why none was. An unexpected error is raised (once)."""
        self._thread.join()
        if self._error is not None:
            error, self._error = self._error, None
            self._outcome = SnapshotRejected(f"loading the snapshot failed: {type(error).__name__}: {error}")
            raise error
        assert self._outcome is not None
        return self._outcome

    def loaded(self) -> Loaded | None:
        """The snapshot loaded, if one was (never raises)."""
        self._thread.join()
        return self._outcome if isinstance(self._outcome, Loaded) else None
