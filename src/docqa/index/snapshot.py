"""Index snapshots on disk: a directory per collection with the index files
and `manifest.json`.

Save: write every file into a fresh temporary directory, fsync files and the
directory, then swap it in with renames (current -> .old, tmp -> current) and
fsync the parent; the previous snapshot survives until the new one is whole.
Load: try the current directory, then any complete temporary one (a crash
between the two renames), then .old; a candidate counts only if its manifest
parses, matches what the caller expects and every file matches its recorded
size and xxh3 checksum (checked before FAISS parses it; the flat index reads
and checks its file in one pass). Nothing torn, truncated or foreign is loaded
as good. Then, still under the writers' lock (so no save is under way in any
process and every temporary is a dead one): the loaded candidate, if it is not
the current directory, is renamed into place, and every other temporary and
.old directory is removed — after choosing, because a complete temporary left
by a kill between the two renames may be the only whole snapshot. A check
(`tidy=False`) reads under a shared lock and changes nothing.
No pickle: FAISS's own format plus .npy arrays with allow_pickle=False.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, TypedDict, overload

from docqa import fsutil
from docqa.errors import SnapshotSaveFailed
from docqa.index import digest as dg
from docqa.index.base import Hashes, Ids, VectorIndex
from docqa.index.factory import INDEX_TYPES, read_index
from docqa.index.flat import ChecksumMismatch, UnsupportedLayout
from docqa.index.manifest import (
    FORMAT_VERSION,
    MANIFEST,
    Expectation,
    Manifest,
    RejectionKind,
    SnapshotRejected,
    file_checksum,
    settings_changed,
    validate,
)

__all__ = [
    "FORMAT_VERSION",
    "MANIFEST",
    "Expectation",
    "Loaded",
    "Manifest",
    "SaveInfo",
    "SnapshotRejected",
    "file_checksum",
    "load",
    "members",
    "peek",
    "save",
    "settings_changed",
    "stage",
    "validate",
]


@dataclass(frozen=True)
class Loaded:
    index: VectorIndex
    manifest: Manifest
    source: str  # the directory it was read from, before any rename into place
    swept: tuple[str, ...] = ()  # stale temporaries and .old directories removed (or, for a check, left)


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


def save(
    root: Path, index: VectorIndex, *, db_identity: str, collection: str, applied_seq: int, model: str, row_hash: str
) -> Manifest:
    """Write the snapshot whole or not at all. Any failure to write it — the folder, the lock, FAISS (which
    reports a full disk as RuntimeError), a rename — is SnapshotSaveFailed naming the folder and the reason."""
    staged = stage(
        root,
        index,
        db_identity=db_identity,
        collection=collection,
        applied_seq=applied_seq,
        model=model,
        row_hash=row_hash,
    )
    return staged.publish()


@overload
def stage(
    root: Path,
    index: VectorIndex,
    *,
    wait: Literal[True] = ...,
    db_identity: str,
    collection: str,
    applied_seq: int,
    model: str,
    row_hash: str,
) -> Staged: ...


@overload
def stage(
    root: Path,
    index: VectorIndex,
    *,
    wait: bool,
    db_identity: str,
    collection: str,
    applied_seq: int,
    model: str,
    row_hash: str,
) -> Staged | None: ...


def stage(
    root: Path,
    index: VectorIndex,
    *,
    wait: bool = True,
    db_identity: str,
    collection: str,
    applied_seq: int,
    model: str,
    row_hash: str,
) -> Staged | None:
    """The part of a save that needs the index unchanged: its files written into a fresh temporary folder
    (page cache, no fsync), under the writers' lock, which the returned Staged holds until `publish` (or
    `discard`) — so a caller can hold its own lock on the index around this only, not around the disk.
    `wait=False`: None at once when another save or load holds that lock."""
    root = Path(root)
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
        raise SnapshotSaveFailed(f"cannot save the index snapshot in {root}: {_why(exc)}", directory=str(root)) from exc
    fields = {
        "db_identity": db_identity,
        "collection": collection,
        "applied_seq": int(applied_seq),
        "model": model,
        "dim": index.dim,
        "index_type": index.kind,
        "count": len(index),
        "digest": dg.to_hex(index.digest),
        "row_hash": row_hash,
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
            why = _why(exc)
            raise SnapshotSaveFailed(
                f"cannot save the index snapshot in {self.root}: {why}", directory=str(self.root)
            ) from exc

    def discard(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)
        self._lock.close()

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


def _candidates(root: Path, collection: str) -> list[Path]:
    current = collection_dir(root, collection)
    temps = sorted(root.glob(f"{collection}.tmp-*"), key=_mtime, reverse=True)
    return [p for p in [current, *temps, root / f"{collection}.old"] if p.is_dir()]


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # removed meanwhile (a check reads without the writers' lock)
        return 0.0


def _read_checked(directory: Path, manifest: Manifest) -> VectorIndex:
    """Read the index, every file checked against its manifest checksum first.

    An index type with `read_verified` (flat) reads and checks its file in one
    pass; otherwise each file is checksummed, then handed to FAISS.
    """
    cls = INDEX_TYPES.get(manifest.index_type)
    if cls is not None:
        try:
            index = cls.read_verified(directory, manifest.dim, manifest.index_params, manifest.files)
        except ChecksumMismatch as exc:
            raise SnapshotRejected(str(exc)) from None
        except UnsupportedLayout:
            index = None
        if index is not None:
            for name, info in manifest.files.items():
                if name != "index.faiss" and file_checksum(directory / name) != info.get("xxh3"):
                    raise SnapshotRejected(f"{name} checksum does not match the manifest (corrupt)")
            return index
    for name, info in manifest.files.items():
        if file_checksum(directory / name) != info.get("xxh3"):
            raise SnapshotRejected(f"{name} checksum does not match the manifest (corrupt)")
    return read_index(manifest.index_type, directory, manifest.dim, manifest.index_params)


def peek(root: Path, expect: Expectation) -> Manifest | None:
    """The manifest of the snapshot `load` would try first, if one matches (no checksums read: cheap)."""
    for directory in _candidates(Path(root), expect.collection):
        try:
            return validate(directory, expect, checksums=False)
        except Exception:  # anything wrong with it is load()'s to report; here it only means "no"
            continue
    return None


def load(root: Path, expect: Expectation, *, tidy: bool = True) -> Loaded:
    """Load the newest valid snapshot, or raise SnapshotRejected saying why none was.

    tidy (a sync): under the writers' lock, rename what was loaded into place and remove every stale
    temporary and .old directory. tidy=False (a check): under a shared lock, touch nothing; `swept`
    then lists what a sync would remove.
    """
    root = Path(root)
    with locked(root, expect.collection) if tidy else _reading(root, expect.collection):
        index, manifest, chosen, why = _first_valid(root, expect)
        swept = _sweep(root, expect.collection, chosen, dry_run=not tidy)
    if index is None or manifest is None or chosen is None:
        raise SnapshotRejected(why[0], why[1], swept)
    index.set_query_params(expect.index_params)
    return Loaded(index, manifest, chosen.name, swept)


def members(root: Path, expect: Expectation) -> tuple[Ids, Hashes] | None:
    """(ids, row hashes) of the snapshot on disk, of whatever index type or parameters, without its vectors:
    what a forced rebuild replaces when no index is in memory. None when no whole snapshot adds up."""
    root = Path(root)
    with _reading(root, expect.collection):
        for directory in _candidates(root, expect.collection):
            try:
                m = validate(directory, expect, checksums=False, settings=False)
                ids, hashes = INDEX_TYPES[m.index_type].read_members(directory, m.dim, m.files)
            except Exception:  # not a readable snapshot: try the next one
                continue
            if len(ids) == len(hashes) == m.count and dg.combine(hashes) == dg.from_hex(m.digest):
                return ids, hashes
    return None


def _first_valid(
    root: Path, expect: Expectation
) -> tuple[VectorIndex | None, Manifest | None, Path | None, tuple[str, RejectionKind]]:
    reasons: list[str] = []
    kinds: list[RejectionKind] = []
    for directory in _candidates(root, expect.collection):
        try:
            manifest = validate(directory, expect, checksums=False)
            index = _read_checked(directory, manifest)
        except SnapshotRejected as exc:
            reasons.append(exc.message)
            kinds.append(exc.kind)
            continue
        except Exception as exc:  # faiss raises RuntimeError on garbage
            reasons.append(
                f"{directory.name}: cannot read index: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
            )
            kinds.append("invalid")
            continue
        problem = ""
        if len(index) != manifest.count:
            problem = f"{directory.name}: index holds {len(index)} vectors, manifest says {manifest.count}"
        else:
            index.digest = dg.from_hex(manifest.digest)
            if index.recompute_digest() != index.digest:  # hashes.npy must sum to the manifest's digest (<1 ms at 1M)
                problem = f"{directory.name}: the row hashes do not add up to the manifest's digest"
        if problem:
            reasons.append(problem)
            kinds.append("invalid")
            continue
        return index, manifest, directory, ("", "invalid")
    if not collection_dir(root, expect.collection).exists() and all(k == "incomplete" for k in kinds):
        return None, None, None, ("snapshot missing", "missing")
    return None, None, None, ("; ".join(reasons), kinds[0] if kinds else "invalid")


def _sweep(root: Path, collection: str, chosen: Path | None, dry_run: bool) -> tuple[str, ...]:
    """Put `chosen` (the loaded candidate) in place and remove every other temporary and .old directory.

    Call under the writers' lock only: then no save is running anywhere, so each temporary is a dead one.
    """
    current = collection_dir(root, collection)
    stale = [p for p in [*root.glob(f"{collection}.tmp-*"), root / f"{collection}.old"] if p.is_dir()]
    if chosen is not None and chosen != current:
        stale.remove(chosen)
        if not dry_run:
            if current.exists():  # rejected, and replaced by the whole snapshot just loaded
                shutil.rmtree(current)
            chosen.rename(current)
            fsutil.fsync_dir(root)
    if not dry_run:
        for path in stale:
            shutil.rmtree(path, ignore_errors=True)
    return tuple(sorted(p.name for p in stale))


@contextlib.contextmanager
def _reading(root: Path, collection: str) -> Iterator[None]:
    """A shared lock on the writers' lock file, when it exists (creating it would be a write)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    try:
        fd = os.open(Path(root) / f".{collection}.lock", os.O_RDONLY)
    except OSError:  # no writer ever ran here: nothing to wait for
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)
