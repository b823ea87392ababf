"""The registry of index types: make an empty one of the configured type, or read one of a known type."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from docqa.errors import InvalidInput
from docqa.index.base import VectorIndex
from docqa.index.flat import FlatIndex
from docqa.index.hnsw import HnswIndex

INDEX_TYPES: dict[str, type[VectorIndex]] = {"flat": FlatIndex, "hnsw": HnswIndex}


def index_class(kind: str) -> type[VectorIndex]:
    cls = INDEX_TYPES.get(kind)
    if cls is None:
        raise InvalidInput(f"unknown index type {kind!r}; choose one of {', '.join(INDEX_TYPES)}")
    return cls


def new_index(kind: str, dim: int, params: Mapping[str, Any] | None = None) -> VectorIndex:
    return index_class(kind).create(dim, params or {})


def read_index(kind: str, directory: Path, dim: int, params: Mapping[str, Any]) -> VectorIndex:
    if kind not in INDEX_TYPES:
        raise ValueError(f"unknown index type {kind!r} in manifest")
    return INDEX_TYPES[kind].read(directory, dim, params)
