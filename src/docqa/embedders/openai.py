"""Embeddings from an OpenAI-compatible HTTP endpoint (`POST {base_url}/embeddings`).

Requests are batched (at most `max_batch` inputs each), retried with
exponential backoff and jitter on 429, 5xx, timeouts and connection errors
(a `Retry-After` header is honoured), re-ordered by each item's `index`,
checked for dimension and finiteness, and L2-normalized. Every failure is an
`EmbedderError` naming the URL, the HTTP status and the number of attempts.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Sequence
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np

from docqa.embedders.base import Embedder, check_texts, normalize_rows
from docqa.errors import EmbedderError, InvalidInput

if TYPE_CHECKING:  # pragma: no cover
    from docqa.config import Settings

RETRYABLE_STATUS = frozenset({408, 425, 429})  # and every 5xx
_PROBE_TEXT = "dimension probe"


class OpenAIEmbedder(Embedder):
    max_tokens = 8191

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str = "",
        dim: int = 0,
        timeout_s: float = 30.0,
        max_retries: int = 4,
        max_batch: int = 128,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 20.0,
        max_retry_after_s: float = 60.0,
    ) -> None:
        if not base_url:
            raise InvalidInput(
                "the openai embedder needs a base URL (DOCQA_OPENAI_BASE_URL), e.g. https://api.openai.com/v1"
            )
        if not model:
            raise InvalidInput("the openai embedder needs a model name (DOCQA_OPENAI_MODEL)")
        if max_batch < 1 or max_retries < 0 or dim < 0 or timeout_s <= 0:
            raise InvalidInput("openai embedder: max_batch >= 1, max_retries >= 0, dim >= 0 and timeout_s > 0 required")
        self.url = base_url.rstrip("/") + "/embeddings"
        self.model = model
        self.model_id = f"openai:{model}"
        self.max_batch = max_batch
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.max_retry_after_s = max_retry_after_s
        self._dim = dim
        self._dim_lock = threading.Lock()
        self._headers = {"Content-Type": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._timeout = httpx.Timeout(timeout_s)
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIEmbedder:
        return cls(
            base_url=settings.openai_base_url,
            model=settings.openai_model,
            api_key=settings.openai_api_key,
            dim=settings.openai_dim,
            timeout_s=settings.openai_timeout_s,
            max_retries=settings.openai_max_retries,
            max_batch=settings.openai_max_batch,
        )

    @property
    def dim(self) -> int:  # type: ignore[override]
        if self._dim == 0:
            with self._dim_lock:
                if self._dim == 0:
                    self._dim = len(self._request([_PROBE_TEXT])[0])
        return self._dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        items = check_texts(texts)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [self._embed_batch(items[i : i + self.max_batch]) for i in range(0, len(items), self.max_batch)]
        return normalize_rows(np.vstack(parts))

    def count_tokens(self, text: str) -> int:
        """A conservative estimate: one token per 3 UTF-8 bytes (real BPE averages ~4 chars/token)."""
        return math.ceil(len(text.encode("utf-8")) / 3)

    def close(self) -> None:
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _http(self) -> httpx.Client:
        """The connection pool, created on first use (building its TLS context costs ~0.1-0.5 s)."""
        with self._client_lock:
            if self._client is None:
                self._client = httpx.Client(timeout=self._timeout, headers=self._headers)
            return self._client

    # -- one batch -------------------------------------------------------------------------

    def _embed_batch(self, batch: list[str]) -> np.ndarray:
        rows = self._request(batch)
        if self._dim == 0:
            with self._dim_lock:
                if self._dim == 0:
                    self._dim = len(rows[0])
        bad = [len(r) for r in rows if len(r) != self._dim]
        if bad:
            raise EmbedderError(
                f"{self.url} returned {bad[0]}-dimensional embeddings for model {self.model!r}, expected {self._dim}",
                url=self.url,
                expected_dim=self._dim,
                got_dim=bad[0],
            )
        vectors = np.asarray(rows, dtype=np.float32)
        if not np.isfinite(vectors).all():
            raise EmbedderError(f"{self.url} returned non-finite embedding values", url=self.url)
        return vectors

    def _request(self, batch: list[str]) -> list[list[float]]:
        """POST one batch with retries; return its embeddings in input order."""
        payload = {"model": self.model, "input": batch}
        attempts = self.max_retries + 1
        for attempt in range(1, attempts + 1):
            outcome = self._attempt(payload)
            if not isinstance(outcome, _Failure):
                return self._ordered(outcome, len(batch))
            if not outcome.retryable or attempt == attempts:
                raise outcome.error(self.url, attempt)
            time.sleep(self._delay(attempt, outcome))
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(self, payload: dict) -> list[tuple[int, Any]] | _Failure:
        try:
            response = self._http().post(self.url, json=payload)
        except httpx.TimeoutException as exc:
            return _Failure(f"timed out ({type(exc).__name__})", None, True)
        except httpx.TransportError as exc:
            return _Failure(f"connection failed ({type(exc).__name__}: {exc})", None, True)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return _Failure(f"request failed ({type(exc).__name__}: {exc})", None, False)
        if response.status_code != 200:
            retryable = response.status_code in RETRYABLE_STATUS or response.status_code >= 500
            return _Failure(_excerpt(response.text), response.status_code, retryable, _retry_after(response))
        try:
            data = response.json()["data"]
            return [(int(item["index"]), item["embedding"]) for item in data]
        except (ValueError, KeyError, TypeError) as exc:
            return _Failure(f"malformed response ({type(exc).__name__}: {exc})", 200, False)

    def _ordered(self, items: list[tuple[int, Any]], n: int) -> list[list[float]]:
        indexes = sorted(i for i, _ in items)
        if indexes != list(range(n)):
            raise EmbedderError(
                f"{self.url} returned indexes {indexes[:10]} for a batch of {n} inputs",
                url=self.url,
                batch_size=n,
            )
        ordered = sorted(items, key=lambda pair: pair[0])
        rows = [vector for _, vector in ordered]
        if not all(isinstance(r, list) and r for r in rows):
            raise EmbedderError(f"{self.url} returned an embedding that is not a non-empty list", url=self.url)
        return rows

    def _delay(self, attempt: int, failure: _Failure) -> float:
        retry_after = failure.retry_after
        if retry_after is not None:
            if retry_after > self.max_retry_after_s:
                raise failure.error(self.url, attempt, f"server asked to retry after {retry_after:.0f}s")
            return retry_after + random.uniform(0, self.backoff_base_s / 4)
        ceiling = min(self.backoff_max_s, self.backoff_base_s * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)


class _Failure:
    def __init__(self, detail: str, status: int | None, retryable: bool, retry_after: float | None = None) -> None:
        self.detail = detail
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after

    def error(self, url: str, attempts: int, note: str = "") -> EmbedderError:
        status = f"HTTP {self.status}" if self.status is not None else "no response"
        hint = " (check DOCQA_OPENAI_API_KEY)" if self.status in (401, 403) else ""
        text = f"POST {url} failed after {attempts} attempt{'s' if attempts > 1 else ''}: {status}: {self.detail}{hint}"
        if note:
            text += f"; {note}"
        return EmbedderError(text, url=url, status=self.status, attempts=attempts)


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(raw).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _excerpt(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."
