"""Measure what real ingested chunks look like, for bench/datagen.py's realistic rows.

Parses every document under the given roots with docqa's own parsers and
chunks it with the default chunker exactly as `docqa ingest` does with the
default `minilm` embedder (its WordPiece token counter, budget 200 tokens,
overlap 30, headings fitted to the model), then records:

- the distribution of chunk text lengths (characters), of heading lengths and
  of chunks per document, as 201 quantiles each (0%, 0.5%, ..., 100%); at most
  `--sample-per-document` chunks (evenly spaced) of one document are measured,
  so a 7,000-chunk changelog does not stand for the corpus;
- the words of the chunks' text and headings, the 4,000 most frequent with
  their counts (so generated text has real words in a real frequency mix and
  the tsvector / FTS5 index do the work they do on real text);
- what the corpus was: roots, files parsed, files that failed, chunks.

The result is small (~60 kB) and shipped as bench/corpus_profile.json:

    .venv/bin/python bench/corpus_profile.py samples /usr/share/doc --per-package 120 --out bench/corpus_profile.json

`--per-package` caps the files taken from one /usr/share/doc/<package> so one
big manual (PostgreSQL's 1,169 HTML pages) does not stand for the whole corpus.
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from docqa.embedders import tokenizer  # noqa: E402
from docqa.errors import DocqaError  # noqa: E402
from docqa.ingest.chunking import chunk_document  # noqa: E402
from docqa.ingest.parsers import parse_file  # noqa: E402
from docqa.ingest.pipeline import SPECIAL_TOKENS, ChunkingConfig, chunk_budget, fit_headings  # noqa: E402

SUFFIXES = {".html", ".htm", ".txt", ".md", ".rst", ".pdf", ".docx"}
WORD = re.compile(r"[^\W\d_]{2,}", re.UNICODE)
QUANTILES = np.linspace(0, 1, 201)


class _MiniLMCounting:
    """What the chunker needs of the default embedder: its token counter and limit (no torch)."""

    max_tokens = 256

    @staticmethod
    def count_tokens(text: str) -> int:
        return tokenizer.count_tokens(text)


def files_under(roots: list[Path], per_package: int, seed: int) -> list[Path]:
    rng = random.Random(seed)
    picked: list[Path] = []
    for root in roots:
        found = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
        if root.resolve() == Path("/usr/share/doc"):
            groups: dict[str, list[Path]] = collections.defaultdict(list)
            for p in found:
                groups[p.relative_to(root).parts[0]].append(p)
            for name in sorted(groups):
                group = groups[name]
                picked += rng.sample(group, per_package) if len(group) > per_package else group
        else:
            picked += found
    return picked


def quantiles(values: list[int]) -> list[float]:
    return [round(float(x), 1) for x in np.quantile(np.asarray(values, dtype=np.float64), QUANTILES)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("roots", nargs="+", type=Path)
    ap.add_argument("--per-package", type=int, default=120)
    ap.add_argument("--vocabulary", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--sample-per-document", type=int, default=200, help="chunks of one document measured at most (evenly spaced)"
    )
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("corpus_profile.json"))
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    embedder = _MiniLMCounting()
    budget = chunk_budget(embedder, ChunkingConfig())  # type: ignore[arg-type]
    overlap = min(ChunkingConfig().overlap_tokens, budget // 4)
    text_lengths: list[int] = []
    heading_lengths: list[int] = []
    tokens: list[int] = []
    per_doc: list[int] = []
    words: collections.Counter[str] = collections.Counter()
    failed = 0
    files = files_under(args.roots, args.per_package, args.seed)
    for path in files:
        try:
            doc = parse_file(path)
            chunks = chunk_document(doc, embedder.count_tokens, max_tokens=budget, overlap_tokens=overlap)
        except DocqaError:
            failed += 1
            continue
        fit_headings(chunks, embedder.count_tokens, embedder.max_tokens - SPECIAL_TOKENS)
        if not chunks:
            failed += 1
            continue
        per_doc.append(len(chunks))
        step = max(1, len(chunks) // args.sample_per_document)  # a 7,000-chunk changelog must not stand for the corpus
        for ch in chunks[::step][: args.sample_per_document]:
            text_lengths.append(len(ch.text))
            heading_lengths.append(len(ch.heading))
            tokens.append(ch.token_count)
            words.update(w.lower() for w in WORD.findall(ch.text))
            words.update(w.lower() for w in WORD.findall(ch.heading))
    profile = {
        "what": "docqa default chunker (minilm token counter, 200-token budget, overlap 30) over real documents",
        "command": "bench/corpus_profile.py "
        + " ".join(str(r) for r in args.roots)
        + f" --per-package {args.per_package} --sample-per-document {args.sample_per_document}",
        "files": len(files),
        "documents": len(per_doc),
        "failed": failed,
        "chunks": sum(per_doc),
        "chunks_measured": len(text_lengths),
        "mean_text_chars": round(float(np.mean(text_lengths)), 1),
        "mean_heading_chars": round(float(np.mean(heading_lengths)), 1),
        "mean_tokens": round(float(np.mean(tokens)), 1),
        "mean_chunks_per_document": round(float(np.mean(per_doc)), 1),
        "quantiles": [round(float(q), 4) for q in QUANTILES],
        "text_chars": quantiles(text_lengths),
        "heading_chars": quantiles(heading_lengths),
        "tokens": quantiles(tokens),
        "chunks_per_document": quantiles(per_doc),
        "vocabulary": [[w, c] for w, c in words.most_common(args.vocabulary)],
        "seconds": round(time.perf_counter() - t0, 1),
    }
    args.out.write_text(json.dumps(profile, separators=(",", ":")) + "\n")
    print(json.dumps({k: v for k, v in profile.items() if not isinstance(v, list)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
