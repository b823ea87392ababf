"""The on-disk cache of the built int8 model: built once per machine, at first use, then only read.

Where: `Settings.model_cache` (`DOCQA_MODEL_CACHE`), default `~/.cache/docqa/models`, one
directory `minilm-int8-<key>` per source model and recipe. The key is a sha256 over the recipe
and the bytes of every source model file, so a stale or foreign cache is never used; an entry is
built in a temporary directory and renamed into place, so a crash never leaves a half-written
model that looks finished; a corrupt one (its sha256 differs from its manifest's) is rebuilt.
To rebuild by hand, delete the directory: the next use builds it again (torch and onnx needed).

Start-up cost: hashing the ~90 MB source and the ~25 MB model on every load would cost
0.1-0.3 s per command, so each full hash is remembered against the files' (size, mtime, inode):
any rewrite or replacement of a file changes those and forces a full re-hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from docqa import fsutil
from docqa.embedders.onnx_export import MANIFEST_FILE, MODEL_FILE, RECIPE, file_stat, sha256_file

_build_lock = threading.Lock()


def default_cache_dir() -> Path:
    return Path.home() / ".cache" / "docqa" / "models"


def source_fingerprint(model_dir: Path, cache_dir: Path | None = None) -> str:
    """sha256 over the recipe and every source file's relative path and content hash.

    With `cache_dir`, a fingerprint computed before for files of the same (size, mtime, inode) is reused."""
    files = sorted(p for p in model_dir.rglob("*") if p.is_file())
    quick = hashlib.sha256(RECIPE.encode())
    for path in files:
        quick.update(f"\0{path.relative_to(model_dir).as_posix()}\0{file_stat(path)}".encode())
    memo = cache_dir / f".source-{quick.hexdigest()[:32]}" if cache_dir is not None else None
    if memo is not None:
        try:
            remembered = memo.read_text().strip()
            if len(remembered) == 64:
                return remembered
        except OSError:
            pass
    digest = hashlib.sha256(RECIPE.encode())
    for path in files:
        digest.update(f"\0{path.relative_to(model_dir).as_posix()}\0{sha256_file(path)}".encode())
    fingerprint = digest.hexdigest()
    if memo is not None:
        _write_atomically(memo, fingerprint)
    return fingerprint


def ensure_quantized_model(model_dir: Path, cache_dir: Path) -> Path:
    """Path of the cached int8 model for `model_dir`, building it first if needed."""
    fingerprint = source_fingerprint(model_dir, cache_dir)
    final = cache_dir / f"minilm-int8-{fingerprint[:16]}"
    with _build_lock:
        if _cache_is_valid(final, fingerprint):
            return final / MODEL_FILE
        cache_dir.mkdir(parents=True, exist_ok=True)
        with fsutil.locked(cache_dir / ".build.lock"):
            if _cache_is_valid(final, fingerprint):  # another process finished it while we waited
                return final / MODEL_FILE
            _sweep_leftovers(cache_dir)
            _discard(final)
            tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=cache_dir))
            os.chmod(tmp, 0o755)  # mkdtemp makes it private; the model is not a secret
            try:
                _build(model_dir, tmp, fingerprint)
                os.rename(tmp, final)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            fsutil.fsync_dir(cache_dir)
    return final / MODEL_FILE


def _build(model_dir: Path, out_dir: Path, fingerprint: str) -> None:
    from docqa.embedders.onnx_export import build

    build(model_dir, out_dir, fingerprint)


def _cache_is_valid(directory: Path, fingerprint: str) -> bool:
    """The manifest matches the key and recipe, and the model file is the one it describes.

    The model's sha256 is re-computed unless the file's (size, mtime, inode) are those recorded
    when it was last fully checked."""
    try:
        manifest: dict[str, Any] = json.loads((directory / MANIFEST_FILE).read_text())
        if manifest.get("source_fingerprint") != fingerprint or manifest.get("recipe") != RECIPE:
            return False
        model = directory / MODEL_FILE
        stat = file_stat(model)
        if manifest.get("model_stat") == stat and manifest.get("model_sha256"):
            return True
        if manifest.get("model_sha256") != sha256_file(model):
            return False
        _write_atomically(directory / MANIFEST_FILE, json.dumps({**manifest, "model_stat": stat}, indent=2))
        return True
    except (OSError, ValueError, AttributeError):
        return False


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except OSError:  # a read-only cache still works, only slower to open
        tmp.unlink(missing_ok=True)


def _sweep_leftovers(cache_dir: Path) -> None:
    """Remove what a killed build left behind; holding the build lock, nobody else is building."""
    for leftover in cache_dir.glob(".build-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    for leftover in cache_dir.glob(".trash-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def _discard(directory: Path) -> None:
    """Move an invalid cache entry aside before deleting it, so nothing reads it half-deleted."""
    if directory.exists():
        trash = directory.with_name(f".trash-{directory.name}-{os.getpid()}-{time.monotonic_ns()}")
        os.rename(directory, trash)
        shutil.rmtree(trash, ignore_errors=True)
