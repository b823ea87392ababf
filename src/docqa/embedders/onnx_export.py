"""The one-time build of the int8 MiniLM model: torch.onnx export -> BERT fusion -> dynamic int8 quantization.

Only this module needs torch, transformers and onnx, and only while building;
they are imported inside `build`. The result and its manifest are written to
the directory the cache (onnx_cache.py) hands over; the cache renames it into
place once it is complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from docqa.embedders.minilm import quiet_model_loading, set_offline_env
from docqa.errors import EmbedderError

# Bump when anything below changes the produced model: the cache key includes it.
RECIPE = "minilm-int8/v1 export=torchscript-opset17-eager fuse=bert quant=dynamic-QInt8-per-channel fp32=ffn_out[0]"
# Layers whose feed-forward output matmul (1536 -> 384) stays fp32. Quantized one node at a time,
# layer 0's costs the most cosine (-0.0019 of the ~-0.009 total of quantizing everything) for ~5%
# of the compute. See docs/benchmarks.md, "Embedding throughput".
FP32_FFN_OUTPUT_LAYERS = (0,)
MODEL_FILE = "model.onnx"
MANIFEST_FILE = "manifest.json"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_stat(path: Path) -> list[int]:
    """What changes whenever a file is rewritten or replaced: size, mtime (ns), inode."""
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def build(model_dir: Path, out_dir: Path, fingerprint: str) -> None:
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
    with _root_logger_quiet():
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
        "model_sha256": sha256_file(out_dir / MODEL_FILE),
        "model_stat": file_stat(out_dir / MODEL_FILE),
        "built_with": {"torch": torch_version, "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__},
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (out_dir / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2))
    _fsync_file(out_dir / MANIFEST_FILE)


class _DropRootAdvice(logging.Filter):
    """onnxruntime's quantizer logs advice through the root logger ("Please consider to run pre-processing
    before quantization"): not for docqa's users, who never run the quantizer themselves."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR


@contextlib.contextmanager
def _root_logger_quiet() -> Iterator[None]:
    """Drop below-ERROR records logged straight to the root logger while the quantizer runs. The
    module-level logging.warning() it uses would also install a stderr handler on a root that has none
    (logging.basicConfig): a NullHandler stands in meanwhile."""
    root = logging.getLogger()
    advice, stand_in = _DropRootAdvice(), logging.NullHandler()
    root.addFilter(advice)
    root.addHandler(stand_in)
    try:
        yield
    finally:
        root.removeHandler(stand_in)
        root.removeFilter(advice)


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
    from transformers import AutoModel

    quiet_model_loading()

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
