"""Question answering bodies."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Source(BaseModel):
    document_id: str
    filename: str
    chunk_id: int
    chunk_index: int
    page: int | None = None
    score: float
    char_start: int
    char_end: int
    text: str


class AskResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    question: str
    answer: str
    found: bool
    mode: str
    fallback_reason: str | None = None
    sources: list[Source]
    processing_time_ms: float
