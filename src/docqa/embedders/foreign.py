"""The embedder of a collection built outside docqa (a LangChain or LlamaIndex embedding, any dimension).

docqa has no way to make its vectors, yet everything that needs none works on the collection as usual:
`docqa sync` (the proof, catch-up, repair, rebuild), `stats`, `documents`, deletes, and search by vector.
What must embed text (text search, ask, ingest) is a clear EmbedderMismatch naming the way out, instead of
refusing to open the collection at all.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from docqa.embedders.base import Embedder
from docqa.errors import EmbedderMismatch


class ForeignEmbedder(Embedder):
    def __init__(self, collection: str, model_id: str, dim: int) -> None:
        self.collection = collection
        self.model_id = model_id
        self.dim = dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        raise EmbedderMismatch(
            f"collection {self.collection!r} was built with model {self.model_id!r}, which no embedder of this "
            f"docqa produces: docqa can sync, check, list and delete its documents and search it by vector, but "
            f"cannot embed text for it; search, ask and add documents through the application that built it "
            f"(e.g. docqa.integrations.langchain.DocqaVectorStore with its embedding)",
            collection=self.collection,
            stored_model=self.model_id,
        )
