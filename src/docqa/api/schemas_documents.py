"""Document listing and passage context bodies."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class DocumentOut(BaseModel):
    document_id: str
    filename: str
    source: str
    content_type: str
    status: str = Field(description="pending | processing | indexed | failed | deleted")
    error: str | None = Field(description="Why the document failed (status failed), else null")
    chunks_total: int
    metadata: dict[str, Any]
    content_hash: str
    created_at: str
    updated_at: str


class DocumentList(BaseModel):
    documents: list[DocumentOut]
    total: int = Field(description="Documents of the collection (of this status, when filtered)")
    limit: int
    offset: int
    status: str | None = Field(description="The status filtered on, or null")
    order: str
    next_offset: int | None = Field(description="The offset of the next page, or null on the last one")


class ContextChunkOut(BaseModel):
    chunk_id: int
    ordinal: int
    start: int = Field(description="Where this chunk's text starts in `text`")
    end: int
    page: int | None = None
    heading: str = ""


class PassageContextOut(BaseModel):
    document_id: str
    filename: str
    chunk_id: int = Field(description="The chunk asked for (the cited one)")
    text: str = Field(description="The chunk and its neighbours as one text")
    highlight_start: int = Field(description="The span to highlight: text[highlight_start:highlight_end]")
    highlight_end: int
    char_start: int = Field(description="Where `text` starts in the document (see `contiguous`)")
    char_end: int
    contiguous: bool = Field(
        description="true: `text` is the document's text from char_start to char_end (gaps between chunks shown "
        "as whitespace); false: the chunks' offsets do not describe their texts, which are joined by blank lines"
    )
    chunks: list[ContextChunkOut]
    more_before: bool = Field(description="The document has chunks before this window")
    more_after: bool = Field(description="The document has chunks after this window")
