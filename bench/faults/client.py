"""A client thread writing to a live `docqa serve`: uploads, JSON index posts, updates and deletes.

Every operation is logged before it is sent (phase "sent") and again when the service acknowledged it with
HTTP 200 (phase "acked", with what the store must then hold: its chunk count and a marker word found in its
text). The checker reads that log. Loops are bounded in count and in time, and talk to loopback only.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
from bench.faults.corpus import document_text, realistic_size, render


class AckLog:
    def __init__(self, path: Path | None = None, initial: list[dict] | None = None) -> None:
        self.records: list[dict] = []
        self.path = path
        self._fh = open(path, "a", encoding="utf-8") if path else None  # noqa: SIM115
        self._lock = threading.Lock()
        self.next_i = 0
        for rec in initial or []:
            self.add(rec)

    def add(self, rec: dict) -> None:
        with self._lock:
            self.records.append(rec)
            self.next_i = max(self.next_i, int(rec["i"]) + 1)
            if self._fh:
                self._fh.write(json.dumps(rec) + "\n")
                self._fh.flush()

    def new_i(self) -> int:
        with self._lock:
            i = self.next_i
            self.next_i += 1
            return i

    def close(self) -> None:
        if self._fh:
            self._fh.close()


def seed_acks(documents: list[dict], start: int = 0) -> list[dict]:
    """Acknowledgements for documents an `ingest --json` reported (status added/updated/unchanged)."""
    out = []
    for n, doc in enumerate(documents):
        if doc.get("status") in ("added", "updated", "unchanged") and doc.get("chunks"):
            out.append(
                {
                    "i": start + n,
                    "op": "put",
                    "document_id": doc["document_id"],
                    "chunks": doc["chunks"],
                    "phase": "acked",
                }
            )
    return out


class Writer(threading.Thread):
    """Sequential writes until `max_ops`, `deadline` (monotonic), `stop` is set, or the service goes away."""

    WEIGHTS = (("upload", 35), ("index", 25), ("update", 20), ("delete", 20))

    def __init__(
        self,
        base: str,
        acks: AckLog,
        seed: int,
        tag: str,
        present: list[str] | None = None,
        max_ops: int = 400,
        deadline: float | None = None,
        stop_on_error: bool = True,
        pause_s: float = 0.0,
        target_docs: int | None = None,
    ) -> None:
        super().__init__(daemon=True)
        self.base, self.acks, self.rng, self.tag = base, acks, random.Random(seed), tag
        self.target_docs = target_docs  # keep the corpus near this size (a soak must not just grow)
        self.present = list(present or [])
        self.max_ops = max_ops
        self.deadline = deadline if deadline is not None else time.monotonic() + 120
        self.stop_on_error = stop_on_error
        self.pause_s = pause_s
        self.stop = threading.Event()
        self.codes: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()
        self.five_xx: list[tuple[float, int, str]] = []
        self.latencies: list[float] = []
        self.log: list[tuple[float, str, int]] = []  # (monotonic time, op, status; 0 = no answer)
        self.first_ack = threading.Event()
        self._n = 0

    def _op(self) -> str:
        names, weights = zip(*self.WEIGHTS)
        op = self.rng.choices(names, weights)[0]
        if self.target_docs is not None and len(self.present) > self.target_docs and self.rng.random() < 0.5:
            op = "delete"
        if op in ("update", "delete") and not self.present:
            return "upload"
        return op

    def _text(self, marker: str) -> str:
        return document_text(self.rng, realistic_size(self.rng) // 2, marker)

    def one(self, client: httpx.Client) -> bool:
        """One write; False when the service is gone (connection refused/reset)."""
        op = self._op()
        i = self.acks.new_i()
        marker = f"mk{self.tag}x{i}"
        if op == "delete":
            doc = self.rng.choice(self.present)
            rec = {"i": i, "op": "delete", "document_id": doc}
            send = lambda: client.delete(f"{self.base}/api/v1/index/{doc}")  # noqa: E731
        elif op == "index" or (op == "update" and self.rng.random() < 0.5):
            doc = self.rng.choice(self.present) if op == "update" else f"js-{self.tag}-{i}"
            chunks = [
                {"index": n, "content": f"{marker} " + self._text("")[:900]} for n in range(self.rng.randint(1, 6))
            ]
            rec = {"i": i, "op": "put", "document_id": doc, "chunks": len(chunks), "marker": marker}
            body = {"document_id": doc, "filename": f"{doc}.txt", "chunks": chunks, "metadata": {"tag": self.tag}}
            send = lambda: client.post(f"{self.base}/api/v1/index/", json=body)  # noqa: E731
        else:
            doc = self.rng.choice(self.present) if op == "update" else f"up-{self.tag}-{i}"
            kind = self.rng.choice(["txt", "md", "html"])
            data = render(kind, f"upload {doc}", self._text(marker)).encode()
            rec = {"i": i, "op": "put", "document_id": doc, "chunks": None, "marker": marker}
            files = {"file": (f"{doc}.{kind}", data)}
            send = lambda: client.post(  # noqa: E731
                f"{self.base}/api/v1/index/upload", files=files, data={"document_id": doc}
            )
        self.acks.add({**rec, "phase": "sent"})
        t0 = time.perf_counter()
        try:
            resp = send()
        except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            self.errors[type(exc).__name__] += 1
            self.log.append((time.monotonic(), op, 0))
            return False
        except httpx.TimeoutException as exc:
            self.errors[type(exc).__name__] += 1
            self.log.append((time.monotonic(), op, 0))
            return True
        self.latencies.append(time.perf_counter() - t0)
        self.codes[resp.status_code] += 1
        self.log.append((time.monotonic(), op, resp.status_code))
        if resp.status_code == 200:
            body = resp.json()
            if rec["op"] == "put" and rec["chunks"] is None:
                rec["chunks"] = body.get("chunks")
            self.acks.add({**rec, "phase": "acked", "seq": body.get("seq")})
            if rec["op"] == "delete":
                self.present.remove(doc)
            elif doc not in self.present:
                self.present.append(doc)
            self.first_ack.set()
        else:  # not acknowledged; kept with its status so a scenario can ask whether it was stored anyway
            self.acks.add({**rec, "phase": "failed", "status": resp.status_code})
            if resp.status_code >= 500:
                self.five_xx.append((time.monotonic(), resp.status_code, resp.text[:200]))
        return True

    def run(self) -> None:
        with httpx.Client(timeout=15.0) as client:
            while not self.stop.is_set() and self._n < self.max_ops and time.monotonic() < self.deadline:
                self._n += 1
                if not self.one(client) and self.stop_on_error:
                    return
                if self.pause_s:
                    time.sleep(self.pause_s)

    @property
    def ops(self) -> int:
        return self._n


class Reader(threading.Thread):
    """Mixed reads (vector/keyword/hybrid search, QA, stats, health) until `max_ops`, `deadline` or `stop`,
    recording (monotonic time, route, status) of each."""

    QUERIES = (
        "tyre pressure",
        "how long are audit logs kept",
        "medication storage temperature",
        "espresso grind size",
        "follow up appointment after discharge",
        "travel expense receipt approval",
        "history of the mill on the river",
    )

    def __init__(
        self, base: str, seed: int, max_ops: int = 100_000, deadline: float | None = None, pause_s: float = 0.0
    ):
        super().__init__(daemon=True)
        self.base, self.rng = base, random.Random(seed)
        self.max_ops = max_ops
        self.deadline = deadline if deadline is not None else time.monotonic() + 120
        self.pause_s = pause_s
        self.stop = threading.Event()
        self.log: list[tuple[float, str, int]] = []
        self.codes: Counter[int] = Counter()
        self.latencies: list[float] = []

    def _request(self, client: httpx.Client) -> tuple[str, httpx.Response]:
        q = self.rng.choice(self.QUERIES)
        pick = self.rng.random()
        if pick < 0.45:
            mode = self.rng.choice(["vector", "keyword", "hybrid"])
            return "search", client.post(f"{self.base}/api/v1/search/", json={"query": q, "limit": 5, "mode": mode})
        if pick < 0.6:
            return "ask", client.get(f"{self.base}/api/v1/qa/ask", params={"question": q})
        if pick < 0.75:
            return "suggest", client.get(f"{self.base}/api/v1/search/suggest", params={"q": q[:5]})
        if pick < 0.9:
            return "stats", client.get(f"{self.base}/api/v1/search/stats")
        return "health", client.get(f"{self.base}/health")

    def run(self) -> None:
        with httpx.Client(timeout=15.0) as client:
            n = 0
            while not self.stop.is_set() and n < self.max_ops and time.monotonic() < self.deadline:
                n += 1
                t0 = time.perf_counter()
                try:
                    route, resp = self._request(client)
                except httpx.HTTPError:
                    self.log.append((time.monotonic(), "error", 0))
                    time.sleep(0.05)
                    continue
                self.latencies.append(time.perf_counter() - t0)
                self.codes[resp.status_code] += 1
                self.log.append((time.monotonic(), route, resp.status_code))
                if self.pause_s:
                    time.sleep(self.pause_s)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
