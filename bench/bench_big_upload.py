"""Big files: `docqa ingest FILE` against an HTTP upload of the same file to `docqa serve`, side by side.

Targets (issue 12, item 5): a 50 MB text upload takes <= 2x the CLI's time for the same file, with
the server's peak RSS <= 300 MB above its idle RSS; concurrent big uploads stay bounded.

The text is real: the extracted text of the bench/qa_dev pages (PostgreSQL documentation) and the
samples' Markdown, with their headings (setext-underlined, as plain text has them), concatenated
copy after copy (each copy's headings numbered, so no two chunks are equal) up to the size asked.
Cases, each on a fresh data directory (SQLite):

- `50 MB, hash`: the pipeline's own figure (the `hash` embedder costs ~nothing next to parsing,
  chunking and writing);
- `2 MB, minilm-int8`: the default model, to show the bound holds with a real one;
- `4 x 10 MB at once, hash`: four concurrent uploads (DOCQA_MAX_CONCURRENT_INGESTS=2: two run, two wait).

Time is wall time of the CLI process (model load included, as a user sees it) and of the HTTP
request (the server was started and ready before). The server's memory is VmRSS sampled every
50 ms during the upload, minus its VmRSS when idle and ready just before, and apart its two
parts: RssAnon (the process's own memory) and RssFile (mapped file pages: with SQLite, the
database file read through its memory map, page cache the kernel can reclaim); peaks of the
parts need not coincide. The CLI's is its peak RSS (wait4), model and index included. Run once on a quiet machine:

    .venv/bin/python bench/bench_big_upload.py --out bench/results/big_upload.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from docqa.client import Client

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from bench_http import start_server, stop_server  # noqa: E402

MB = 1024 * 1024


def real_text() -> list[str]:
    """Blocks of real text (headings setext-underlined) from the qa_dev corpus and the samples."""
    from docqa.ingest.parsers import parse_bytes

    blocks: list[str] = []
    files = sorted((ROOT / "bench/qa_dev/corpus").glob("*.html")) + sorted((ROOT / "samples").glob("*.md"))
    for path in files:
        doc = parse_bytes(path.read_bytes(), path.name)
        for section in doc.sections:
            text = doc.section_text(section).strip()
            if section.kind == "heading":
                title = (section.title or text).strip().replace("\n", " ")
                blocks.append("\x00" + title)  # numbered and underlined per copy
            elif text:
                blocks.append(text)
    return blocks


def write_text(path: Path, size: int, blocks: list[str], tag: str = "") -> int:
    copy, written = 0, 0
    with path.open("w", encoding="utf-8", newline="") as out:
        while written < size:
            copy += 1
            for block in blocks:
                if block.startswith("\x00"):
                    title = f"{block[1:]} ({tag}{copy})"
                    block = f"{title}\n{'=' * min(len(title), 80)}"
                piece = (block + "\n\n").encode("utf-8")
                if written + len(piece) > size:  # stay within the size (50 MiB is also the upload limit)
                    return written
                out.write(piece.decode("utf-8"))
                written += len(piece)
    return written


def env_for(data: Path, embedder: str, **extra: str) -> dict[str, str]:
    env = {**os.environ, "DOCQA_DATA_DIR": str(data), "DOCQA_EMBEDDER": embedder, "DOCQA_LOG_LEVEL": "WARNING"}
    env.pop("DOCQA_DATABASE_URL", None)
    env.update(extra)
    return env


def cli_case(path: Path, data: Path, embedder: str) -> dict:
    cmd = [sys.executable, "-m", "docqa.cli.main", "ingest", str(path), "--json"]
    out_path, err_path = data / "ingest.json", data / "ingest.err"
    start = time.perf_counter()
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = subprocess.Popen(cmd, env=env_for(data, embedder), stdout=out, stderr=err, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak RSS
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"docqa ingest failed: {err_path.read_text()[-2000:]} {out_path.read_text()[-2000:]}")
    summary = json.loads(out_path.read_text())
    return {
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "chunks": summary["documents"][0]["chunks"],
    }


MEMORY_FIELDS = ("VmRSS", "RssAnon", "RssFile")


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS and its parts: RssAnon (the process's own memory) and RssFile (file pages it maps: for
    SQLite, the database file read through its memory map; page cache the kernel can take back)."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in MEMORY_FIELDS:
            found[key] = int(value.split()[0]) / 1024
    return found


class Sampler:
    def __init__(self, pid: int) -> None:
        self.pid, self._stop = pid, threading.Event()
        self.peak = dict.fromkeys(MEMORY_FIELDS, 0.0)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for key, value in memory_mb(self.pid).items():
                self.peak[key] = max(self.peak[key], value)
            time.sleep(0.05)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def upload(base: str, path: Path) -> dict:
    """Upload and wait until it is indexed: a 200 at once, or a 202 with the job, followed until it ends
    (the time is until the document is indexed either way)."""
    start = time.perf_counter()
    with path.open("rb") as handle:
        reply = httpx.post(f"{base}/api/v1/index/upload", files={"file": (path.name, handle)}, timeout=3600)
    answered = time.perf_counter() - start
    if reply.status_code == 202:
        with Client(base) as client:  # the client's own follow of a job (polls back off to once a second)
            job = client.jobs.wait(reply.json()["job_id"], timeout_s=3600)
        if job.status != "done":
            raise RuntimeError(f"upload of {path.name}: job {job.id} ended {job.status}: {job.error}")
        return {
            "seconds": round(time.perf_counter() - start, 2),
            "answered_s": round(answered, 2),
            "chunks": (job.result or {})["chunks"],
        }
    if reply.status_code != 200:
        raise RuntimeError(f"upload of {path.name} failed: {reply.status_code} {reply.text[:500]}")
    return {"seconds": round(answered, 2), "answered_s": round(answered, 2), "chunks": reply.json()["chunks"]}


def server_case(paths: list[Path], data: Path, embedder: str, work: Path) -> dict:
    proc, base, ready_s = start_server(f"sqlite:///{data / 'docqa.db'}", data, embedder, work / f"{data.name}.log")
    try:
        time.sleep(1.0)
        idle = memory_mb(proc.pid)
        results: list[dict] = []
        with Sampler(proc.pid) as sampler:
            start = time.perf_counter()
            failures: list[BaseException] = []

            def run(p: Path) -> None:
                try:
                    results.append(upload(base, p))
                except BaseException as exc:  # reported below, not lost with the thread
                    failures.append(exc)

            threads = [threading.Thread(target=run, args=(p,)) for p in paths]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - start
            if failures:
                raise SystemExit(f"{len(failures)} upload(s) failed: {failures[0]}")
        return {
            "seconds": round(wall, 2),
            "each_s": sorted(r["seconds"] for r in results),
            "chunks": sum(r["chunks"] for r in results),
            "idle_rss_mb": round(idle["VmRSS"], 1),
            "peak_rss_mb": round(sampler.peak["VmRSS"], 1),
            "above_idle_mb": round(sampler.peak["VmRSS"] - idle["VmRSS"], 1),
            "anon_above_idle_mb": round(sampler.peak["RssAnon"] - idle["RssAnon"], 1),
            "file_above_idle_mb": round(sampler.peak["RssFile"] - idle["RssFile"], 1),
            "server_ready_s": ready_s,
        }
    finally:
        stop_server(proc)


def phases_case(path: Path, data: Path, db: str = "") -> dict:
    """In this process, the library's ingest (no index catch-up) and then the catch-up, apart: which
    part of the server's memory is the pipeline's and which the index's (hash embedder)."""
    from docqa.app import Docqa
    from docqa.config import Settings

    library = Docqa.open(Settings(data_dir=data, embedder="hash", database_url=db))
    library.sync()
    pid, out = os.getpid(), {}
    before = memory_mb(pid)
    for phase, run in (
        ("ingest", lambda: library.ingest_file(path, sync=False)),
        ("catch_up", lambda: library.sync("catch_up")),
    ):
        with Sampler(pid) as sampler:
            start = time.perf_counter()
            run()
            seconds = time.perf_counter() - start
        out[phase] = {"seconds": round(seconds, 2)} | {
            f"{k}_peak_above_start_mb": round(sampler.peak[k] - before[k], 1) for k in MEMORY_FIELDS
        }
    library.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=50, help="size of the big file (hash embedder)")
    parser.add_argument("--model-mb", type=int, default=2, help="size of the file for the default model")
    parser.add_argument("--model", default="minilm-int8")
    parser.add_argument("--concurrent", type=int, default=4)
    parser.add_argument("--concurrent-mb", type=int, default=10)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--phases", action="store_true", help="only: ingest and catch-up apart, in this process")
    parser.add_argument("--db", default="", help="--phases: database URL (default: SQLite in a temp dir)")
    args = parser.parse_args()
    if args.phases:
        with tempfile.TemporaryDirectory(prefix="docqa-big-") as tmp:
            path = Path(tmp) / "big.txt"
            write_text(path, args.mb * MB, real_text())
            (Path(tmp) / "data").mkdir()
            print(json.dumps(phases_case(path, Path(tmp) / "data", args.db), indent=2))
        return
    report: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "cases": {}}
    blocks = real_text()
    with tempfile.TemporaryDirectory(prefix="docqa-big-") as tmp:
        work = Path(tmp)

        def fresh(name: str) -> Path:
            (work / name).mkdir()
            return work / name

        cases = [
            (f"{args.mb} MB, hash", args.mb, "hash"),
            (f"{args.model_mb} MB, {args.model}", args.model_mb, args.model),
        ]
        for label, size, embedder in cases:
            path = work / f"big-{size}mb.txt"
            nbytes = write_text(path, size * MB, blocks)
            cli = cli_case(path, fresh(f"cli-{size}"), embedder)
            print(f"{label}: cli {cli}", flush=True)
            http = server_case([path], fresh(f"serve-{size}"), embedder, work)
            print(f"{label}: upload {http}", flush=True)
            report["cases"][label] = {
                "bytes": nbytes,
                "cli": cli,
                "upload": http,
                "time_ratio": round(http["seconds"] / cli["seconds"], 2),
            }
            path.unlink()
        paths = []
        for i in range(args.concurrent):
            paths.append(work / f"c{i}.txt")
            write_text(paths[-1], args.concurrent_mb * MB, blocks, tag=f"c{i}-")
        label = f"{args.concurrent} x {args.concurrent_mb} MB at once, hash"
        http = server_case(paths, fresh("serve-concurrent"), "hash", work)
        print(f"{label}: upload {http}", flush=True)
        report["cases"][label] = {"upload": http}
    print(json.dumps(report, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
