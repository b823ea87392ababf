"""Helpers for tests: documents made of sentences, and plain-SQL writers."""

from __future__ import annotations

from docqa.types import ChunkInput

TOPICS = [
    "the espresso machine needs descaling every month with citric acid",
    "bicycle chains should be cleaned and lubricated after rain",
    "patients must bring their insurance card to the intake desk",
    "the data retention policy keeps audit logs for seven years",
    "vaccines are stored between two and eight degrees celsius",
    "the sync engine rebuilds the faiss index from stored embeddings",
    "sourdough bread needs a starter fed with flour and water",
    "the town library was founded in 1887 by a wealthy merchant",
    "incident postmortems list the timeline root cause and actions",
    "a discharge checklist confirms medication and follow up visits",
]


def make_chunks(texts: list[str]) -> list[ChunkInput]:
    out, pos = [], 0
    for i, t in enumerate(texts):
        out.append(ChunkInput(text=t, ordinal=i, char_start=pos, char_end=pos + len(t), token_count=len(t.split())))
        pos += len(t) + 1
    return out
