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
as good.
No pickle: FAISS's own format plus .npy arrays with allow_pickle=False.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import xxhash

from docqa import __version__, fsutil
from docqa.index import digest as dg
from docqa.index.base import VectorIndex
from docqa.index.factory import INDEX_TYPES, read_index
from docqa.index.flat import ChecksumMismatch, UnsupportedLayout

FORMAT_VERSION = 2  # 2: per-row hashes as the database defines them (hashes.npy) and the manifest's row_hash
MANIFEST = "manifest.json"


@dataclass
class Manifest:
    db_identity: str
    collection: str
    applied_seq: int
    model: str
    dim: int
    index_type: str
    count: int
    digest: str
    row_hash: str = ""
    metric: str = "inner_product"
    index_params: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    created_at: str = ""
    docqa_version: str = __version__

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("manifest is not a JSON object")
        known = {f for f in cls.__dataclass_fields__}
        missing = {
            "db_identity",
            "collection",
            "applied_seq",
            "model",
            "dim",
            "index_type",
            "count",
            "digest",
        } - data.keys()
        if missing:
            raise ValueError(f"manifest lacks {sorted(missing)}")
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class Expectation:
    collection: str
    model: str
    dim: int
    index_type: str
    row_hash: str


class SnapshotRejected(Exception):
    """Why a snapshot on disk was not loaded (the engine then rebuilds)."""


def collection_dir(root: Path, collection: str) -> Path:
    return Path(root) / collection


def locked(root: Path, collection: str) -> contextlib.AbstractContextManager[None]:
    """Serialise snapshot writers across processes (CLI next to a running service)."""
    return fsutil.locked(Path(root) / f".{collection}.lock")


def file_checksum(path: Path) -> str:
    """xxh3-64 of a file, read into one reused buffer (a fresh 16 MB bytes per
    read cost page faults: 1.5-4x slower on a 1.5 GB index)."""
    h = xxhash.xxh3_64()
    with open(path, "rb", buffering=0) as fh:
        buf = bytearray(max(1, min(8 << 20, os.fstat(fh.fileno()).st_size)))
        view = memoryview(buf)
        while n := fh.readinto(buf):
            h.update(view[:n])
    return h.hexdigest()


def save(
    root: Path, index: VectorIndex, *, db_identity: str, collection: str, applied_seq: int, model: str, row_hash: str
) -> Manifest:
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    with locked(root, collection):
        tmp = root / f"{collection}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            names = index.write(tmp)
            files = {}
            for name in names:
                with open(tmp / name, "rb+") as fh:
                    os.fsync(fh.fileno())
                files[name] = {"size": (tmp / name).stat().st_size, "xxh3": file_checksum(tmp / name)}
            manifest = Manifest(
                db_identity=db_identity,
                collection=collection,
                applied_seq=int(applied_seq),
                model=model,
                dim=index.dim,
                index_type=index.kind,
                count=len(index),
                digest=dg.to_hex(index.digest),
                row_hash=row_hash,
                metric=index.metric,
                index_params=index.params(),
                files=files,
                created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            )
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
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def _candidates(root: Path, collection: str) -> list[Path]:
    current = collection_dir(root, collection)
    temps = sorted(root.glob(f"{collection}.tmp-*"), key=lambda p: p.stat().st_mtime, reverse=True)
    return [p for p in [current, *temps, root / f"{collection}.old"] if p.is_dir()]


def validate(directory: Path, expect: Expectation, checksums: bool = True) -> Manifest:
    try:
        manifest = Manifest.from_json((directory / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SnapshotRejected(f"{directory.name}: no manifest (incomplete snapshot)") from None
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise SnapshotRejected(f"{directory.name}: unreadable manifest: {exc}") from None
    if manifest.format_version != FORMAT_VERSION:
        raise SnapshotRejected(f"snapshot format {manifest.format_version}, expected {FORMAT_VERSION}")
    for what, got, want in (
        ("collection", manifest.collection, expect.collection),
        ("model", manifest.model, expect.model),
        ("dim", manifest.dim, expect.dim),
        ("index type", manifest.index_type, expect.index_type),
        ("row hash", manifest.row_hash, expect.row_hash),
    ):
        if got != want:
            raise SnapshotRejected(f"snapshot {what} is {got!r}, expected {want!r}")
    if not manifest.files:
        raise SnapshotRejected("manifest lists no files")
    for name, info in manifest.files.items():
        path = directory / name
        if not path.is_file():
            raise SnapshotRejected(f"{name} is missing")
        if path.stat().st_size != info.get("size"):
            raise SnapshotRejected(
                f"{name} is {path.stat().st_size} bytes, manifest says {info.get('size')} (truncated?)"
            )
        if checksums and file_checksum(path) != info.get("xxh3"):
            raise SnapshotRejected(f"{name} checksum does not match the manifest (corrupt)")
    return manifest


def _read_checked(directory: Path, manifest: Manifest) -> VectorIndex:
    """Read the index, every file checked against its manifest checksum first.

    An index type with `read_verified` (flat) reads and checks its file in one
    pass; otherwise each file is checksummed, then handed to FAISS.
    """
    reader = getattr(INDEX_TYPES.get(manifest.index_type), "read_verified", None)
    if reader is not None:
        try:
            index = reader(directory, manifest.dim, manifest.index_params, manifest.files)
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


def load(root: Path, expect: Expectation) -> tuple[VectorIndex, Manifest]:
    """Load the newest valid snapshot, or raise SnapshotRejected saying why none was."""
    reasons = []
    for directory in _candidates(Path(root), expect.collection):
        try:
            manifest = validate(directory, expect, checksums=False)
            index = _read_checked(directory, manifest)
        except SnapshotRejected as exc:
            reasons.append(str(exc))
            continue
        except Exception as exc:  # faiss raises RuntimeError on garbage
            reasons.append(
                f"{directory.name}: cannot read index: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
            )
            continue
        if len(index) != manifest.count:
            reasons.append(f"{directory.name}: index holds {len(index)} vectors, manifest says {manifest.count}")
            continue
        index.digest = dg.from_hex(manifest.digest)
        if index.recompute_digest() != index.digest:  # hashes.npy must sum to what the manifest records (<1 ms at 1M)
            reasons.append(f"{directory.name}: the row hashes do not add up to the manifest's digest")
            continue
        return index, manifest
    raise SnapshotRejected("; ".join(reasons) if reasons else "no snapshot on disk")
