"""Plain data carried between layers. No I/O here."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

SyncStatus = Literal["in_sync", "caught_up", "repaired", "rebuilt", "degraded"]
SyncMode = Literal["auto", "check", "force", "catch_up"]


@dataclass
class ChunkInput:
    """A chunk about to be stored. `embedding` is filled by the pipeline."""

    text: str
    ordinal: int
    char_start: int = 0
    char_end: int = 0
    page: int | None = None
    token_count: int = 0
    heading: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    embedding: np.ndarray | None = None


@dataclass
class ChunkRecord:
    id: int
    document_id: str
    collection: str
    ordinal: int
    text: str
    char_start: int
    char_end: int
    page: int | None
    token_count: int
    heading: str
    content_hash: str
    model: str
    dim: int
    metadata: dict[str, Any]


@dataclass
class DocumentRecord:
    id: str
    collection: str
    source: str
    filename: str
    content_type: str
    content_hash: str
    status: str
    error: str | None
    metadata: dict[str, Any]
    created_at: str
    updated_at: str
    chunks_total: int = 0
    parser_version: int = 0  # docqa's parser/chunker version its chunks were cut with (0: given as chunks)

    def to_dict(self) -> dict[str, Any]:
        """`document_id`, as every face names it (the attribute is `id`)."""
        d = asdict(self)
        return {"document_id": d.pop("id"), **d}


@dataclass
class WriteResult:
    """What a write did. `seq` is the change-log position to pass as `min_seq`."""

    document_id: str
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    seq: int = 0
    status: str = "indexed"
    outcome: str = "added"  # added | updated | unchanged (the same content and metadata were already stored)


@dataclass(frozen=True)
class DeleteResult:
    """What a delete did. `seq` is the change-log position to pass as `min_seq`."""

    document_id: str
    chunks_deleted: int
    vectors_deleted: int
    seq: int

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "status": "deleted"}


@dataclass
class SearchFilters:
    document_ids: tuple[str, ...] = ()
    content_types: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    date_from: str | None = None  # ISO date, compared with document created_at or metadata.date
    date_to: str | None = None

    def is_empty(self) -> bool:
        return not (self.document_ids or self.content_types or self.metadata or self.date_from or self.date_to)


@dataclass
class SearchHit:
    chunk_id: int
    document_id: str
    score: float
    content: str
    filename: str
    content_type: str
    chunk_index: int
    metadata: dict[str, Any]
    page: int | None = None
    char_start: int = 0
    char_end: int = 0
    heading: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["file_type"] = self.content_type
        return d


@dataclass
class SyncReport:
    """What a sync did — or, for a check (`sync_performed` False), what a sync would do.

    db_count: the database's member count; -1 when it is unknown (the database was unreachable).
    pending: chunk ids with changes in the log past the index's position when the sync began
    (applied by a sync, only counted by a check).
    cause: why a rebuild or repair ran (or would): forced | missing | settings | compaction |
    invalid | drift; "" otherwise. Only invalid and drift mean the index disagreed with the database.
    """

    status: SyncStatus
    sync_performed: bool
    db_count: int
    index_count: int
    applied_seq: int
    added: int = 0
    removed: int = 0
    repaired: int = 0
    duration_ms: float = 0.0
    reason: str = ""
    collection: str = "default"
    pending: int = 0
    cause: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """One line for people: `caught_up: DB 12 embeddings, index 12 vectors, ... (would catch up 1 change(s))`."""
        db = "unknown" if self.db_count < 0 else str(self.db_count)
        return (
            f"{self.status}: DB {db} embeddings, index {self.index_count} vectors, applied seq {self.applied_seq}, "
            f"+{self.added} -{self.removed} repaired {self.repaired} in {self.duration_ms:.0f} ms"
            + (f" ({self.reason})" if self.reason else "")
        )


@dataclass
class ContextChunk:
    """One chunk of a passage's context: where its text is in `PassageContext.text` (`start`, `end`)."""

    chunk_id: int
    ordinal: int
    start: int
    end: int
    page: int | None = None
    heading: str = ""


@dataclass
class PassageContext:
    """A cited chunk with its neighbours as one readable text, and the span to highlight in it.

    `highlight_start` / `highlight_end` are offsets in `text`. `char_start` / `char_end`: where `text` lies in
    the document when `contiguous` (the chunks' offsets agree with their texts; gaps between chunks are
    rendered as whitespace), else the chunks' texts are joined by blank lines and these are the chunks' range.
    """

    document_id: str
    filename: str
    chunk_id: int
    text: str
    highlight_start: int
    highlight_end: int
    char_start: int
    char_end: int
    contiguous: bool
    chunks: list[ContextChunk] = field(default_factory=list)
    more_before: bool = False
    more_after: bool = False

    @property
    def highlighted(self) -> str:
        return self.text[self.highlight_start : self.highlight_end]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
