"""Embedders: the hash test embedder, the int8 model cache, and the real MiniLM (marked `model`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from docqa.config import Settings
from docqa.embedders import minilm_onnx, onnx_cache, onnx_export, tokenizer
from docqa.embedders.hash import HashEmbedder
from docqa.embedders.registry import available_embedders, get_embedder
from docqa.errors import InvalidInput

# ---------------------------------------------------------------------------- hash embedder


def test_hash_embedder_is_deterministic_and_normalized() -> None:
    texts = ["The cat sat on the mat.", "A dog barked at the mailman.", "", "The cat sat on the mat."]
    a, b = HashEmbedder().embed(texts), HashEmbedder().embed(texts)
    assert a.shape == (4, 384) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(a[0], a[3])
    assert HashEmbedder(dim=64).embed(["x"]).shape == (1, 64)


def test_hash_embedder_shared_words_are_closer() -> None:
    q, near, far = HashEmbedder().embed(["cat on the mat", "the cat sat on the mat", "stock market crash"])
    assert q @ near > q @ far


def test_registry_builds_model_embedders_without_heavy_imports() -> None:
    """Constructing minilm / minilm-int8 must not import torch or onnxruntime (lazy load)."""
    code = (
        "import sys\n"
        "from docqa.config import Settings\n"
        "from docqa.embedders.registry import get_embedder\n"
        "a = get_embedder(Settings(embed_batch_size=16), 'minilm')\n"
        "b = get_embedder(Settings(), 'minilm-int8')\n"
        "assert (a.model_id, a.dim, a.max_tokens, a.batch_size) == ('minilm', 384, 256, 16), a\n"
        "assert (b.model_id, b.dim, b.max_tokens) == ('minilm-int8', 384, 256)\n"
        "heavy = [m for m in ('torch', 'onnxruntime', 'sentence_transformers', 'transformers') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    assert {"hash", "minilm", "minilm-int8", "openai"} <= set(available_embedders())
    with pytest.raises(InvalidInput, match="unknown embedder"):
        get_embedder(Settings(), "nope")


# ---------------------------------------------------------------------------- tokenizer


def test_token_counts_exclude_special_tokens_and_do_not_truncate() -> None:
    assert tokenizer.count_tokens("") == 0
    assert tokenizer.count_tokens("hello world") == 2
    long_text = "retrieval " * 300  # one token per word
    assert tokenizer.count_tokens(long_text) == 300
    texts = ["hello world", long_text, "Unbelievably tokenized supercalifragilistic words!"]
    assert tokenizer.count_tokens_batch(texts) == [tokenizer.count_tokens(t) for t in texts]
    assert tokenizer.count_tokens_batch([]) == []


# ---------------------------------------------------------------------------- int8 model cache
# The build step is replaced by a quick fake here; the real build runs in the model tests below.


@pytest.fixture()
def fake_source(tmp_path: Path) -> Path:
    src = tmp_path / "src-model"
    (src / "1_Pooling").mkdir(parents=True)
    (src / "model.safetensors").write_bytes(b"weights-v1")
    (src / "1_Pooling" / "config.json").write_text("{}")
    return src


@pytest.fixture()
def fake_builds(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    builds: list[Path] = []

    def fake_build(model_dir: Path, out_dir: Path, fingerprint: str) -> None:
        builds.append(out_dir)
        (out_dir / onnx_export.MODEL_FILE).write_bytes(b"onnx:" + (model_dir / "model.safetensors").read_bytes())
        manifest = {
            "recipe": onnx_export.RECIPE,
            "source_fingerprint": fingerprint,
            "model_sha256": onnx_export.sha256_file(out_dir / onnx_export.MODEL_FILE),
        }
        (out_dir / onnx_export.MANIFEST_FILE).write_text(json.dumps(manifest))

    monkeypatch.setattr(onnx_cache, "_build", fake_build)
    return builds


def test_cache_builds_once_and_reuses(tmp_path: Path, fake_source: Path, fake_builds: list[Path]) -> None:
    cache = tmp_path / "cache"
    first = onnx_cache.ensure_quantized_model(fake_source, cache)
    second = onnx_cache.ensure_quantized_model(fake_source, cache)
    assert first == second and first.read_bytes() == b"onnx:weights-v1"
    assert len(fake_builds) == 1
    assert fake_builds[0].parent == cache and fake_builds[0].name.startswith(".build-")  # built aside, renamed
    assert entries(cache) == [first.parent.name]


def test_cache_key_follows_source_bytes(tmp_path: Path, fake_source: Path, fake_builds: list[Path]) -> None:
    cache = tmp_path / "cache"
    old = onnx_cache.ensure_quantized_model(fake_source, cache)
    (fake_source / "1_Pooling" / "config.json").write_text('{"changed": true}')
    new = onnx_cache.ensure_quantized_model(fake_source, cache)
    assert new.parent != old.parent and len(fake_builds) == 2


def test_corrupt_or_torn_cache_is_rebuilt(tmp_path: Path, fake_source: Path, fake_builds: list[Path]) -> None:
    cache = tmp_path / "cache"
    path = onnx_cache.ensure_quantized_model(fake_source, cache)
    path.write_bytes(b"onnx:weights-v1-but-truncat")  # same name, wrong bytes
    assert onnx_cache.ensure_quantized_model(fake_source, cache).read_bytes() == b"onnx:weights-v1"
    (path.parent / onnx_export.MANIFEST_FILE).unlink()  # as if killed before the manifest was written
    assert onnx_cache.ensure_quantized_model(fake_source, cache).read_bytes() == b"onnx:weights-v1"
    assert len(fake_builds) == 3
    assert not [p for p in cache.iterdir() if p.name.startswith((".build-", ".trash-"))]


def test_failed_build_leaves_nothing(tmp_path: Path, fake_source: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_build(model_dir: Path, out_dir: Path, fingerprint: str) -> None:
        (out_dir / onnx_export.MODEL_FILE).write_bytes(b"half")
        raise RuntimeError("export crashed")

    monkeypatch.setattr(onnx_cache, "_build", broken_build)
    cache = tmp_path / "cache"
    with pytest.raises(RuntimeError, match="export crashed"):
        onnx_cache.ensure_quantized_model(fake_source, cache)
    assert entries(cache) == []


def test_leftovers_of_a_killed_build_are_swept(tmp_path: Path, fake_source: Path, fake_builds: list[Path]) -> None:
    cache = tmp_path / "cache"
    (cache / ".build-killed").mkdir(parents=True)
    (cache / ".build-killed" / onnx_export.MODEL_FILE).write_bytes(b"half")
    path = onnx_cache.ensure_quantized_model(fake_source, cache)
    assert entries(cache) == [path.parent.name]


def test_cache_dir_from_settings_or_argument(tmp_path: Path) -> None:
    from_env = Settings.from_env(environ={"DOCQA_MODEL_CACHE": str(tmp_path / "env-cache")})
    assert get_embedder(from_env, "minilm-int8").cache_dir == tmp_path / "env-cache"  # type: ignore[attr-defined]
    assert minilm_onnx.MiniLMOnnxEmbedder(cache_dir=tmp_path / "arg").cache_dir == tmp_path / "arg"
    assert get_embedder(Settings(), "minilm-int8").cache_dir == Path.home() / ".cache" / "docqa" / "models"  # type: ignore[attr-defined]


def test_a_valid_cache_opens_without_rehashing(
    tmp_path: Path, fake_source: Path, fake_builds: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hashing the ~115 MB of source and model costs 0.1-0.3 s per command: done once, then remembered
    against (size, mtime, inode); a rewritten file is hashed again."""
    cache = tmp_path / "cache"
    onnx_cache.ensure_quantized_model(fake_source, cache)
    onnx_cache.ensure_quantized_model(fake_source, cache)  # full check once, remembered
    hashed: list[str] = []
    real = onnx_cache.sha256_file
    monkeypatch.setattr(onnx_cache, "sha256_file", lambda path: hashed.append(path.name) or real(path))
    path = onnx_cache.ensure_quantized_model(fake_source, cache)
    assert hashed == [] and len(fake_builds) == 1
    (fake_source / "model.safetensors").write_bytes(b"weights-v2")  # same size, new mtime
    new = onnx_cache.ensure_quantized_model(fake_source, cache)
    assert "model.safetensors" in hashed and new != path and len(fake_builds) == 2


