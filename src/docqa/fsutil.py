"""Small filesystem helpers shared by the snapshot writer and the model cache.

`locked`: an exclusive lock on a file across processes (POSIX flock), used to
serialise snapshot writers (a CLI next to a running service) and one-time
model builds; where flock does not exist the holder just runs (racing writers
there are each still atomic, they only repeat work). `fsync_dir`: make a
rename inside a directory durable.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def locked(path: Path, blocking: bool = True) -> Iterator[None]:
    """An exclusive flock on `path` (across processes and threads); `blocking=False`: BlockingIOError at once
    when it is held."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
