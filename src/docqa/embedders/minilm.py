"""all-MiniLM-L6-v2 through sentence-transformers, on the CPU, from the packaged model.

The model loads lazily on the first `embed` (torch import + load take several
seconds), never at construction, so building an app or a CLI stays cheap.
sentence-transformers already sorts each call's texts by length before
batching and restores the order afterwards, which is the length bucketing
this model wants.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from docqa.embedders.base import Embedder, MiniLMShared, check_texts, normalize_rows
from docqa.errors import EmbedderError, InvalidInput

DIM = 384
MAX_TOKENS = 256


def set_offline_env() -> None:
    """Forbid any hub download (the model must come from the installed package) and its progress bars."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def quiet_model_loading() -> None:
    """No "Loading weights" bar or loader chatter on stderr: transformers' and huggingface_hub's
    tqdm bars off, transformers' logger at ERROR (docqa draws its own progress)."""
    import transformers

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()


def default_threads() -> int:
    return max(1, min(os.cpu_count() or 1, 4))


class MiniLMEmbedder(MiniLMShared, Embedder):
    """Normalized float32 384-d vectors from sentence-transformers/all-MiniLM-L6-v2."""

    model_id = "minilm"
    dim = DIM
    max_tokens = MAX_TOKENS

    def __init__(self, batch_size: int = 64, model_path: Path | None = None, threads: int | None = None) -> None:
        if batch_size < 1:
            raise InvalidInput(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self.threads = threads or default_threads()
        self._model_path = model_path
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is not None:
                return self._model
            set_offline_env()
            import torch

            torch.set_num_threads(self.threads)
            try:
                torch.set_num_interop_threads(1)
            except RuntimeError:  # already set (or torch already ran parallel work) in this process
                pass
            from sentence_transformers import SentenceTransformer

            quiet_model_loading()
            try:
                model = SentenceTransformer(str(self.model_path), device="cpu", local_files_only=True)
            except Exception as exc:
                raise EmbedderError(f"could not load MiniLM from {self.model_path}: {exc}") from exc
            model.eval()
            model.max_seq_length = MAX_TOKENS
            self._model = model
            return model

    def load(self) -> None:
        self._load()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        items = check_texts(texts)
        if not items:
            return np.zeros((0, DIM), dtype=np.float32)
        model = self._load()
        vectors = model.encode(
            items,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return normalize_rows(vectors)

    def close(self) -> None:
        with self._lock:
            self._model = None
