"""Helpers for the sync-engine and snapshot tests: stores with known vectors, and the state of files on disk."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from docqa.app import Docqa
from docqa.config import Settings
from docqa.embedders.hash import HashEmbedder
from docqa.types import ChunkInput
from tests.conftest import random_unit


def open_store(settings: Settings) -> Docqa:
    return Docqa.open(settings, embedder=HashEmbedder())


def add_docs(
    store: Docqa, docs: int, per_doc: int = 10, seed: int = 0, sync: bool = True
) -> list[tuple[str, np.ndarray]]:
    """`docs` documents of `per_doc` chunks with known random unit vectors: [(document_id, vectors)]."""
    out = []
    vecs = random_unit(docs * per_doc, seed=seed)
    for d in range(docs):
        mine = vecs[d * per_doc : (d + 1) * per_doc]
        chunks = [ChunkInput(text=f"s{seed} d{d} c{i}", ordinal=i, embedding=mine[i]) for i in range(per_doc)]
        out.append((store.add_document(chunks, filename=f"d{seed}-{d}.txt", sync=sync).document_id, mine))
    return out


def snapshot_dir(settings: Settings) -> Path:
    return settings.index_dir / settings.collection


def tree_state(root: Path) -> dict[str, tuple[int, int, str]]:
    """Every file under `root`: relative name -> (mtime_ns, size, sha256). Directories are seen through their files."""
    state = {}
    if not root.exists():
        return state
    for path in sorted(root.rglob("*")):
        if path.is_file():
            stat = path.stat()
            state[str(path.relative_to(root))] = (
                stat.st_mtime_ns,
                stat.st_size,
                hashlib.sha256(path.read_bytes()).hexdigest(),
            )
        elif path.is_dir():
            state[str(path.relative_to(root)) + "/"] = (0, 0, "")
    return state


def files_holding(root: Path, vectors: np.ndarray) -> list[str]:
    """Files under `root` that hold any of `vectors` — as raw little-endian float32 bytes, whole or a 64-byte head."""
    needles = []
    for v in np.asarray(vectors, dtype="<f4"):
        raw = v.tobytes()
        needles += [raw, raw[:64], raw[-64:]]
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            if any(n in data for n in needles):
                found.append(str(path.relative_to(root)))
    return found
