"""all-MiniLM-L6-v2 as an int8 ONNX Runtime model: about twice the throughput of torch.

The packaged model is exported once (torch.onnx), its BERT subgraphs fused by
onnxruntime's transformer optimizer, and its weights dynamically quantized to
int8 per output channel; the few matmuls most sensitive to quantization stay
fp32 (see `FP32_FFN_OUTPUT_LAYERS`). The result is cached on disk under a key
derived from the bytes of the source model files and the recipe, so a stale
or foreign cache is never used, and it is written to a temporary directory
and renamed into place, so a crash never leaves a half-written model that
looks finished. At run time only onnxruntime, tokenizers and numpy are
needed; torch and onnx only for the one-time build.

Its vectors are close to, but not the same as, `minilm`'s (mean cosine
>= 0.99), hence the distinct `model_id`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from docqa import fsutil
from docqa.embedders import tokenizer
from docqa.embedders.base import Embedder, MiniLMShared, check_texts, normalize_rows
from docqa.embedders.minilm import DIM, MAX_TOKENS, default_threads, set_offline_env
from docqa.errors import EmbedderError, InvalidInput

CACHE_ENV = "DOCQA_MODEL_CACHE"
# Bump when anything below changes the produced model: the cache key includes it.
RECIPE = "minilm-int8/v1 export=torchscript-opset17-eager fuse=bert quant=dynamic-QInt8-per-channel fp32=ffn_out[0]"
# Layers whose feed-forward output matmul (1536 -> 384) stays fp32. Quantized one node at a time,
# layer 0's costs the most cosine (-0.0019 of the ~-0.009 total of quantizing everything) for ~5%
# of the compute. See docs/benchmarks.md, "Embedding throughput".
FP32_FFN_OUTPUT_LAYERS = (0,)
MODEL_FILE = "model.onnx"
MANIFEST_FILE = "manifest.json"
_build_lock = threading.Lock()


def default_cache_dir() -> Path:
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "docqa" / "models"


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def source_fingerprint(model_dir: Path) -> str:
    """sha256 over the recipe and every source file's relative path and content hash."""
    digest = hashlib.sha256(RECIPE.encode())
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        digest.update(f"\0{path.relative_to(model_dir).as_posix()}\0{_sha256_file(path)}".encode())
    return digest.hexdigest()


def ensure_quantized_model(model_dir: Path, cache_dir: Path) -> Path:
    """Path of the cached int8 model for `model_dir`, building it first if needed."""
    fingerprint = source_fingerprint(model_dir)
    final = cache_dir / f"minilm-int8-{fingerprint[:16]}"
    with _build_lock:
        if _cache_is_valid(final, fingerprint):
            return final / MODEL_FILE
        cache_dir.mkdir(parents=True, exist_ok=True)
        with fsutil.locked(cache_dir / ".build.lock"):
            if _cache_is_valid(final, fingerprint):  # another process finished it while we waited
                return final / MODEL_FILE
            _sweep_leftovers(cache_dir)
            _discard(final)
            tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=cache_dir))
            os.chmod(tmp, 0o755)  # mkdtemp makes it private; the model is not a secret
            try:
                _build(model_dir, tmp, fingerprint)
                os.rename(tmp, final)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            fsutil.fsync_dir(cache_dir)
    return final / MODEL_FILE


def _cache_is_valid(directory: Path, fingerprint: str) -> bool:
    try:
        manifest = json.loads((directory / MANIFEST_FILE).read_text())
        return (
            manifest.get("source_fingerprint") == fingerprint
            and manifest.get("recipe") == RECIPE
            and manifest.get("model_sha256") == _sha256_file(directory / MODEL_FILE)
        )
    except (OSError, ValueError, AttributeError):
        return False


