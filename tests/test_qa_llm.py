"""The LLM answer path against a fake OpenAI-compatible server over real HTTP, and its fallbacks."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from docqa.qa.llm import map_citations
from docqa.qa.types import NOT_FOUND_TEXT
from tests.test_qa import assert_spans_exact, manual  # noqa: F401  (fixture)


class FakeChat:
    """A chat-completions endpoint whose reply, delay and status the test sets."""

    def __init__(self) -> None:
        self.reply = "Lubricate it every 300 km [1]."
        self.delay_s = 0.0
        self.status = 200
        self.raw_body: bytes | None = None
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                fake.requests.append(
                    {
                        "path": self.path,
                        "auth": self.headers.get("Authorization"),
                        "body": json.loads(self.rfile.read(length)),
                    }
                )
                time.sleep(fake.delay_s)
                body = (
                    fake.raw_body
                    if fake.raw_body is not None
                    else json.dumps({"choices": [{"message": {"role": "assistant", "content": fake.reply}}]}).encode()
                )
                try:
                    self.send_response(fake.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_llm() -> Iterator[FakeChat]:
    fake = FakeChat()
    yield fake
    fake.close()


def use_llm(store, url: str, timeout_s: float = 5.0) -> None:
    store.settings = store.settings.replace(
        llm_base_url=url, llm_model="fake-model", llm_api_key="sk-test", llm_timeout_s=timeout_s
    )


def test_llm_answer_with_citations_mapped_to_sources(store, manual, fake_llm) -> None:  # noqa: F811
    use_llm(store, fake_llm.url)
    question = "How often should I lubricate the chain?"
    fake_llm.reply = "Clean and oil the chain every 300 km [1], and after rain [1]."
    answer = store.ask(question)
    assert answer.mode == "llm" and answer.found and answer.fallback_reason is None
    request = fake_llm.requests[0]
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer sk-test"
    assert request["body"]["model"] == "fake-model"
    prompt = request["body"]["messages"][-1]["content"]
    assert question in prompt and "[1] " in prompt and "Clean and lubricate the chain" in prompt
    assert answer.answer == "Clean and oil the chain every 300 km [1], and after rain [1]."
    assert len(answer.sources) == 1 and answer.sources[0].text in prompt
    assert_spans_exact(store, answer)


def test_llm_citations_are_renumbered_by_first_use(store, manual, fake_llm) -> None:  # noqa: F811
    use_llm(store, fake_llm.url)
    store.settings = store.settings.replace(qa_min_score=-1.0)  # every retrieved chunk goes to the model
    fake_llm.reply = "Pressure is in [2]; chain care in [1, 2]; nothing in [99]."
    answer = store.ask("chain tyre pressure", k=3)
    prompt = fake_llm.requests[0]["body"]["messages"][-1]["content"]
    sent = [block.split("] ", 1)[1] for block in prompt.split("\n\n") if block.startswith("[")]
    assert answer.answer == "Pressure is in [1]; chain care in [2, 1]; nothing in."
    assert [s.text for s in answer.sources] == [sent[1].strip(), sent[0].strip()]
    assert_spans_exact(store, answer)


def test_llm_timeout_falls_back_to_extractive(store, manual, fake_llm) -> None:  # noqa: F811
    use_llm(store, fake_llm.url, timeout_s=0.3)
    fake_llm.delay_s = 2.0
    answer = store.ask("How often should I lubricate the chain?")  # the reason below says it did not wait 2 s
    assert answer.mode == "extractive" and answer.found
    assert "did not answer within 0.3 s" in answer.fallback_reason
    assert answer.answer.startswith("Clean and lubricate the chain every 300 km")


@pytest.mark.parametrize("failure", ["unreachable", "http500", "garbage", "empty"])
def test_llm_failures_fall_back_to_extractive(store, manual, fake_llm, failure: str) -> None:  # noqa: F811
    url = fake_llm.url
    if failure == "unreachable":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{s.getsockname()[1]}/v1"  # closed again: nothing listens there
    elif failure == "http500":
        fake_llm.status = 500
    elif failure == "garbage":
        fake_llm.raw_body = b"<html>not json</html>"
    else:
        fake_llm.reply = "   "
    use_llm(store, url)
    answer = store.ask("How often should I lubricate the chain?")
    assert answer.mode == "extractive" and answer.found and answer.fallback_reason
    assert answer.answer.startswith("Clean and lubricate the chain")
    expected = {"unreachable": "unreachable", "http500": "HTTP 500", "garbage": "without an answer", "empty": "empty"}
    assert expected[failure] in answer.fallback_reason


def test_llm_not_found_and_floor(store, manual, fake_llm) -> None:  # noqa: F811
    use_llm(store, fake_llm.url)
    fake_llm.reply = "NOT_FOUND"
    answer = store.ask("How often should I lubricate the chain?")
    assert answer.mode == "llm" and not answer.found and answer.answer == NOT_FOUND_TEXT and answer.sources == []
    calls = len(fake_llm.requests)
    answer = store.ask("Who won the football world cup in 1998?")  # below the floor: the model is not asked
    assert not answer.found and len(fake_llm.requests) == calls


def test_map_citations_by_hand() -> None:
    assert map_citations("A [3]. B [1, 3] and [9].", 3) == ("A [1]. B [2, 1] and.", [2, 0])
    assert map_citations("No citations.", 2) == ("No citations.", [0, 1])
    assert map_citations("Bad [7].", 2) == ("Bad.", [0, 1])


def test_llm_sees_the_extractive_passages_numbered_as_the_answer_cites_them(store, manual, fake_llm) -> None:  # noqa: F811
    question = "How often should I lubricate the chain?"
    extractive = store.ask(question)
    assert "[1]" in extractive.answer  # the extractive answer marks its sources the same way
    use_llm(store, fake_llm.url)
    fake_llm.reply = "Every 300 km [1]."
    answer = store.ask(question)
    prompt = fake_llm.requests[0]["body"]["messages"][-1]["content"]
    shown = [block.split("] ", 1)[1] for block in prompt.split("\n\n") if block.startswith("[")]
    assert shown[0] == extractive.sources[0].text  # passage [1] is the extractive answer's source [1]
    assert answer.mode == "llm" and answer.answer == "Every 300 km [1]."
    assert answer.sources[0] == extractive.sources[0]
    assert_spans_exact(store, answer)
    fake_llm.status = 500
    fallback = store.ask(question)
    assert fallback.mode == "extractive" and fallback.answer == extractive.answer