def entries(cache: Path) -> list[str]:
    """The cache's entries, without its lock and the remembered source hashes."""
    return sorted(p.name for p in cache.iterdir() if not p.name.startswith((".build.lock", ".source-")))


# ---------------------------------------------------------------------------- the real model

SENTENCES = [
    "The cat sat on the mat.",
    "A kitten is lying on a rug.",
    "The stock market crashed this morning.",
    "Investors lost billions as shares fell.",
    "How do I reset my password?",
    "Steps to recover a forgotten account password.",
    "The patient presented with acute chest pain radiating to the left arm.",
    "Myocardial infarction symptoms include chest pain and shortness of breath.",
    "Paris is the capital of France.",
    "The Eiffel Tower is in Paris.",
    "Photosynthesis converts light energy into chemical energy in plants.",
    "Chlorophyll absorbs light for photosynthesis.",
    "Python is a popular programming language for data science.",
    "She plays the violin in the city orchestra.",
    "Heavy rain is expected tomorrow across the region.",
    "The train to Berlin leaves at 9:45 from platform 3.",
    "Add two cups of flour and stir until smooth.",
    "The contract terminates automatically after twelve months unless renewed.",
    "Quantum computers use qubits instead of classical bits.",
    "The referee showed him a red card in the second half.",
    "Dosage: 500 mg twice daily with food, for seven days.",
    "Backups are stored encrypted in a second data centre.",
    "The museum is closed on Mondays.",
    "He apologized for the delay in shipping the order.",
    "Tokyo hosted the Summer Olympics in 2021.",
    "Vaccines train the immune system to recognize pathogens.",
    "The invoice total includes VAT at 20%.",
    "Use a FAISS flat index for exact inner-product search.",
    "Les documents sont indexés une seule fois.",
    "x",
    "",
    " ".join(["long"] * 40 + ["context about databases and indexes"] * 60),  # > 256 tokens: truncated
]


