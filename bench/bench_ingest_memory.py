"""Ingest memory stays bounded: peak RSS while ingesting a large folder.

Generates a folder of synthetic prose files (default 1 GB in 1 MB files),
ingests it into a fresh SQLite database with a cheap deterministic embedder
(the embedder is not what is measured here; see bench_embed.py for that) and
reports peak RSS against the folder size. Run two sizes side by side to see
that the peak does not grow with the corpus:

    .venv/bin/python bench/bench_ingest_memory.py --mb 100 --mb 1000
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORDS = [
    "patient",
    "record",
    "vaccine",
    "storage",
    "fridge",
    "temperature",
    "policy",
    "retention",
    "audit",
    "index",
    "search",
    "vector",
    "document",
    "chunk",
    "embedding",
    "database",
    "sync",
    "rebuild",
    "digest",
    "repair",
    "snapshot",
    "manifest",
    "clinic",
    "nurse",
    "discharge",
    "medication",
    "schedule",
    "follow",
    "visit",
    "bicycle",
    "chain",
    "espresso",
    "grinder",
    "history",
    "town",
]


def make_corpus(folder: Path, total_mb: int, file_mb: float = 1.0) -> None:
    rng = random.Random(total_mb)
    folder.mkdir(parents=True, exist_ok=True)
    target = int(file_mb * 1_000_000)
    for i in range(max(1, int(total_mb / file_mb))):
        parts, size = [], 0
        while size < target:
            sentence = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 20))).capitalize() + ". "
            para = "".join(sentence for _ in range(rng.randint(3, 6))) + "\n\n"
            parts.append(para)
            size += len(para)
        (folder / f"f{i:05}.txt").write_text("".join(parts))


def child(folder: str, db_dir: str) -> None:
    import numpy as np

    from docqa.app import Docqa
    from docqa.config import Settings
    from docqa.embedders.hash import HashEmbedder

    class CheapEmbedder(HashEmbedder):
        def embed(self, texts):
            out = np.empty((len(texts), self.dim), dtype=np.float32)
            for i, t in enumerate(texts):
                out[i] = np.random.default_rng(len(t) * 7919 + i).standard_normal(self.dim)
            return out / np.linalg.norm(out, axis=1, keepdims=True)

    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    store = Docqa.open(Settings(data_dir=Path(db_dir), embedder="hash"), embedder=CheapEmbedder())
    start = time.perf_counter()
    summary = store.ingest_paths([Path(folder)])
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    data = summary.to_dict()
    print(
        json.dumps(
            {
                "files": data["added"],
                "chunks": data["chunks_embedded"],
                "seconds": round(seconds, 1),
                "chunks_per_s": round(data["chunks_embedded"] / seconds, 1),
                "baseline_rss_mb": round(base / 1024, 1),
                "peak_rss_mb": round(peak / 1024, 1),
            }
        )
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, action="append", help="corpus size in MB (repeatable)")
    args = ap.parse_args()
    rows = []
    for mb in args.mb or [50, 200]:
        with tempfile.TemporaryDirectory(prefix="docqa-ingest-mem-") as tmp:
            folder = Path(tmp) / "corpus"
            make_corpus(folder, mb)
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(folder), str(Path(tmp) / "data")],
                capture_output=True,
                text=True,
                check=True,
            )
            row = {"corpus_mb": mb, **json.loads(out.stdout.strip().splitlines()[-1])}
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(f"\n{'corpus MB':>10} {'files':>6} {'chunks':>8} {'chunks/s':>9} {'peak RSS MB':>12}")
    for r in rows:
        print(f"{r['corpus_mb']:>10} {r['files']:>6} {r['chunks']:>8} {r['chunks_per_s']:>9} {r['peak_rss_mb']:>12}")


if __name__ == "__main__":
    main()
