"""JSON logs. Events keep the original service's wording so dashboards match.

`log_event(logger, "FAISS index synchronized successfully", vectors=22)`
emits one JSON object per line: {"event": ..., "level": ..., "logger": ...,
"ts": ..., **fields}.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                body[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            body["error_type"] = record.exc_info[0].__name__
            body["error"] = str(record.exc_info[1])
        return json.dumps(body, default=str, ensure_ascii=False)


def configure_logging(level: str = "INFO", json_output: bool = True, stream: Any = None) -> None:
    root = logging.getLogger("docqa")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if json_output else logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name if name.startswith("docqa") else f"docqa.{name}")


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one event with structured fields. Field names that collide with LogRecord's own
    attributes (`filename`, `module`, `name`, ...) get a trailing underscore instead of
    making `logging` raise."""
    safe = {(f"{k}_" if k in _RESERVED else k): v for k, v in fields.items()}
    logger.log(level, event, extra=safe)
