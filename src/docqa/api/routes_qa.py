"""`GET /api/v1/qa/ask`: an answer with the sources it cites."""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool

from docqa.api.deps import RuntimeDep
from docqa.api.schemas import DOCUMENT_ID_PATTERN, ERROR_RESPONSES, check_text
from docqa.api.schemas_qa import AskResponse
from docqa.api.security import require_read_key
from docqa.errors import InvalidInput
from docqa.limits import MAX_ASK_K, MAX_QUESTION_CHARS

router = APIRouter(
    prefix="/api/v1/qa", tags=["qa"], responses=ERROR_RESPONSES, dependencies=[Depends(require_read_key)]
)


def _document_ids(values: list[str]) -> list[str]:
    """`context_documents=a,b` and `context_documents=a&context_documents=b` both work."""
    ids: list[str] = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            if not re.fullmatch(DOCUMENT_ID_PATTERN, part):
                raise InvalidInput(
                    f"context_documents: {part[:80]!r} is not a valid document id", field="context_documents"
                )
            ids.append(part)
    if len(ids) > 1000:
        raise InvalidInput("context_documents: at most 1000 document ids", field="context_documents")
    return list(dict.fromkeys(ids))


@router.get("/ask", response_model=AskResponse, summary="Answer a question from the indexed documents")
async def ask(
    runtime: RuntimeDep,
    question: str = Query(min_length=1, max_length=MAX_QUESTION_CHARS, description="The question"),
    context_documents: list[str] = Query(
        default_factory=list, description="Restrict to these document ids (comma-separated)"
    ),
    k: int = Query(default=5, ge=1, le=MAX_ASK_K, description="How many chunks to retrieve"),
    min_seq: int | None = Query(
        default=None, ge=0, le=2**62, description="Read-your-writes: wait until the index has applied this change seq"
    ),
) -> AskResponse:
    try:
        check_text(question)
    except ValueError as exc:
        raise InvalidInput(f"question {exc}", field="question") from None
    if not question.strip():
        raise InvalidInput("question must not be blank", field="question")
    ids = _document_ids(context_documents)
    library = runtime.serving()
    answer = await run_in_threadpool(lambda: library.ask(question, document_ids=ids, k=k, min_seq=min_seq))
    return AskResponse(**answer.to_dict())
