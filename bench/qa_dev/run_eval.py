"""`make eval`: the QA dev sets end to end, through the docqa command line.

    .venv/bin/python bench/qa_dev/run_eval.py                 # the working tree's code, every dev set
    .venv/bin/python bench/qa_dev/run_eval.py --commit HEAD   # a clean export of a commit (others' edits left out)
    .venv/bin/python bench/qa_dev/run_eval.py --set faq_dev   # one of them: qa_dev (PostgreSQL docs, HTML),
                                                              # faq_dev (the Debian FAQ, plain text),
                                                              # pydoc_dev (Python 3.11 docs, HTML)

Per dev set, a fresh data directory under a temporary folder (SQLite), `docqa ingest` of
its corpus with the settings' default embedder (`Settings().embedder`,
or `Settings().default_embedder` when that is empty: whatever a new collection
gets today; DOCQA_* variables are removed from the environment, so every other
setting is a default too), then one `docqa eval --qa --json` over
both halves (tune and heldout, each reported on its own). The report, with the
commit, the embedder and the times taken, goes to bench/results/<set>-<date>.json
(qa-dev-…, faq-dev-…, pydoc-dev-…); the tables are printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from docqa.eval.report import format_table

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
RESULTS = ROOT / "bench" / "results"
SETS = {  # label -> folder (questions, unanswerable, corpus)
    "qa_dev": HERE,
    "faq_dev": ROOT / "bench" / "faq_dev",
    "pydoc_dev": ROOT / "bench" / "pydoc_dev",
}


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True).stdout.strip()


def code_under_test(commit: str | None, scratch: Path) -> tuple[dict[str, str], dict[str, object]]:
    """The environment to run docqa with, and what it is: the working tree, or a clean export of `commit`."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("DOCQA_")}
    if commit is None:
        dirty = [
            line.split()[-1] for line in git("status", "--porcelain", "--untracked-files=no", "--", "src").splitlines()
        ]
        return env, {"commit": git("rev-parse", "--short", "HEAD"), "tree": "working", "dirty_src": dirty}
    sha = git("rev-parse", "--short", commit)
    export = scratch / "src-export"
    export.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", sha, "src"], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(export)], input=archive, check=True)
    env["PYTHONPATH"] = str(export / "src")
    return env, {"commit": sha, "tree": f"clean export of {sha}", "dirty_src": []}


def default_embedder(env: dict[str, str]) -> str:
    """What a new collection is built with by default in the code under test: `Settings().embedder`, or when that
    is empty (a collection keeps the embedder it was built with) `Settings().default_embedder`."""
    probe = "from docqa.config import Settings; s = Settings(); print(s.embedder or getattr(s, 'default_embedder', ''))"
    return subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


def docqa(base: list[str], args: list[str], env: dict[str, str], cwd: Path) -> str:
    command = [*base, *args]
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(command)}\n{done.stderr.strip()}")
    return done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commit", help="evaluate a clean export of this commit instead of the working tree")
    parser.add_argument("--embedder", help="default: what a new collection gets in the code under test")
    parser.add_argument("--set", choices=[*SETS, "all"], default="all", help="which dev set (default: all)")
    parser.add_argument("--out", type=Path, help="report path, one set only (default bench/results/<set>-<date>.json)")
    args = parser.parse_args()
    labels = list(SETS) if args.set == "all" else [args.set]
    if args.out and len(labels) > 1:
        parser.error("--out needs --set (one report per dev set)")
    for label in labels:
        run_set(label, SETS[label], args.commit, args.embedder, args.out)
    return 0


def run_set(label: str, folder: Path, commit: str | None, embedder_arg: str | None, out: Path | None) -> None:
    """Ingest one dev set's corpus into a fresh data dir, evaluate both halves, write and print the report."""
    started = time.perf_counter()
    rel = folder.relative_to(ROOT)
    with tempfile.TemporaryDirectory(prefix=f"docqa-{label}-") as scratch_name:
        scratch = Path(scratch_name)
        env, code = code_under_test(commit, scratch)
        embedder = embedder_arg or default_embedder(env)
        data = scratch / "data"
        base = [
            sys.executable,
            "-m",
            "docqa.cli.main",
            "--data-dir",
            str(data),
            "--db",
            f"sqlite:///{data / 'docqa.db'}",
        ]
        base += ["--embedder", embedder]
        print(f"[{label}] ingesting {rel / 'corpus'} with {embedder} ({code['tree']}) ...", flush=True)
        t0 = time.perf_counter()
        ingest = docqa(base, ["ingest", str(folder / "corpus"), "--recursive"], env, scratch).strip()
        ingest_s = time.perf_counter() - t0
        print(ingest.splitlines()[-1] if ingest else "(no ingest output)", f"[{ingest_s:.0f} s]", flush=True)
        eval_args = ["eval", str(folder / "questions.jsonl"), "--unanswerable", str(folder / "unanswerable.jsonl")]
        eval_args += ["--qa", "--split", "all", "--label", label, "--json"]
        print(f"[{label}] evaluating both halves ...", flush=True)
        t1 = time.perf_counter()
        report = json.loads(docqa(base, eval_args, env, scratch))
        eval_s = time.perf_counter() - t1
    today = dt.date.today().isoformat()
    shown = [a.replace(str(folder), str(rel)) for a in eval_args]
    report["run"] = {
        "date": today,
        **code,
        "embedder_setting": embedder,
        "command": "make eval" + (f" EVAL_ARGS='--commit {commit}'" if commit else ""),
        "docqa_commands": [f"docqa ingest {rel / 'corpus'} --recursive", " ".join(["docqa", *shown])],
        "ingest_output": ingest,
        "ingest_s": round(ingest_s, 1),
        "eval_s": round(eval_s, 1),
        "total_s": round(time.perf_counter() - started, 1),
        "cpus": os.cpu_count(),
    }
    out = out or RESULTS / f"{label.replace('_', '-')}-{today}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(format_table(report))
    run = report["run"]
    print(
        f"commit {run['commit']} ({run['tree']}); ingest {run['ingest_s']} s, eval {run['eval_s']} s, total {run['total_s']} s"
    )
    print(f"report: {out}")


if __name__ == "__main__":
    sys.exit(main())
