"""The web page in a real browser (Debian's Chromium through Playwright) against a real `docqa serve`.

Upload -> listed -> ask -> a citation opens its passage highlighted in context; delete; deep links; a failed
upload shows its reason; a 202 upload is followed as a job; the API-key prompt; phone width. Every test
ends with no console error and no uncaught exception (apart from the HTTP refusals it provoked).
One browser and one server for the module; each test gets a fresh browser context and an empty collection.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest

from tests.web_support import PHONE, Page, Served, browser, playwright_module

pytestmark = pytest.mark.timeout(180)

INTAKE = Path(__file__).parent.parent / "samples" / "clinic-patient-intake.md"
QUESTION = "What should patients bring to their first appointment?"
BIKES = (
    b"# Chains\n\nOil the bicycle chain every month.\n\n# Tyres\n\nPump the tyres to the pressure on the sidewall.\n"
)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)
DROP = """([name, jobId]) => {
  const files = new DataTransfer();
  files.items.add(new File(["some text for " + jobId], name, { type: "text/plain" }));
  const zone = document.getElementById("dropzone");
  for (const type of ["dragover", "drop"]) {
    zone.dispatchEvent(new DragEvent(type, { dataTransfer: files, bubbles: true, cancelable: true }));
  }
}"""


def expect(target: Any) -> Any:
    return playwright_module().expect(target)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with browser() as launched:
        yield launched


@pytest.fixture(scope="module")
def served(tmp_path_factory, chromium) -> Iterator[Served]:
    service = Served(tmp_path_factory.mktemp("web"))
    yield service
    service.close()


@pytest.fixture
def page(chromium, served) -> Iterator[Page]:
    served.clear()
    opened = Page(chromium, served.url)
    yield opened
    opened.close()


def test_upload_then_listed_then_ask_and_open_a_citation(page, served):
    response = page.goto("/")
    assert "script-src 'self'" in response.headers["content-security-policy"]  # and the page works under it
    page.by("upload-input").set_input_files(str(INTAKE))
    expect(page.locator("[data-testid=upload-item][data-state=done]")).to_contain_text("added")
    listed = page.by("documents-list").locator("[data-testid=document]")
    expect(listed).to_have_count(1)
    expect(listed).to_have_attribute("data-status", "indexed")
    expect(listed).to_contain_text("clinic-patient-intake.md")

    page.by("ask-input").fill(QUESTION)
    page.by("ask-input").press("Enter")  # Enter submits
    expect(page.by("citation").first).to_be_visible()
    answer = served.http.get("/api/v1/qa/ask", params={"question": QUESTION}).json()
    cited = answer["sources"][0]
    expect(page.by("answer")).to_contain_text(answer["answer"].split(" [")[0][:80])
    page.by("citation").first.focus()
    page.keyboard.press("Enter")  # a citation is a button: the keyboard opens it too
    passage = page.by("passage")
    expect(passage.locator("mark")).to_have_text(cited["text"])
    expect(passage).to_be_focused()
    expect(passage).to_contain_text(cited["filename"])
    assert page.url.endswith("/?ask=" + quote_plus(QUESTION))  # the answer's own deep link
    page.assert_no_errors()


def test_delete_a_document(page, served):
    served.upload("apples.txt", b"Apples are red or green and keep for weeks in a cold cellar.")
    served.upload("pears.txt", b"Pears ripen off the tree; keep them at room temperature.")
    page.goto("/")
    rows = page.by("documents-list").locator("[data-testid=document]")
    expect(rows).to_have_count(2)
    page.get_by_role("button", name="Delete apples.txt").focus()
    page.keyboard.press("Enter")  # from the keyboard: a first press arms the button...
    expect(page.get_by_role("button", name="Confirm: delete apples.txt")).to_be_focused()
    page.keyboard.press("Enter")  # ... a second one confirms
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("pears.txt")
    expect(page.locator("#documents-info")).to_contain_text("Deleted apples.txt (1 chunk(s))")
    assert [d["filename"] for d in served.http.get("/api/v1/documents").json()["documents"]] == ["pears.txt"]
    page.assert_no_errors()


def test_deep_links_run_their_search_and_their_question(page, served):
    served.upload("bikes.md", BIKES)
    page.goto("/?q=sidewall&mode=keyword")
    expect(page.by("search-input")).to_have_value("sidewall")
    expect(page.locator("#search-mode")).to_have_value("keyword")
    results = page.by("result")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("Pump the tyres")
    results.first.get_by_role("button", name="Show in context").click()
    expect(results.first.locator("mark")).to_contain_text("sidewall")

    page.goto("/?ask=" + quote_plus("How often should the bicycle chain be oiled?"))
    expect(page.by("ask-input")).to_have_value("How often should the bicycle chain be oiled?")
    expect(page.by("answer")).to_contain_text("Oil the bicycle chain every month")
    expect(page.by("citation").first).to_be_visible()
    page.assert_no_errors()


def test_a_failed_upload_shows_the_reason(page, served):
    page.goto("/")
    page.by("upload-input").set_input_files([{"name": "empty.txt", "mimeType": "text/plain", "buffer": b""}])
    failed = page.locator("[data-testid=upload-item][data-state=failed]")
    expect(failed.filter(has_text="empty.txt")).to_contain_text("failed: file is empty")
    page.by("upload-input").set_input_files([{"name": "photo.png", "mimeType": "image/png", "buffer": PNG}])
    expect(failed.filter(has_text="photo.png")).to_contain_text("unsupported file type (a PNG image)")
    # the empty file is a document recorded as failed, with its reason; the refused PNG is not recorded
    documents = page.by("documents-list").locator("[data-testid=document]")
    expect(documents).to_have_count(1)
    expect(documents).to_have_attribute("data-status", "failed")
    expect(documents).to_contain_text("file is empty")
    page.assert_no_errors(415, 422)


def test_an_upload_answered_202_is_followed_as_a_job(page, served):
    """The jobs contract (issue 14): POST upload may answer 202 {job_id}; GET /api/v1/jobs/{id} until it ends
    (a 503 poll is retried). Both are stubbed in the browser, so the page's side is tested whatever the service
    offers."""
    polls: dict[str, int] = {}

    def upload(route: Any) -> None:
        name = "job-ok" if b"job-ok" in (route.request.post_data_buffer or b"") else "job-bad"
        route.fulfill(
            status=202, content_type="application/json", body=json.dumps({"job_id": name, "status": "queued"})
        )

    def job(route: Any) -> None:
        name = route.request.url.rsplit("/", 1)[1]
        polls[name] = polls.get(name, 0) + 1
        if name == "job-ok" and polls[name] == 1:  # a replica restarting: the poll is retried
            error = {"error": {"code": "service_degraded", "message": "service is starting", "details": {}}}
            route.fulfill(status=503, content_type="application/json", body=json.dumps(error))
            return
        body: dict[str, Any] = {"job_id": name, "status": "running", "progress": {"done": 1, "total": 4}}
        if polls[name] >= 3:
            body = {"job_id": name, "status": "done", "document_id": "d1", "progress": {"done": 4, "total": 4}}
            if name == "job-bad":
                body = {"job_id": name, "status": "failed", "error": "the parser gave up on page 3"}
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    page.route("**/api/v1/index/upload", upload)
    page.route("**/api/v1/jobs/*", job)
    page.goto("/")
    page.evaluate(DROP, ["dropped.txt", "job-ok"])  # drag and drop
    item = page.locator("[data-testid=upload-item]").filter(has_text="dropped.txt")
    expect(item).to_have_attribute("data-state", "done")
    page.evaluate(DROP, ["broken.txt", "job-bad"])
    bad = page.locator("[data-testid=upload-item]").filter(has_text="broken.txt")
    expect(bad).to_have_attribute("data-state", "failed")
    expect(bad).to_contain_text("failed: the parser gave up on page 3")
    assert polls == {"job-ok": 3, "job-bad": 3}
    page.assert_no_errors(503)


@pytest.fixture(scope="module")
def keyed(tmp_path_factory, chromium) -> Iterator[Served]:
    service = Served(tmp_path_factory.mktemp("keyed"), DOCQA_API_KEY="admin-web", DOCQA_READ_API_KEY="read-web")
    yield service
    service.close()


def test_the_page_asks_for_the_api_key_once_and_keeps_it_for_the_session(chromium, keyed):
    page = Page(chromium, keyed.url)
    try:
        page.goto("/")
        dialog = page.locator("#key-dialog")
        expect(dialog).to_be_visible()
        expect(page.by("api-key-input")).to_be_focused()
        page.keyboard.type("not-the-key")
        page.keyboard.press("Enter")
        expect(page.locator("#key-message")).to_contain_text("invalid API key")  # asked again, saying why
        page.by("api-key-input").fill("admin-web")
        page.keyboard.press("Enter")
        expect(dialog).to_be_hidden()
        expect(page.by("documents-list")).to_contain_text("No documents yet")
        page.by("upload-input").set_input_files(
            [{"name": "k.txt", "mimeType": "text/plain", "buffer": b"Keys open doors."}]
        )
        expect(page.locator("[data-testid=upload-item][data-state=done]")).to_contain_text("added")
        assert page.evaluate("sessionStorage.getItem('docqa.apiKey')") == "admin-web"

        page.reload()  # the key is kept for the session: no second prompt
        expect(page.by("documents-list").locator("[data-testid=document]")).to_have_count(1)
        expect(page.by("index-state")).to_contain_text("in sync")
        expect(dialog).to_be_hidden()
        page.assert_no_errors(401)
    finally:
        page.close()


def test_phone_width_has_no_horizontal_scroll(chromium, served):
    served.clear()
    served.upload("a-rather-long-file-name-without-any-space-in-it-at-all-" + "x" * 40 + ".md", BIKES)
    page = Page(chromium, served.url, PHONE)
    try:
        page.goto("/?ask=" + quote_plus("How often should the bicycle chain be oiled?"))
        page.by("citation").first.click()
        expect(page.by("passage").locator("mark")).to_be_visible()
        expect(page.by("documents-list").locator("[data-testid=document]")).to_have_count(1)
        assert page.no_horizontal_scroll()
        for testid in ("ask-input", "ask-submit", "upload-input", "search-input", "answer", "documents-list"):
            box = page.by(testid).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (testid, box)
        page.assert_no_errors()
    finally:
        page.close()


def test_an_upload_answered_202_is_followed_through_the_real_jobs_route(chromium, tmp_path):
    """With `upload_wait_s` 0 the upload answers 202 with a job at once: the page follows GET /api/v1/jobs/{id}
    of the real service (its in-process worker runs the job) to `done`, then lists the document."""
    service = Served(tmp_path, DOCQA_UPLOAD_WAIT_S="0")
    opened = Page(chromium, service.url)
    try:
        opened.goto("/")
        opened.by("upload-input").set_input_files(str(INTAKE))
        expect(opened.locator("[data-testid=upload-item][data-state=done]")).to_contain_text("added")
        listed = opened.by("documents-list").locator("[data-testid=document]")
        expect(listed).to_have_count(1)
        expect(listed).to_contain_text("clinic-patient-intake.md")
        jobs = service.http.get("/api/v1/jobs").json()["jobs"]
        assert [(j["filename"], j["status"]) for j in jobs] == [("clinic-patient-intake.md", "done")], jobs
        opened.assert_no_errors()
    finally:
        opened.close()
        service.close()
