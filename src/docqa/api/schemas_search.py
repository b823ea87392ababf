"""Search request and response bodies."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool

from docqa.api.schemas import CleanStr, DocumentId, JsonFloat, JsonInt, check_text
from docqa.limits import MAX_QUERY_CHARS, MAX_SEARCH_K
from docqa.types import SearchFilters


def check_date(value: str) -> str:
    check_text(value)
    try:
        if len(value) > 10:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        else:
            date.fromisoformat(value)
    except ValueError:
        raise ValueError("must be an ISO date (YYYY-MM-DD) or date-time") from None
    return value


MetaKey = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.\-]+$")]
MetaValue = Annotated[str, Field(max_length=1000), AfterValidator(check_text)] | JsonInt | JsonFloat | StrictBool
MetaValues = Annotated[list[MetaValue], Field(min_length=1, max_length=1000)]
IsoDate = Annotated[str, Field(max_length=40, examples=["2024-01-31"]), AfterValidator(check_date)]


class SearchFiltersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    document_type: CleanStr | list[CleanStr] | None = Field(
        default=None, description="Content type or metadata document_type (one or a list)"
    )
    patient_id: CleanStr | None = Field(default=None, max_length=256)
    date_from: IsoDate | None = None
    date_to: IsoDate | None = None
    document_id: DocumentId | None = None
    document_ids: list[DocumentId] | None = Field(default=None, max_length=1000)
    metadata: dict[MetaKey, MetaValue | MetaValues] | None = Field(
        default=None,
        max_length=20,
        description='Document metadata equal to these values (a list: any of them), e.g. {"department": "cardiology"}',
    )

    def to_filters(self) -> SearchFilters:
        types = self.document_type
        ids = list(self.document_ids or []) + ([self.document_id] if self.document_id else [])
        metadata: dict[str, Any] = dict(self.metadata or {})
        if self.patient_id is not None:
            metadata["patient_id"] = self.patient_id
        return SearchFilters(
            document_ids=tuple(dict.fromkeys(ids)),
            content_types=tuple([types] if isinstance(types, str) else types or ()),
            metadata=metadata,
            date_from=self.date_from[:10] if self.date_from else None,
            date_to=self.date_to[:10] if self.date_to else None,
        )

    def applied(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class _SearchBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    query: CleanStr = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    filters: SearchFiltersIn | None = None
    limit: JsonInt = Field(default=10, ge=1, le=MAX_SEARCH_K)
    threshold: JsonFloat | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        allow_inf_nan=False,
        description="Minimum score of a result (cosine similarity in vector mode; "
        "hybrid: 1.0 = ranked first by both sides)",
    )
    min_seq: JsonInt | None = Field(
        default=None, ge=0, le=2**62, description="Read-your-writes: wait until the index has applied this change seq"
    )


class SearchRequest(_SearchBody):
    mode: Literal["vector", "keyword", "hybrid"] = "vector"


class HybridSearchRequest(_SearchBody):
    vector_weight: JsonFloat | None = Field(
        default=None,
        ge=0.0,
        le=100.0,
        allow_inf_nan=False,
        description="Weight of the vector ranking in the fusion (default: settings)",
    )
    keyword_weight: JsonFloat | None = Field(
        default=None,
        ge=0.0,
        le=100.0,
        allow_inf_nan=False,
        description="Weight of the keyword ranking in the fusion (default: settings)",
    )
    rrf_k: JsonInt | None = Field(
        default=None, ge=0, le=10_000, description="Reciprocal rank fusion constant (default: settings)"
    )


class SuggestResponse(BaseModel):
    q: str
    suggestions: list[str]


class SearchResult(BaseModel):
    chunk_id: int
    document_id: str
    score: float
    content: str
    filename: str
    file_type: str
    chunk_index: int
    metadata: dict[str, Any]
    page: int | None = None
    char_start: int = 0
    char_end: int = 0
    heading: str = ""


class SearchResponse(BaseModel):
    query: str
    mode: str
    results: list[SearchResult]
    total_results: int
    execution_time_ms: float
    filters_applied: dict[str, Any]
