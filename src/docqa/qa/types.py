"""What a question gets back: an answer and the exact passages it rests on."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

AnswerMode = Literal["extractive", "llm"]

NOT_FOUND_TEXT = "No relevant passage was found in the indexed documents to answer this question."


@dataclass(frozen=True)
class Source:
    """A cited span: `text == document_text[char_start:char_end]`, inside chunk `chunk_id`."""

    document_id: str
    filename: str
    chunk_id: int
    chunk_index: int
    page: int | None
    score: float
    char_start: int
    char_end: int
    text: str


@dataclass
class Answer:
    question: str
    answer: str
    found: bool
    mode: AnswerMode = "extractive"
    fallback_reason: str | None = None
    sources: list[Source] = field(default_factory=list)
    processing_time_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
