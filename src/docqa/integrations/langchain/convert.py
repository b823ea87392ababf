"""LangChain's shapes to docqa's and back: texts to one-chunk documents, `filter` dicts to SearchFilters, hits
to `Document`s."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from langchain_core.documents import Document

from docqa.app.batch import DocumentInput, StoredDocument
from docqa.errors import InvalidInput
from docqa.types import ChunkInput, SearchFilters, SearchHit

Filter = SearchFilters | dict[str, Any] | None
_OPERATORS = ("$eq", "$in")


def document_inputs(
    texts: Sequence[str], metadatas: Sequence[dict[str, Any] | None] | None, ids: Sequence[str | None] | None
) -> list[DocumentInput]:
    """One docqa document of one chunk per text (its text as given, not re-chunked); missing ids become UUIDs."""
    if metadatas is not None and len(metadatas) != len(texts):
        raise InvalidInput(f"got {len(metadatas)} metadatas for {len(texts)} texts", field="metadatas")
    if ids is not None and len(ids) != len(texts):
        raise InvalidInput(f"got {len(ids)} ids for {len(texts)} texts", field="ids")
    out = []
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise InvalidInput(f"text #{i} is {type(text).__name__}, not str", field="texts")
        metadata = dict(metadatas[i] or {}) if metadatas is not None else {}
        document_id = (ids[i] if ids is not None else None) or str(uuid.uuid4())
        if not isinstance(document_id, str):
            raise InvalidInput(f"id #{i} is {type(document_id).__name__}, not str", field="ids")
        out.append(
            DocumentInput(
                chunks=[ChunkInput(text=text, ordinal=0, char_start=0, char_end=len(text))],
                document_id=document_id,
                metadata=metadata,
                content_hash=_content_hash(text, metadata, i),
            )
        )
    return out


def _content_hash(text: str, metadata: dict[str, Any], i: int) -> str:
    """Text and metadata together: the same pair again is `unchanged`, any change (even to {}) is written."""
    try:
        meta = json.dumps(metadata, sort_keys=True, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"metadata of text #{i} is not JSON (strings, numbers, booleans, lists, dicts): {exc}"
        ) from None
    return hashlib.sha256(f"{text}\x00{meta}".encode("utf-8", "surrogatepass")).hexdigest()


def search_filters(filter: Filter) -> SearchFilters | None:
    """`{"key": value}` (equal), `{"key": [a, b]}` or `{"key": {"$in": [a, b]}}` (any of), `{"key": {"$eq": v}}`;
    keys are document metadata. A SearchFilters passes as it is."""
    if filter is None or isinstance(filter, SearchFilters):
        return filter
    if not isinstance(filter, dict):
        raise InvalidInput(f"filter must be a dict of metadata values, not {type(filter).__name__}", field="filter")
    metadata: dict[str, Any] = {}
    for key, value in filter.items():
        if isinstance(value, dict):
            if len(value) != 1 or next(iter(value)) not in _OPERATORS:
                raise InvalidInput(
                    f"filter {key!r}: only {', '.join(_OPERATORS)} are supported, got {sorted(value)}", field="filter"
                )
            ((op, operand),) = value.items()
            if op == "$in" and not isinstance(operand, (list, tuple)):
                raise InvalidInput(f"filter {key!r}: $in takes a list", field="filter")
            value = list(operand) if op == "$in" else operand
        metadata[str(key)] = value
    return SearchFilters(metadata=metadata)


def hit_document(hit: SearchHit) -> Document:
    return Document(id=hit.document_id, page_content=hit.content, metadata=dict(hit.metadata))


def stored_document(doc: StoredDocument) -> Document:
    return Document(id=doc.id, page_content=doc.text, metadata=dict(doc.metadata))


def ids_list(ids: Iterable[str] | None) -> list[str]:
    if ids is None:
        raise InvalidInput("delete() needs the ids to delete; delete_collection() removes every document")
    return [str(i) for i in ids]
