"""Parse limits (issue 11, bugs 1 and 2): time and peak RSS to refuse bombs and deep HTML, before and after.

Each case runs in a fresh process: it builds its input in memory (tests/bombs.py),
resets the peak-RSS counter (/proc/self/clear_refs, where the kernel allows),
parses it with `docqa.ingest.parse_bytes` and reports the wall time, the
outcome and the peak RSS above the baseline. A case still running after
`--timeout` seconds is stopped; its RSS is then the largest seen while it ran.

    .venv/bin/python bench/bench_parse_limits.py                      # this checkout
    .venv/bin/python bench/bench_parse_limits.py --before 7d22700     # and the code before the limits, side by side

`--before REV` extracts `src/` at that revision with `git archive` into a
temporary directory (the working tree is not touched) and runs the same
cases against it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CASES = {
    "docx_50mb": "bombs.docx_bomb(50_000_000), 'report.docx'",
    "docx_300mb": "bombs.docx_bomb(300_000_000), 'report.docx'",
    "docx_lying_50mb": "bombs.docx_lying_bomb(50_000_000), 'lies.docx'",
    "docx_lying_300mb": "bombs.docx_lying_bomb(300_000_000), 'lies.docx'",
    "pdf_flate_100mib": "bombs.pdf_flate_bomb(100 * 2**20), 'bomb.pdf'",
    "html_depth_100k": "bombs.deep_html(100_000), 'deep.html'",
    "html_depth_40k": "bombs.deep_html(40_000), 'deep.html'",
    "html_siblings_100k": "bombs.deep_html(100_000, 'p'), 'flat.html'",
    "html_sample_x50": "sample_page(50), 'big.html'",
    "docx_sample": "(bombs.SAMPLES / 'discharge-checklist.docx').read_bytes(), 'discharge-checklist.docx'",
    "pdf_sample": "(bombs.SAMPLES / 'bicycle-maintenance-manual.pdf').read_bytes(), 'bicycle-maintenance-manual.pdf'",
}

CHILD = """
import json, sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
from tests import bombs

def sample_page(times):
    markup = (bombs.SAMPLES / "community-garden-handbook.html").read_text()
    body = markup[markup.index("<body") : markup.rindex("</body>")]
    return markup.replace(body, body * times).encode()

def status_kb(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0

from docqa.ingest import parse_bytes
from docqa.errors import DocqaError
data, name = {expr}
baseline = status_kb("VmRSS")
try:
    Path("/proc/self/clear_refs").write_text("5")
    reset = True
except OSError:
    reset = False
start = time.perf_counter()
try:
    doc = parse_bytes(data, name)
    outcome = f"accepted ({{len(doc.text):,}} chars)"
except DocqaError as exc:
    outcome = f"{{type(exc).__name__}}: {{exc.message}}"
elapsed = time.perf_counter() - start
peak = status_kb("VmHWM")
print("RESULT " + json.dumps({{"input_bytes": len(data), "seconds": round(elapsed, 3), "outcome": outcome,
    "rss_growth_mb": round(max(0, peak - baseline) / 1024, 1), "peak_reset": reset}}))
"""


def _status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_case(expr: str, src: Path, timeout: float) -> dict:
    code = CHILD.format(root=str(ROOT), expr=expr)
    env = dict(os.environ, PYTHONPATH=str(src))
    child = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    started = time.perf_counter()
    rss_seen = 0
    while child.poll() is None:
        rss_seen = max(rss_seen, _status_kb(child.pid, "VmRSS"))
        if time.perf_counter() - started > timeout:
            child.kill()
            child.wait()
            return {
                "seconds": f">{timeout:.0f}",
                "outcome": "still parsing: stopped",
                "rss_total_mb": round(rss_seen / 1024),
            }
        time.sleep(0.05)
    out, err = child.communicate()
    for line in out.decode().splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return {"outcome": "crashed: " + err.decode()[-300:]}


def extract_src(rev: str, into: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src"], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=__import__("io").BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", default="", help="also run the cases against src/ at this git revision")
    ap.add_argument("--timeout", type=float, default=60.0, help="stop a case after this many seconds")
    ap.add_argument("--only", default="", help="comma-separated case names")
    args = ap.parse_args(argv)
    names = [n for n in CASES if not args.only or n in args.only.split(",")]
    trees = {"after": ROOT / "src"}
    with tempfile.TemporaryDirectory() as tmp:
        if args.before:
            trees = {"before": extract_src(args.before, Path(tmp)), **trees}
        print(f"load average {os.getloadavg()[0]:.1f}; timeout {args.timeout:.0f} s", flush=True)
        for name in names:
            for label, src in trees.items():
                result = run_case(CASES[name], src, args.timeout)
                rss = (
                    f"+{result['rss_growth_mb']}"
                    if "rss_growth_mb" in result
                    else f"{result.get('rss_total_mb')} total"
                )
                size = result.get("input_bytes", "")
                print(
                    f"{name:20} {label:6} {size!s:>10} B  {result.get('seconds', '?')!s:>8} s  "
                    f"RSS {rss:>10} MB  {result.get('outcome', '')[:150]}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
