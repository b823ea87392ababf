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
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from docqa import fsutil
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
from docqa.index.snapshot_save import SaveInfo, Staged, collection_dir, locked, save, stage

__all__ = [
    "FORMAT_VERSION",
    "MANIFEST",
    "Expectation",
    "Loaded",
    "Manifest",
    "SaveInfo",
    "SnapshotRejected",
    "Staged",
    "collection_dir",
    "file_checksum",
    "load",
    "locked",
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
