"""Saving an index snapshot: its files written into a fresh temporary folder (`stage`, which needs the index
unchanged), then made durable and swapped in (`Staged.publish`: fsync files and folder, current -> .old,
tmp -> current, fsync the parent), the writers' flock held from the first file to the last rename. `save` is
both at once. docqa.index.snapshot (which re-exports these) has the layout and the load side."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypedDict

from docqa import fsutil
from docqa.errors import SnapshotSaveFailed
from docqa.index import digest as dg
from docqa.index.base import VectorIndex
from docqa.index.manifest import MANIFEST, Manifest, file_checksum


def collection_dir(root: Path, collection: str) -> Path:
    return Path(root) / collection


def locked(root: Path, collection: str, blocking: bool = True) -> contextlib.AbstractContextManager[None]:
    """Serialise snapshot writers across processes (CLI next to a running service)."""
    return fsutil.locked(Path(root) / f".{collection}.lock", blocking)


class SaveInfo(TypedDict):
    """What a snapshot's manifest says beside what the index itself says."""

    db_identity: str
    collection: str
    applied_seq: int
    model: str
    row_hash: str


def save(root: Path, index: VectorIndex, info: SaveInfo) -> Manifest:
    """Write the snapshot whole or not at all. Any failure to write it — the folder, the lock, FAISS (which
    reports a full disk as RuntimeError), a rename — is SnapshotSaveFailed naming the folder and the reason."""
    staged = stage(root, index, info)
    assert staged is not None  # a blocking stage always gets the lock
    return staged.publish()


def stage(root: Path, index: VectorIndex, info: SaveInfo, wait: bool = True) -> Staged | None:
    """The part of a save that needs the index unchanged: its files written into a fresh temporary folder
    (page cache, no fsync), under the writers' lock, which the returned Staged holds until `publish`
    releases it — so a caller can hold its own lock on the index around this only, not around the disk.
    `wait=False`: None at once when another save or load holds that lock."""
    root = Path(root)
    collection = info["collection"]
    try:
        root.mkdir(parents=True, exist_ok=True)
        lock = contextlib.ExitStack()
        try:
            lock.enter_context(locked(root, collection, blocking=wait))
        except BlockingIOError:
            return None
        try:
            tmp = root / f"{collection}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            tmp.mkdir()
            try:
                names = index.write(tmp)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        except BaseException:
            lock.close()
            raise
    except (OSError, RuntimeError) as exc:
        raise _failed(root, exc) from exc
    fields = {
        **info,
        "applied_seq": int(info["applied_seq"]),
        "dim": index.dim,
        "index_type": index.kind,
        "count": len(index),
        "digest": dg.to_hex(index.digest),
        "metric": index.metric,
        "index_params": index.params(),
    }
    return Staged(root, collection, tmp, tuple(names), fields, lock)


class Staged:
    """A snapshot's files in their temporary folder: not yet durable, not yet in place."""

    def __init__(
        self,
        root: Path,
        collection: str,
        tmp: Path,
        names: tuple[str, ...],
        fields: dict[str, Any],
        lock: contextlib.ExitStack,
    ) -> None:
        self.root, self.collection, self.tmp, self.names, self.fields = root, collection, tmp, names, fields
        self._lock = lock

    def publish(self) -> Manifest:
        """fsync the files and their manifest, then swap them in (current -> .old, tmp -> current) and fsync
        the folder; then release the writers' lock. Failures are SnapshotSaveFailed; the temporary goes."""
        try:
            try:
                return self._publish()
            except BaseException:
                shutil.rmtree(self.tmp, ignore_errors=True)
                raise
            finally:
                self._lock.close()
        except (OSError, RuntimeError) as exc:
            raise _failed(self.root, exc) from exc

    def _publish(self) -> Manifest:
        root, collection, tmp = self.root, self.collection, self.tmp
        files = {}
        for name in self.names:
            with open(tmp / name, "rb+") as fh:
                os.fsync(fh.fileno())
            files[name] = {"size": (tmp / name).stat().st_size, "xxh3": file_checksum(tmp / name)}
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        manifest = Manifest(**self.fields, files=files, created_at=created)
        with open(tmp / MANIFEST, "w", encoding="utf-8") as fh:
            json.dump(asdict(manifest), fh, indent=2, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        fsutil.fsync_dir(tmp)
        current, old = collection_dir(root, collection), root / f"{collection}.old"
        if old.exists():
            shutil.rmtree(old)
        if current.exists():
            current.rename(old)
        tmp.rename(current)
        fsutil.fsync_dir(root)
        shutil.rmtree(old, ignore_errors=True)
        for stale in root.glob(f"{collection}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        return manifest


def _failed(root: Path, exc: BaseException) -> SnapshotSaveFailed:
    return SnapshotSaveFailed(f"cannot save the index snapshot in {root}: {_why(exc)}", directory=str(root))


def _why(exc: BaseException) -> str:
    """The reason of a failed write in a few words: "No space left on device" rather than FAISS's
    `Error in void faiss::write_index(...) at ...: write error in ...: 864174 != 1018368 (No space ...)`."""
    text = str(exc).strip()
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    for known in ("No space left on device", "Read-only file system", "Permission denied", "Disk quota exceeded"):
        if known in text:
            return known
    return text.splitlines()[0][:200] if text else type(exc).__name__