@pytest.fixture(scope="module")
def minilm() -> Iterator:
    from docqa.embedders.minilm import MiniLMEmbedder

    emb = MiniLMEmbedder(batch_size=16)
    yield emb
    emb.close()


@pytest.fixture(scope="module")
def minilm_int8() -> Iterator:
    emb = minilm_onnx.MiniLMOnnxEmbedder()  # default cache dir: built once per machine (~30 s)
    yield emb
    emb.close()


@pytest.fixture(scope="module")
def reference(minilm) -> np.ndarray:
    return minilm.embed(SENTENCES)


@pytest.mark.model
@pytest.mark.parametrize("name", ["minilm", "minilm_int8"])
def test_shape_normalization_and_semantics(name: str, request: pytest.FixtureRequest) -> None:
    emb = request.getfixturevalue(name)
    vectors = emb.embed(SENTENCES)
    assert vectors.shape == (len(SENTENCES), 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    cat, kitten, crash = emb.embed(["cat sat on mat", "a kitten on a rug", "stock market crash"])
    assert cat @ kitten > cat @ crash + 0.2
    assert emb.embed([]).shape == (0, 384)
    assert emb.embed_query(SENTENCES[2]) @ vectors[2] > 0.98  # int8: activation scales are per batch


@pytest.mark.model
def test_minilm_is_the_sentence_transformers_model(minilm, reference: np.ndarray) -> None:
    model = minilm._load()
    assert model.max_seq_length == 256 and model.device.type == "cpu"
    raw = model.encode(SENTENCES[::-1], batch_size=3)[::-1]
    raw /= np.linalg.norm(raw, axis=1, keepdims=True)
    assert float(np.min(np.sum(raw * reference, axis=1))) > 0.9999


@pytest.mark.model
def test_int8_is_close_to_fp32_and_keeps_order(minilm_int8, reference: np.ndarray) -> None:
    vectors = minilm_int8.embed(SENTENCES)
    cosine = np.sum(vectors * reference, axis=1)
    assert cosine.mean() >= 0.99 and cosine.min() >= 0.95, (cosine.mean(), cosine.min())
    # In one batch (one worker, batch_size 64), a permutation changes nothing but the order.
    single = minilm_onnx.MiniLMOnnxEmbedder(threads=1, cache_dir=minilm_int8.cache_dir, max_batch_tokens=1 << 20)
    permutation = np.random.default_rng(0).permutation(len(SENTENCES))
    shuffled = single.embed([SENTENCES[i] for i in permutation])
    np.testing.assert_allclose(shuffled, single.embed(SENTENCES)[permutation], atol=1e-5)
    # Many small length-bucketed batches on 3 workers: rows come back in input order, still close to fp32.
    small = minilm_onnx.MiniLMOnnxEmbedder(batch_size=5, threads=3, cache_dir=minilm_int8.cache_dir).embed(SENTENCES)
    assert np.sum(small * reference, axis=1).mean() >= 0.99
    assert np.argmax(small @ vectors.T, axis=1).tolist() == list(range(len(SENTENCES)))
    model_file = onnx_cache.ensure_quantized_model(tokenizer.model_dir(), minilm_int8.cache_dir)
    assert json.loads((model_file.parent / "manifest.json").read_text())["recipe"] == onnx_export.RECIPE


@pytest.mark.model
def test_token_counts_match_hf_tokenizer(minilm, minilm_int8) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(str(tokenizer.model_dir()), local_files_only=True)
    texts = SENTENCES + ["Naïve café résumé — “quotes” and emoji 🙂 and 中文字符", "word " * 700]
    expected = [len(hf(t, add_special_tokens=False, truncation=False)["input_ids"]) for t in texts]
    assert [minilm.count_tokens(t) for t in texts] == expected
    assert minilm_int8.count_tokens_batch(texts) == expected
    assert expected[-1] == 700 and expected[-3] > 256  # long texts are counted in full, not truncated
