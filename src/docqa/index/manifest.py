"""A snapshot's manifest: what it holds and what it was made for, checked before anything is loaded.

`validate` accepts a directory only if its manifest parses, matches what the
caller expects (collection, model, dim, row hash; and, unless asked not to,
index type and build parameters) and every file has its recorded size (and,
with `checksums`, its recorded xxh3).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import xxhash

from docqa import __version__
from docqa.errors import SnapshotInvalid
from docqa.index.factory import INDEX_TYPES

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
    index_params: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Any] = field(default_factory=dict)
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
    # the configured index parameters: build-time ones must equal the snapshot's, query-time ones are applied
    index_params: Mapping[str, Any] = field(default_factory=dict)


RejectionKind = Literal["missing", "settings", "incomplete", "invalid"]


class SnapshotRejected(SnapshotInvalid):
    """Why a snapshot on disk was not loaded (the engine then rebuilds).

    kind: "missing" (no snapshot on disk, or only the debris of a save that never completed),
    "settings" (a whole snapshot made with another index type or build parameters),
    "incomplete" (one candidate without a manifest), "invalid" (torn, corrupt, foreign or stale).
    `swept`: the stale directories removed while looking.
    """

    def __init__(self, message: str, kind: RejectionKind = "invalid", swept: tuple[str, ...] = ()) -> None:
        super().__init__(message, kind=kind)
        self.kind: RejectionKind = kind
        self.swept = swept


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


def validate(directory: Path, expect: Expectation, checksums: bool = True, settings: bool = True) -> Manifest:
    """The manifest of `directory` if it is a whole snapshot made for what `expect` says.

    settings=False: accept another index type or build parameters (reading what a snapshot holds)."""
    try:
        manifest = Manifest.from_json((directory / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SnapshotRejected(f"{directory.name}: no manifest (incomplete snapshot)", "incomplete") from None
    except (ValueError, TypeError, UnicodeDecodeError, OSError) as exc:
        raise SnapshotRejected(f"{directory.name}: unreadable manifest: {exc}") from None
    if manifest.format_version != FORMAT_VERSION:
        raise SnapshotRejected(f"snapshot format {manifest.format_version}, expected {FORMAT_VERSION}")
    for what, got, want in (
        ("collection", manifest.collection, expect.collection),
        ("model", manifest.model, expect.model),
        ("dim", manifest.dim, expect.dim),
        ("row hash", manifest.row_hash, expect.row_hash),
    ):
        if got != want:
            raise SnapshotRejected(f"snapshot {what} is {got!r}, expected {want!r}")
    if not isinstance(manifest.files, dict) or not manifest.files:
        raise SnapshotRejected("manifest lists no files")
    if settings:
        changed = settings_changed(manifest, expect)
        if changed:
            raise SnapshotRejected(changed, "settings")
    for name, info in manifest.files.items():
        path = directory / name
        if not isinstance(info, dict) or not path.is_file():
            raise SnapshotRejected(f"{name} is missing")
        if path.stat().st_size != info.get("size"):
            raise SnapshotRejected(
                f"{name} is {path.stat().st_size} bytes, manifest says {info.get('size')} (truncated?)"
            )
        if checksums and file_checksum(path) != info.get("xxh3"):
            raise SnapshotRejected(f"{name} checksum does not match the manifest (corrupt)")
    return manifest


def settings_changed(manifest: Manifest, expect: Expectation) -> str:
    """ "" when the snapshot was built as configured, else what differs ("index parameters changed: m 32 -> 16")."""
    if manifest.index_type != expect.index_type:
        return f"index type changed: {manifest.index_type} -> {expect.index_type}"
    cls = INDEX_TYPES.get(expect.index_type)
    if cls is None:
        return f"unknown index type {expect.index_type!r}"
    params = manifest.index_params if isinstance(manifest.index_params, dict) else {}
    try:
        old = cls.build_params(params)
    except (TypeError, ValueError):
        return f"index parameters unreadable: {params!r}"
    new = cls.build_params(expect.index_params)
    diffs = [f"{k} {old.get(k)} -> {new[k]}" for k in new if old.get(k) != new[k]]
    return "index parameters changed: " + ", ".join(diffs) if diffs else ""
