"""OpenAIEmbedder against a real local HTTP server that misbehaves on cue (no mocks)."""

from __future__ import annotations

import hashlib
import json
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest

from docqa.config import Settings
from docqa.embedders.openai import OpenAIEmbedder
from docqa.embedders.registry import get_embedder
from docqa.errors import EmbedderError, InvalidInput

DIM = 8


def fake_vector(text: str, dim: int = DIM) -> list[float]:
    """Deterministic, deliberately not unit length."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return [round(random.Random(seed).uniform(-3, 3), 6) for _ in range(dim)]


def unit(rows: list[list[float]]) -> np.ndarray:
    a = np.asarray(rows, dtype=np.float32)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


class FakeEmbeddingServer:
    """Answers POST /v1/embeddings; `script` holds one behaviour per coming request, then "ok"."""

    def __init__(self) -> None:
        self.script: deque[Any] = deque()
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                    action = server.script.popleft() if server.script else "ok"
                server.respond(self, body, action)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def respond(self, h: BaseHTTPRequestHandler, body: dict, action: Any) -> None:
        kind, arg = action if isinstance(action, tuple) else (action, None)
        if kind == "sleep":
            time.sleep(arg)
            kind = "ok"
        if kind == "status":
            status, headers = arg
            return self.send(h, status, {"error": {"message": f"scripted {status}"}}, headers)
        if kind == "raw":
            return self.send(h, 200, arg)
        inputs = body["input"]
        dim = arg if kind == "dim" else DIM
        data = [{"object": "embedding", "index": i, "embedding": fake_vector(t, dim)} for i, t in enumerate(inputs)]
        if kind == "reverse":
            data.reverse()
        if kind == "dup_index":
            data[-1]["index"] = 0
        self.send(h, 200, {"object": "list", "data": data, "model": body["model"]})

    @staticmethod
    def send(h: BaseHTTPRequestHandler, status: int, payload: Any, headers: dict | None = None) -> None:
        raw = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        try:
            h.send_response(status)
            for key, value in (headers or {}).items():
                h.send_header(key, value)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(raw)))
            h.end_headers()
            h.wfile.write(raw)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            pass

    def batch_sizes(self) -> list[int]:
        return [len(r["body"]["input"]) for r in self.requests]


@pytest.fixture()
def server() -> Iterator[FakeEmbeddingServer]:
    srv = FakeEmbeddingServer()
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


def make(server: FakeEmbeddingServer, **kw: Any) -> OpenAIEmbedder:
    options: dict[str, Any] = dict(model="test-embed", dim=DIM, timeout_s=2.0, max_retries=3, backoff_base_s=0.01)
    options.update(kw)
    return OpenAIEmbedder(base_url=server.base_url, **options)


TEXTS = [f"sentence number {i} about topic {i % 3}" for i in range(10)]


def test_embeds_in_order_normalized_with_auth_and_model(server: FakeEmbeddingServer) -> None:
    emb = make(server, api_key="sk-test")
    out = emb.embed(TEXTS[:5])
    assert out.shape == (5, DIM) and out.dtype == np.float32
    np.testing.assert_allclose(out, unit([fake_vector(t) for t in TEXTS[:5]]), atol=1e-6)
    request = server.requests[0]
    assert request["path"] == "/v1/embeddings"
    assert request["body"] == {"model": "test-embed", "input": TEXTS[:5]}
    assert request["auth"] == "Bearer sk-test"
    assert emb.model_id == "openai:test-embed" and emb.max_tokens == 8191


def test_no_auth_header_without_key(server: FakeEmbeddingServer) -> None:
    make(server).embed(["x"])
    assert server.requests[0]["auth"] is None


def test_batches_respect_max_batch_and_keep_order(server: FakeEmbeddingServer) -> None:
    out = make(server, max_batch=4).embed(TEXTS)
    assert server.batch_sizes() == [4, 4, 2]
    np.testing.assert_allclose(out, unit([fake_vector(t) for t in TEXTS]), atol=1e-6)


def test_out_of_order_indexes_are_reordered(server: FakeEmbeddingServer) -> None:
    server.script.extend(["reverse", "reverse"])
    out = make(server, max_batch=6).embed(TEXTS)
    np.testing.assert_allclose(out, unit([fake_vector(t) for t in TEXTS]), atol=1e-6)


def test_429_retry_after_is_honoured(server: FakeEmbeddingServer) -> None:
    server.script.append(("status", (429, {"Retry-After": "0.4"})))
    start = time.monotonic()
    out = make(server).embed(TEXTS[:3])
    assert time.monotonic() - start >= 0.4
    assert out.shape == (3, DIM) and len(server.requests) == 2


def test_retry_after_http_date_is_understood(server: FakeEmbeddingServer) -> None:
    from email.utils import formatdate

    server.script.append(("status", (503, {"Retry-After": formatdate(time.time() + 1.5, usegmt=True)})))
    start = time.monotonic()
    make(server).embed(["x"])
    assert time.monotonic() - start >= 0.3  # the date has one-second resolution: waits 0.5-1.5 s
    assert len(server.requests) == 2


def test_5xx_retried_with_backoff_then_succeeds(server: FakeEmbeddingServer) -> None:
    server.script.extend([("status", (500, {})), ("status", (502, {}))])
    out = make(server).embed(TEXTS[:2])
    assert out.shape == (2, DIM) and len(server.requests) == 3


def test_timeout_is_retried(server: FakeEmbeddingServer) -> None:
    server.script.append(("sleep", 1.5))
    out = make(server, timeout_s=0.3).embed(["slow"])
    assert out.shape == (1, DIM) and len(server.requests) == 2


def test_persistent_500_gives_clear_error_after_all_attempts(server: FakeEmbeddingServer) -> None:
    server.script.extend([("status", (500, {}))] * 3)
    with pytest.raises(EmbedderError) as info:
        make(server, max_retries=2).embed(["x"])
    message = str(info.value)
    assert server.base_url + "/embeddings" in message and "HTTP 500" in message and "3 attempts" in message
    assert info.value.details["attempts"] == 3 and info.value.details["status"] == 500
    assert len(server.requests) == 3


def test_client_errors_are_not_retried(server: FakeEmbeddingServer) -> None:
    server.script.append(("status", (400, {})))
    with pytest.raises(EmbedderError, match=r"after 1 attempt: HTTP 400: .*scripted 400"):
        make(server).embed(["x"])
    assert len(server.requests) == 1


def test_unauthorized_hints_at_the_key(server: FakeEmbeddingServer) -> None:
    server.script.append(("status", (401, {})))
    with pytest.raises(EmbedderError, match="DOCQA_OPENAI_API_KEY"):
        make(server).embed(["x"])


def test_retry_after_too_long_fails_fast(server: FakeEmbeddingServer) -> None:
    server.script.append(("status", (429, {"Retry-After": "3600"})))
    with pytest.raises(EmbedderError, match="HTTP 429.*retry after 3600s"):
        make(server).embed(["x"])
    assert len(server.requests) == 1


def test_wrong_dimension_is_rejected(server: FakeEmbeddingServer) -> None:
    server.script.append(("dim", 16))
    with pytest.raises(EmbedderError, match="16-dimensional .* expected 8"):
        make(server).embed(["x"])


def test_dimension_probed_once_when_unknown(server: FakeEmbeddingServer) -> None:
    emb = make(server, dim=0)
    assert emb.dim == DIM and emb.dim == DIM
    assert server.batch_sizes() == [1]
    emb.embed(TEXTS[:2])
    assert server.batch_sizes() == [1, 2]
    assert make(server, dim=0).embed(["a"]).shape == (1, DIM)  # first embed learns the dim without a probe
    assert server.batch_sizes() == [1, 2, 1]


def test_bad_indexes_and_malformed_bodies_are_errors(server: FakeEmbeddingServer) -> None:
    server.script.extend(["dup_index", ("raw", "not json"), ("raw", {"data": [{"embedding": [1.0]}]})])
    emb = make(server)
    with pytest.raises(EmbedderError, match="returned indexes"):
        emb.embed(["a", "b", "c"])
    with pytest.raises(EmbedderError, match="malformed response"):
        emb.embed(["a"])
    with pytest.raises(EmbedderError, match="malformed response"):
        emb.embed(["a"])
    assert len(server.requests) == 3


def test_connection_refused_is_a_clear_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    emb = OpenAIEmbedder(base_url=f"http://127.0.0.1:{port}/v1", model="m", dim=4, max_retries=1, backoff_base_s=0.01)
    with pytest.raises(
        EmbedderError, match=rf"127.0.0.1:{port}/v1/embeddings failed after 2 attempts: no response: connection failed"
    ):
        emb.embed(["x"])


def test_empty_input_and_bad_input(server: FakeEmbeddingServer) -> None:
    emb = make(server)
    assert emb.embed([]).shape == (0, DIM)
    assert server.requests == []
    with pytest.raises(InvalidInput):
        emb.embed("a string")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        emb.embed(["ok", None])  # type: ignore[list-item]


def test_from_settings_and_registry(server: FakeEmbeddingServer) -> None:
    settings = Settings(embedder="openai", openai_base_url=server.base_url + "/", openai_model="m1", openai_dim=DIM)
    emb = get_embedder(settings)
    assert isinstance(emb, OpenAIEmbedder) and emb.model_id == "openai:m1" and emb.dim == DIM
    assert emb.url == server.base_url + "/embeddings"
    with pytest.raises(InvalidInput, match="DOCQA_OPENAI_BASE_URL"):
        OpenAIEmbedder.from_settings(Settings())


def test_count_tokens_is_conservative() -> None:
    emb = OpenAIEmbedder(base_url="http://127.0.0.1:9/v1", model="m", dim=4)
    text = "The quick brown fox jumps over the lazy dog. " * 20
    assert emb.count_tokens(text) >= len(text) / 4  # real BPE: ~4 chars per English token
    assert emb.count_tokens("日本語のテキスト") >= 8  # about one token per CJK character
