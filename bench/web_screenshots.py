"""The README's screenshots of the web page: the samples ingested, a question asked, its citation opened.

    .venv/bin/python bench/web_screenshots.py                   # MiniLM (the default embedder)
    .venv/bin/python bench/web_screenshots.py --embedder hash   # no model needed

Runs `docqa ingest samples` and `docqa serve` in a temporary data directory, drives Debian's Chromium
(`apt-get install -y chromium`) with Playwright, and writes docs/screenshots/web-desktop.png and
web-phone.png. Not a test: the browser tests are tests/test_web_page.py.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
QUESTION = "At what temperature must the medicines fridge be kept?"
SEARCH = "chain wear"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def docqa(env: dict[str, str], *args: str, **kwargs: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "docqa.cli.main", *args], env=env, **kwargs)


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"docqa serve exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=1.0).json()["status"] == "healthy":
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("docqa serve did not become healthy")


def shoot(url: str, chromium: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium)
        for name, viewport, full in (
            ("desktop", {"width": 1280, "height": 900}, True),
            ("phone", {"width": 390, "height": 844}, False),
        ):
            page = browser.new_context(viewport=viewport, base_url=url).new_page()
            page.goto("/?" + urlencode({"ask": QUESTION}))
            page.get_by_test_id("citation").first.click()
            page.locator("[data-testid=passage] mark").wait_for()
            if name == "desktop":
                page.get_by_test_id("search-input").fill(SEARCH)
                page.locator("#search-mode").select_option("hybrid")
                page.locator("#search-limit").select_option("3")
                page.get_by_test_id("search-input").press("Enter")
                page.get_by_test_id("result").first.wait_for()
            page.wait_for_timeout(800)  # the smooth scroll to the passage, the state panel's first refresh
            if full:
                page.evaluate("window.scrollTo(0, 0)")
            path = OUT / f"web-{name}.png"
            page.screenshot(path=str(path), full_page=full)
            print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KB")
        browser.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--embedder", default="", help="embedder name (default: the settings' default, MiniLM)")
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="docqa-shots-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCQA_")}
        env.update({"DOCQA_DATA_DIR": tmp, "PYTHONPATH": str(ROOT / "src")})
        if args.embedder:
            env["DOCQA_EMBEDDER"] = args.embedder
        ingest = ["ingest", str(ROOT / "samples"), "--recursive", "--exclude", "README.md", "--exclude", "tools/*"]
        if docqa(env, *ingest, stdout=subprocess.DEVNULL).wait() != 0:
            raise SystemExit("docqa ingest failed")
        port = free_port()
        server = docqa(
            env,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_healthy(url, server)
            shoot(url, args.chromium)
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
