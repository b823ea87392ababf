"""Shared helpers for the HTTP tests (no tests here).

- `running(settings)`: the real app with its lifespan (store opened by the app).
- `TcpProxy`: a TCP forwarder in front of PostgreSQL that a test can take
  down and bring back, to simulate an outage without touching the server.
- `Receiver`: a local HTTP server collecting webhook posts.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fastapi.testclient import TestClient

from docqa.api import create_app
from docqa.config import Settings


def fast(settings: Settings, **changes: Any) -> Settings:
    """Test settings: quick polling and retries."""
    base = {"poll_interval_s": 0.05, "retry_initial_s": 0.05, "retry_max_s": 0.3}
    return settings.replace(**{**base, **changes})


@contextlib.contextmanager
def running(settings: Settings, store: Any = None, warmed: bool = True) -> Iterator[TestClient]:
    """The app with its lifespan, logging at INFO as in production (so every log call really runs).
    `warmed`: first wait (at most 10 s) until it is past starting / warming_up (the model and the HTTP
    warm-up search), as a load balancer would before routing to it."""
    logger = logging.getLogger("docqa")
    level = logger.level
    logger.setLevel(logging.INFO)
    if not settings.allowed_hosts and settings.host == "127.0.0.1":  # the test client's Host, beside the default names
        settings = settings.replace(allowed_hosts=("testserver", "localhost", "127.0.0.1"))
    app = create_app(settings, store)
    try:
        with TestClient(app, raise_server_exceptions=True) as client:
            if warmed:
                deadline = time.monotonic() + 10
                # the runtime, not /health: /health reads (and caches for a while) the job queue's counts
                while str(app.state.runtime.health().state) in ("starting", "warming_up"):
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.01)
            yield client
    finally:
        logger.setLevel(level)


def wait_for(predicate: Callable[[], Any], timeout_s: float = 5.0, interval_s: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s}s")
        time.sleep(interval_s)


def index_doc(
    client: TestClient,
    document_id: str,
    texts: list[str],
    metadata: dict | None = None,
    headers: dict | None = None,
    **extra: Any,
) -> dict:
    body = {"document_id": document_id, "chunks": [{"index": i, "content": t} for i, t in enumerate(texts)], **extra}
    if metadata is not None:
        body["metadata"] = metadata
    response = client.post("/api/v1/index/", json=body, headers=headers or {})
    assert response.status_code == 200, response.text
    return response.json()


def search(client: TestClient, query: str, **body: Any) -> dict:
    response = client.post("/api/v1/search/", json={"query": query, **body})
    assert response.status_code == 200, response.text
    return response.json()


def assert_error(response: Any, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert {"code", "message", "details"} <= set(body["error"]), body
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


class TcpProxy:
    """Forward 127.0.0.1:<port> to a target; `down()` refuses and cuts connections, `up()` restores."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._server: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def rewrite(self, url: str) -> str:
        return url.replace(f"{self.target[0]}:{self.target[1]}", f"127.0.0.1:{self.port}")

    def up(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def down(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            with contextlib.suppress(OSError):
                server.shutdown(socket.SHUT_RDWR)  # wakes the accept() blocked in its thread (Linux)
            server.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


class Receiver:
    """A local webhook receiver; `delay_s` makes it slow on purpose."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.events: list[dict] = []
        received = self.events
        delay = delay_s

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length))
                time.sleep(delay)
                received.append(body)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def kinds(self) -> list[str]:
        return [e["event"] for e in list(self.events)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
