"""Embedding throughput, side by side in one process on the same ~400-char chunks.

    (a) plain SentenceTransformer(path).encode(texts, batch_size=32)   -- the reference
    (b) docqa MiniLMEmbedder                                           -- sentence-transformers, as docqa runs it
    (c) docqa MiniLMOnnxEmbedder                                       -- onnxruntime, int8 per-channel

The three take turns on each slice of 200 chunks (a, b, c, a, b, c, ...) so
that a noisy shared machine hurts all three alike. The ratio to (a) is taken
per round (all slices) and its median over the rounds reported, both for
wall-clock throughput and per CPU-second of this process (steadier when other
work competes for the cores, though it counts the runtimes' spin-waits too).
Text comes from the repo's samples/ folder, topped up with the prose of the
installed packages' descriptions and the model README.

    .venv/bin/python bench/bench_embed.py [--chunks 800] [--rounds 5] [--slice 200] [--markdown]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from docqa.embedders import tokenizer  # noqa: E402


def _prose(text: str) -> str:
    """Keep paragraphs that read as sentences: no code blocks, tables or link lists."""
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    keep = []
    for para in re.split(r"\n\s*\n", text):
        para = " ".join(para.split())
        letters = sum(c.isalpha() or c.isspace() for c in para)
        if len(para) >= 120 and letters / len(para) > 0.85 and not para.startswith(("|", "<", "[", "#")):
            keep.append(para)
    return " ".join(keep)


def sample_texts() -> list[tuple[str, str]]:
    samples = REPO / "samples"
    files = sorted(p for p in samples.rglob("*") if p.suffix.lower() in {".txt", ".md"}) if samples.is_dir() else []
    return [(str(p.relative_to(REPO)), p.read_text(errors="replace")) for p in files]


def package_texts() -> list[tuple[str, str]]:
    site = Path(np.__file__).resolve().parents[1]
    out = [("model README", (tokenizer.model_dir() / "README.md").read_text(errors="replace"))]
    for meta in sorted(site.glob("*.dist-info/METADATA")):
        out.append((meta.parent.name, meta.read_text(errors="replace").partition("\n\n")[2]))
    return out


def split_words(text: str, size: int) -> list[str]:
    chunks, current = [], ""
    for word in _prose(text).split():
        if current and len(current) + 1 + len(word) > size:
            chunks.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    return chunks


def make_chunks(n: int, size: int = 400) -> tuple[list[str], str]:
    """About `size`-char chunks cut at word boundaries: samples/ first, topped up from package docs."""
    picked = [c for _, text in sample_texts() for c in split_words(text, size)][:n]
    from_samples = len(picked)
    per_source = [split_words(text, size) for _, text in package_texts()]
    while len(picked) < n and any(per_source):  # round-robin so no one changelog dominates
        for chunks in per_source:
            if chunks and len(picked) < n:
                picked.append(chunks.pop(0))
    return picked, f"{from_samples} from samples/, {len(picked) - from_samples} from installed packages' docs"


def timed(fn: Callable[[], np.ndarray]) -> tuple[np.ndarray, float, float]:
    """Output, wall seconds, and CPU seconds of this process (all threads, spin-waits included)."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=800)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64, help="batch size of (b) and (c)")
    parser.add_argument("--slice", type=int, default=200, help="chunks per call; the methods alternate per slice")
    parser.add_argument("--markdown", action="store_true", help="also print a markdown table")
    args = parser.parse_args()

    texts, origin = make_chunks(args.chunks)
    tokens = tokenizer.count_tokens_batch(texts)
    print(
        f"{len(texts)} chunks ({origin}), mean {np.mean([len(t) for t in texts]):.0f} chars, "
        f"tokens mean {np.mean(tokens):.0f} / p95 {np.percentile(tokens, 95):.0f} / max {max(tokens)}"
    )
    print(f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, load avg {os.getloadavg()}")

    import onnxruntime
    import sentence_transformers
    import torch
    from sentence_transformers import SentenceTransformer

    from docqa.embedders.minilm import MiniLMEmbedder
    from docqa.embedders.minilm_onnx import MiniLMOnnxEmbedder

    print(
        f"torch {torch.__version__}, sentence-transformers {sentence_transformers.__version__}, onnxruntime {onnxruntime.__version__}"
    )
    warm = texts[:32]
    start = time.perf_counter()
    plain = SentenceTransformer(str(tokenizer.model_dir()), device="cpu")
    plain.encode(warm, batch_size=32)
    ours = MiniLMEmbedder(batch_size=args.batch_size)
    ours.embed(warm)
    mid = time.perf_counter()
    int8 = MiniLMOnnxEmbedder(batch_size=args.batch_size)
    int8.embed(warm)
    print(
        f"load+warm-up: torch models {mid - start:.1f} s, int8 (cache build or hit) {time.perf_counter() - mid:.1f} s"
    )

    methods: dict[str, Callable[[list[str]], np.ndarray]] = {
        "(a) SentenceTransformer.encode(bs=32)": lambda part: plain.encode(part, batch_size=32),
        "(b) MiniLMEmbedder": ours.embed,
        "(c) MiniLMOnnxEmbedder int8": int8.embed,
    }
    rates: dict[str, list[float]] = {name: [] for name in methods}
    cpu_rates: dict[str, list[float]] = {name: [] for name in methods}
    outputs: dict[str, np.ndarray] = {}
    slices = [texts[i : i + args.slice] for i in range(0, len(texts), args.slice)]
    for r in range(args.rounds):
        walls = dict.fromkeys(methods, 0.0)
        cpus = dict.fromkeys(methods, 0.0)
        parts: dict[str, list[np.ndarray]] = {name: [] for name in methods}
        for part in slices:  # the three take turns every slice, so load changes hit them alike
            for name, fn in methods.items():
                out, wall, cpu = timed(lambda fn=fn, part=part: fn(part))
                parts[name].append(out)
                walls[name] += wall
                cpus[name] += cpu
        for name in methods:
            outputs[name] = np.vstack(parts[name])
            rates[name].append(len(texts) / walls[name])
            cpu_rates[name].append(len(texts) / cpus[name])
        summary = ", ".join(f"{name.split()[0]} {rates[name][-1]:.1f}/s" for name in methods)
        print(f"round {r + 1}: {summary} (load avg {os.getloadavg()[0]:.1f})")

    names = list(methods)
    reference = outputs[names[0]] / np.linalg.norm(outputs[names[0]], axis=1, keepdims=True)
    rows = []
    for name in names:
        ratios = [rate / base for rate, base in zip(rates[name], rates[names[0]])]
        cpu_ratios = [rate / base for rate, base in zip(cpu_rates[name], cpu_rates[names[0]])]
        cosine = np.sum(outputs[name] * reference, axis=1)
        rows.append(
            (
                name,
                statistics.median(rates[name]),
                max(rates[name]),
                statistics.median(ratios),
                statistics.median(cpu_rates[name]),
                statistics.median(cpu_ratios),
                cosine.mean(),
                cosine.min(),
            )
        )
    print(
        f"\n{'method':38} {'median/s':>9} {'best/s':>7} {'x (a)':>6} {'per CPU-s':>10} {'x (a)':>6} {'cos mean':>9} {'cos min':>8}"
    )
    for name, med, best, ratio, cpu_med, cpu_ratio, cmean, cmin in rows:
        print(
            f"{name:38} {med:9.1f} {best:7.1f} {ratio:6.2f} {cpu_med:10.1f} {cpu_ratio:6.2f} {cmean:9.4f} {cmin:8.4f}"
        )
    print(f"load avg after: {os.getloadavg()}")
    if args.markdown:
        print(
            "\n| method | chunks/s median (best) | × (a) | chunks per CPU-second | × (a) | cosine to (a) mean / min |"
        )
        print("|---|---:|---:|---:|---:|---|")
        for name, med, best, ratio, cpu_med, cpu_ratio, cmean, cmin in rows:
            print(
                f"| {name} | {med:.1f} ({best:.1f}) | {ratio:.2f} | {cpu_med:.1f} | {cpu_ratio:.2f} | {cmean:.4f} / {cmin:.4f} |"
            )


if __name__ == "__main__":
    main()