def _sweep_leftovers(cache_dir: Path) -> None:
    """Remove what a killed build left behind; holding the build lock, nobody else is building."""
    for leftover in cache_dir.glob(".build-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    for leftover in cache_dir.glob(".trash-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def _discard(directory: Path) -> None:
    """Move an invalid cache entry aside before deleting it, so nothing reads it half-deleted."""
    if directory.exists():
        trash = directory.with_name(f".trash-{directory.name}-{os.getpid()}-{time.monotonic_ns()}")
        os.rename(directory, trash)
        shutil.rmtree(trash, ignore_errors=True)


def _build(model_dir: Path, out_dir: Path, fingerprint: str) -> None:
    """Export -> fuse -> quantize into `out_dir`, then write the manifest last."""
    try:
        import onnx
        import onnxruntime
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from onnxruntime.transformers.optimizer import optimize_model
    except ImportError as exc:
        raise EmbedderError(f"building the int8 MiniLM model needs onnx and onnxruntime: {exc}") from exc
    config = json.loads((model_dir / "config.json").read_text())
    fp32 = out_dir / "fp32.onnx"
    fused = out_dir / "fused.onnx"
    torch_version = _export_fp32(model_dir, fp32)
    optimized = optimize_model(
        str(fp32), model_type="bert", num_heads=config["num_attention_heads"], hidden_size=config["hidden_size"]
    )
    optimized.save_model_to_file(str(fused))
    fp32.unlink()
    quantize_dynamic(
        str(fused),
        str(out_dir / MODEL_FILE),
        per_channel=True,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=ffn_output_matmuls(onnx.load(str(fused)), FP32_FFN_OUTPUT_LAYERS),
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )
    fused.unlink()
    _fsync_file(out_dir / MODEL_FILE)
    manifest = {
        "recipe": RECIPE,
        "source_fingerprint": fingerprint,
        "source_dir": str(model_dir),
        "model_sha256": _sha256_file(out_dir / MODEL_FILE),
        "built_with": {"torch": torch_version, "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__},
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (out_dir / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2))
    _fsync_file(out_dir / MANIFEST_FILE)


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def ffn_output_matmuls(model: Any, layers: Sequence[int]) -> list[str]:
    """Names of the feed-forward output MatMuls (weight shape intermediate x hidden) of `layers`.

    Found by weight shape and graph order rather than by name, since exporter
    naming changes between torch versions.
    """
    shapes = {init.name: tuple(init.dims) for init in model.graph.initializer}
    ffn_out = [
        node.name
        for node in model.graph.node
        if node.op_type == "MatMul" and any(_is_down_projection(shapes.get(name)) for name in node.input)
    ]
    if len(ffn_out) <= max(layers, default=-1):
        raise EmbedderError(f"expected one FFN output MatMul per layer, found {len(ffn_out)}")
    return [ffn_out[i] for i in layers]


def _is_down_projection(shape: tuple | None) -> bool:
    return shape is not None and len(shape) == 2 and shape[0] == 4 * shape[1]


def _export_fp32(model_dir: Path, path: Path) -> str:
    """torch.onnx.export of the transformer; its output is last_hidden_state (pooling happens in numpy)."""
    set_offline_env()
    import warnings

    import torch
    import transformers
    from transformers import AutoModel

    transformers.utils.logging.disable_progress_bar()

    class Encoder(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state

    # eager attention exports the plain masked softmax that onnxruntime fuses into one Attention op
    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager", local_files_only=True).eval()
    ids = torch.full((2, 16), 1000, dtype=torch.long)
    mask = torch.ones_like(ids)
    mask[1, 9:] = 0  # a padded row, so nothing mask-dependent is traced as a constant
    names = ["input_ids", "attention_mask", "token_type_ids"]
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Encoder(model),
            (ids, mask, torch.zeros_like(ids)),
            str(path),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes={name: {0: "batch", 1: "seq"} for name in names + ["last_hidden_state"]},
            opset_version=17,
            dynamo=False,
        )
    return torch.__version__


class MiniLMOnnxEmbedder(MiniLMShared, Embedder):
    """all-MiniLM-L6-v2, int8 per-channel, on onnxruntime; normalized float32 384-d vectors.

    Texts are sorted by token length, cut into batches of at most `batch_size`,
    and the batches run on `threads` single-threaded workers in parallel; a
    single batch (a query) runs on the calling thread.
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
    ) -> None:
        if batch_size < 1:
            raise InvalidInput(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self.threads = threads or default_threads()
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
        self._model_path = model_path
        self._session: Any = None
        self._tokenizer: Any = None
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

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
                        f"could not build the int8 MiniLM model in {self.cache_dir} ({CACHE_ENV}): "
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
        order = np.argsort([len(e.ids) for e in encodings], kind="stable")  # length bucketing
        per_batch = max(1, min(self.batch_size, math.ceil(len(items) / self.threads)))  # keep every worker busy
        out = np.empty((len(items), DIM), dtype=np.float32)

        def run(rows: np.ndarray) -> None:
            ids, mask = _pad([encodings[i].ids for i in rows])
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            out[rows] = _mean_pool(session.run(None, feed)[0], mask)

        batches = [order[start : start + per_batch] for start in range(0, len(order), per_batch)]
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
