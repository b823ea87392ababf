"""LlamaIndex's MetadataFilters (and a query's doc_ids / node_ids) as docqa SearchFilters.

docqa filters are conjunctions of equalities (a list: any of its values) on document metadata, resolved
in SQL before ranking. So: `==` and `in`, joined by AND; anything else is refused by name rather than
silently ignored."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core.vector_stores.types import FilterCondition, FilterOperator, MetadataFilters

from docqa.errors import InvalidInput
from docqa.types import SearchFilters


def search_filters(
    filters: MetadataFilters | None, doc_ids: Sequence[str] | None = None, node_ids: Sequence[str] | None = None
) -> SearchFilters | None:
    metadata: dict[str, Any] = {}
    if filters is not None:
        _collect(filters, metadata)
    if doc_ids:
        _put(metadata, "ref_doc_id", list(doc_ids))
    if not metadata and not node_ids:
        return None
    return SearchFilters(document_ids=tuple(node_ids or ()), metadata=metadata)


def _collect(filters: MetadataFilters, metadata: dict[str, Any]) -> None:
    if filters.condition not in (None, FilterCondition.AND) and len(filters.filters) > 1:
        raise InvalidInput(f"metadata filters: only the AND condition is supported, not {filters.condition}")
    for item in filters.filters:
        if isinstance(item, MetadataFilters):
            _collect(item, metadata)
            continue
        op = item.operator  # (ExactMatchFilter is MetadataFilter, EQ by default)
        if op == FilterOperator.EQ:
            _put(metadata, item.key, item.value)
        elif op == FilterOperator.IN:
            if not isinstance(item.value, list):
                raise InvalidInput(f"metadata filter {item.key!r}: 'in' takes a list, got {item.value!r}")
            _put(metadata, item.key, list(item.value))
        else:
            raise InvalidInput(f"metadata filter {item.key!r}: operator {op.value!r} is not supported; use == or in")


def _put(metadata: dict[str, Any], key: str, value: Any) -> None:
    if key in metadata:
        raise InvalidInput(f"metadata filters: {key!r} is filtered twice; combine the values into one 'in' filter")
    metadata[key] = value
