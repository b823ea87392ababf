"""HTTP with docqa's errors and retries: a 503 (or a connection refused) is retried with exponential backoff and
jitter, honouring `Retry-After`; any other error body becomes the docqa error of its code."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

import httpx

from docqa.errors import DocqaError, InvalidInput, ServiceDegraded

NOT_RETRIED = {"schema_too_new"}  # a 503 that waiting does not cure


@dataclass(frozen=True)
class RetryPolicy:
    """`attempts` in all (1: no retry); waits of `backoff_s`, doubled each time up to `max_backoff_s`, ±25%."""

    attempts: int = 6
    backoff_s: float = 0.25
    max_backoff_s: float = 4.0

    def delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after and retry_after.strip().isdigit():
            return min(float(retry_after), self.max_backoff_s)
        base = min(self.backoff_s * (2**attempt), self.max_backoff_s)
        return base * random.uniform(0.75, 1.25)


def _error_classes() -> dict[str, type[DocqaError]]:
    found: dict[str, type[DocqaError]] = {}
    todo: list[type[DocqaError]] = [DocqaError]
    while todo:
        cls = todo.pop()
        found.setdefault(cls.code, cls)
        todo.extend(cls.__subclasses__())
    found.update({"validation_error": InvalidInput, "invalid_json": InvalidInput})
    return found


def error_from(response: httpx.Response) -> DocqaError:
    """The docqa error a response's `{"error": {"code", "message", "details"}}` body names."""
    try:
        body = response.json()["error"]
        code, message, details = str(body["code"]), str(body["message"]), dict(body.get("details") or {})
    except (ValueError, KeyError, TypeError):
        code, message, details = "http_error", f"HTTP {response.status_code}: {response.text[:200]}", {}
    cls = _error_classes().get(code, DocqaError)
    error = cls(message, **details)
    error.code = code  # e.g. validation_error, not invalid_input: the service's own code
    error.http_status = response.status_code
    return error


class Transport:
    def __init__(self, url: str, api_key: str | None, timeout_s: float, retry: RetryPolicy) -> None:
        headers = {"X-API-Key": api_key} if api_key else {}
        self.http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout_s)
        self.retry = retry

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON body of a 2xx answer; the docqa error of any other, after retries for 503s."""
        for attempt in range(self.retry.attempts):
            last = attempt == self.retry.attempts - 1
            try:
                response = self.http.request(method, path, **kwargs)
            except httpx.ConnectError as exc:  # nothing was sent: safe to retry any method
                if last:
                    raise ServiceDegraded(f"cannot reach {self.http.base_url}: {exc}") from exc
                time.sleep(self.retry.delay(attempt, None))
                continue
            if response.is_success:
                return response.json()
            error = error_from(response)
            if response.status_code != 503 or error.code in NOT_RETRIED or last:
                raise error
            time.sleep(self.retry.delay(attempt, response.headers.get("retry-after")))
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        self.http.close()
