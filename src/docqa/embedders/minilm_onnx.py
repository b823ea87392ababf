"""all-MiniLM-L6-v2 as an int8 ONNX Runtime model: 2-3x the throughput of torch, and no torch at run time.

The packaged model is exported once (torch.onnx), its BERT subgraphs fused by
onnxruntime's transformer optimizer, and its weights dynamically quantized to
int8 per output channel (onnx_export.py); the result is cached on disk and
validated on every load (onnx_cache.py: where it lives, how to rebuild it).
At run time only onnxruntime, tokenizers and numpy are imported; torch,
transformers and onnx only for the one-time build.

Its vectors are close to, but not the same as, `minilm`'s (mean cosine
>= 0.99), hence the distinct `model_id`.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from docqa.embedders import tokenizer
from docqa.embedders.base import Embedder, MiniLMShared, check_texts, normalize_rows
from docqa.embedders.minilm import DIM, MAX_TOKENS, default_threads
from docqa.embedders.onnx_cache import default_cache_dir, ensure_quantized_model
from docqa.errors import EmbedderError, InvalidInput

# Padded tokens per model run. Measured on 2,184 real chunks (mean 148 tokens): batches of
# ~1-2k tokens embed 27-30 chunks per CPU-second, 32 x 256 (~6k) 26-27; sorting the whole
# call by length (not each 64 texts) took it from 21. See docs/benchmarks.md, "Ingest".
MAX_BATCH_TOKENS = 2048


def plan_batches(lengths: Sequence[int], max_texts: int, max_tokens: int, workers: int) -> list[np.ndarray]:
    """Rows of each model run: sorted by length (little padding), at most `max_texts` rows and
    `max_tokens` padded tokens each (one long text alone may exceed it), no more rows than keep
    every worker busy; longest first, so the last runs to finish are short."""
    n = len(lengths)
    order = np.argsort(np.asarray(lengths), kind="stable")
    cap = max(1, min(max_texts, math.ceil(n / max(1, workers))))
    batches, start = [], 0
    while start < n:
        end = start + 1
        while end < n and end - start < cap and (end - start + 1) * lengths[order[end]] <= max_tokens:
            end += 1
        batches.append(order[start:end])
        start = end
    return batches[::-1]


class MiniLMOnnxEmbedder(MiniLMShared, Embedder):
    """all-MiniLM-L6-v2, int8 per-channel, on onnxruntime; normalized float32 384-d vectors.

    Each call's texts are sorted by token length and cut into runs of at most
    `batch_size` texts and `max_batch_tokens` padded tokens, which run on
    `threads` single-threaded workers in parallel; a single run (a query)
    runs on the calling thread.
    """

    model_id = "minilm-int8"
    dim = DIM
    max_tokens = MAX_TOKENS

    def __init__(
        self,
        batch_size: int = 64,
        cache_dir: Path | str | None = None,
        model_path: Path | None = None,
        threads: int | None = None,
        max_batch_tokens: int = MAX_BATCH_TOKENS,
    ) -> None:
        if batch_size < 1 or max_batch_tokens < 1:
            raise InvalidInput(f"batch_size and max_batch_tokens must be >= 1, got {batch_size}, {max_batch_tokens}")
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        self.threads = threads or default_threads()
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
        self._model_path = model_path
        self._session: Any = None
        self._tokenizer: Any = None
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def load(self) -> None:
        self._load()

    def _load(self) -> Any:
        with self._lock:
            if self._session is None:
                import onnxruntime as ort

                try:
                    onnx_path = ensure_quantized_model(self.model_path, self.cache_dir)
                except EmbedderError:
                    raise
                except Exception as exc:
                    raise EmbedderError(
                        f"could not build the int8 MiniLM model in {self.cache_dir} (DOCQA_MODEL_CACHE): "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
                # One thread per run; `threads` runs side by side (see embed). On 2 shared cores this
                # beat one run on 2 intra-op threads by ~1.4x: no per-operator barriers to wait at.
                options = ort.SessionOptions()
                options.intra_op_num_threads = 1
                options.inter_op_num_threads = 1
                options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
                options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                self._tokenizer = tokenizer.load_tokenizer(self.model_path)
                self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
                self._session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
                self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="docqa-minilm-int8")
            return self._session

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        items = check_texts(texts)
        if not items:
            return np.zeros((0, DIM), dtype=np.float32)
        session = self._load()
        encodings = tokenizer.encode_batch(self._tokenizer, items)
        lengths = [len(e.ids) for e in encodings]
        out = np.empty((len(items), DIM), dtype=np.float32)

        def run(rows: np.ndarray) -> None:
            ids, mask = _pad([encodings[i].ids for i in rows])
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            out[rows] = _mean_pool(session.run(None, feed)[0], mask)

        batches = plan_batches(lengths, self.batch_size, self.max_batch_tokens, self.threads)
        if len(batches) == 1:
            run(batches[0])
        else:
            pool = self._pool
            assert pool is not None  # made with the session
            for future in [pool.submit(run, rows) for rows in batches]:
                future.result()
        return normalize_rows(out)

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
            self._session = self._pool = None


def _pad(sequences: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    width = max(len(s) for s in sequences)
    ids = np.full((len(sequences), width), tokenizer.PAD_ID, dtype=np.int64)
    mask = np.zeros((len(sequences), width), dtype=np.int64)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1
    return ids, mask


def _mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    weights = mask.astype(np.float32)
    summed = np.einsum("bld,bl->bd", hidden, weights)
    return summed / np.maximum(weights.sum(axis=1, keepdims=True), 1e-9)
