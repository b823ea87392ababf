"""The web page's test rig (no tests here): a real `docqa serve` and Debian's Chromium driven by Playwright.

Chromium: `DOCQA_TEST_CHROMIUM` when set, else `chromium` on the PATH, else /usr/bin/chromium (`apt-get install -y
chromium`; Playwright's own browser downloads are not used). Without it, or without the `playwright`
package, the browser tests skip, except under CI=true, where they fail.

`Page` wraps a Playwright page and collects what the page logged as errors (console errors, uncaught
exceptions); a test ends by asserting there were none, apart from the HTTP refusals it provoked on purpose.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import IN_CI
from tests.test_client import serve, stop
from tests.test_serve_process import wait_healthy

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 740}


def chromium_path() -> str:
    """The Chromium to drive, or a skip (a failure under CI=true) saying how to get one."""
    chosen = os.environ.get("DOCQA_TEST_CHROMIUM")
    candidates = (
        [chosen] if chosen else [shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium"]
    )
    found = next((c for c in candidates if c and Path(c).is_file() and os.access(c, os.X_OK)), None)
    if found is None:
        where = f"DOCQA_TEST_CHROMIUM={chosen} is not an executable" if chosen else "no chromium on the PATH"
        reason = f"{where}: the browser tests need Debian's Chromium (apt-get install -y chromium)"
        if IN_CI:
            pytest.fail(reason + "; under CI=true they must run")
        pytest.skip(reason + "; under CI=true this fails instead")
    return found


def playwright_module() -> Any:
    try:
        from playwright import sync_api
    except ImportError:
        reason = "the playwright package is not installed (pip install -e '.[test]')"
        if IN_CI:
            pytest.fail(reason + "; under CI=true the browser tests must run")
        pytest.skip(reason + "; under CI=true this fails instead")
    return sync_api


@contextmanager
def browser() -> Iterator[Any]:
    """One headless Chromium (Playwright runs it without its sandbox, as root in CI needs)."""
    executable = chromium_path()
    sync_api = playwright_module()
    with sync_api.sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=executable, headless=True)
        try:
            yield launched
        finally:
            launched.close()


class Served:
    """A running `docqa serve` on SQLite with the hash embedder, and a plain HTTP client of it."""

    def __init__(self, tmp: Path, **env: str) -> None:
        self.proc, self.url, self.log = serve({"DOCQA_QA_MIN_SCORE": "0.1", **env}, tmp)
        key = env.get("DOCQA_API_KEY")
        self.http = httpx.Client(base_url=self.url, headers={"X-API-Key": key} if key else {}, timeout=30)
        try:
            wait_healthy(self.url, self.proc)
        except AssertionError:
            self.close()
            raise AssertionError(self.log.read_text()[-3000:]) from None

    def upload(self, name: str, data: bytes) -> dict[str, Any]:
        response = self.http.post("/api/v1/index/upload", files={"file": (name, data, "application/octet-stream")})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def clear(self) -> None:
        """Delete every document: each test starts from an empty collection."""
        while docs := self.http.get("/api/v1/documents", params={"limit": 1000}).json()["documents"]:
            for doc in docs:
                deleted = self.http.delete(f"/api/v1/index/{doc['document_id']}")
                assert deleted.status_code == 200, deleted.text

    def close(self) -> None:
        self.http.close()
        stop(self.proc)


class Page:
    """A fresh browser context (its own session storage) with the page's errors collected."""

    def __init__(self, launched: Any, base: str, viewport: dict[str, int] | None = None) -> None:
        self.context = launched.new_context(viewport=viewport or DESKTOP, base_url=base)
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.page, name)

    def by(self, testid: str) -> Any:
        return self.page.get_by_test_id(testid)

    def assert_no_errors(self, *http_statuses: int) -> None:
        """No console error and no uncaught exception, apart from Chromium's line for each HTTP refusal the test
        provoked on purpose (it logs every 4xx response of a fetch or XHR as a console error)."""
        statuses = "|".join(str(s) for s in http_statuses)
        expected = re.compile(rf"Failed to load resource: the server responded with a status of ({statuses})\b")
        unexpected = [e for e in self.errors if not (http_statuses and expected.match(e))]
        assert unexpected == [], unexpected

    def no_horizontal_scroll(self) -> bool:
        width, client = self.page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        return bool(width <= client)

    def close(self) -> None:
        self.context.close()
