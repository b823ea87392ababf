"""What a search reads, handed down by the app layer: never the library object itself."""

from __future__ import annotations

from dataclasses import dataclass

from docqa.embedders.base import Embedder
from docqa.protocols import IndexReader
from docqa.storage.db import Database


@dataclass(frozen=True)
class Corpus:
    """One collection: its rows (the database), its vector index (read side) and its embedder."""

    db: Database
    index: IndexReader
    embedder: Embedder
    collection: str


@dataclass(frozen=True)
class HybridParams:
    """Reciprocal rank fusion: the weight of each ranking, the RRF constant, and how much each contribution
    is scaled by the chunk's score relative to the best of its ranking (`score_power`; 0 = plain RRF)."""

    vector_weight: float = 1.0
    keyword_weight: float = 1.0
    rrf_k: int = 60
    score_power: float = 1.0
    # the vector ranking weighs up to `vector_boost` times more when its best cosine stands this far above
    # its 10th (a clear match, as a question heading its answer gives), in proportion to the margin; 0: off
    vector_margin: float = 0.1
    vector_boost: float = 3.0
