"""Make an empty index of the configured type, or read one of a known type."""

from __future__ import annotations

from pathlib import Path

from docqa.errors import InvalidInput
from docqa.index.base import VectorIndex
from docqa.index.flat import FlatIndex
from docqa.index.hnsw import HnswIndex

INDEX_TYPES = {"flat": FlatIndex, "hnsw": HnswIndex}


def new_index(kind: str, dim: int, params: dict | None = None) -> VectorIndex:
    if kind == "flat":
        return FlatIndex(dim)
    if kind == "hnsw":
        return HnswIndex(dim, **(params or {}))
    raise InvalidInput(f"unknown index type {kind!r}; choose one of {', '.join(INDEX_TYPES)}")


def read_index(kind: str, directory: Path, dim: int, params: dict) -> VectorIndex:
    if kind not in INDEX_TYPES:
        raise ValueError(f"unknown index type {kind!r} in manifest")
    return INDEX_TYPES[kind].read(directory, dim, params)
