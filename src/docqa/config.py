"""Typed settings. Read from the environment (prefix DOCQA_) only when asked.

Nothing here runs at import time; `Settings.from_env()` is called by the CLI
and the service entry points, and tests build `Settings(...)` directly.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from docqa.errors import InvalidInput

ENV_PREFIX = "DOCQA_"


@dataclass(frozen=True)
class Settings:
    # where things live
    data_dir: Path = Path("./data")
    database_url: str = ""  # empty: sqlite file in data_dir
    collection: str = "default"

    # embedding
    embedder: str = "minilm"
    embed_batch_size: int = 64
    embed_threads: int = 0  # 0: one per core (bulk ingest); `docqa serve` uses 1 unless set: single queries want 1
    openai_base_url: str = ""
    openai_api_key: str = ""
    openai_model: str = "text-embedding-3-small"
    openai_dim: int = 0  # 0: probe the server once
    openai_timeout_s: float = 30.0
    openai_max_retries: int = 4
    openai_max_batch: int = 128

    # index
    index_type: str = "flat"  # flat | hnsw
    hnsw_m: int = 32
    hnsw_ef_construction: int = 80
    hnsw_ef_search: int = 128
    search_threads: int = 1

    # sync
    sync_batch_size: int = 20_000
    repair_max_fraction: float = 0.10  # repair by id up to this share of rows, else rebuild
    startup_sync_timeout_s: float = 120.0
    poll_interval_s: float = 0.25  # change-log follow interval (SQLite; PG uses LISTEN/NOTIFY too)
    verify_interval_s: float = 600.0  # full digest verification while running
    deep_verify_interval_s: float = 86_400.0  # ... also re-hashing the index's own vectors (sync deep=True); 0: never
    snapshot_interval_s: float = 30.0  # at most one snapshot save per interval after catch-ups
    change_log_retention: int = 1_000_000  # keep at most this many change rows
    retry_initial_s: float = 0.5  # degraded service: first retry delay, doubled up to retry_max_s
    retry_max_s: float = 30.0

    # chunking
    chunk_max_tokens: int = 200
    chunk_overlap_tokens: int = 30

    # service
    host: str = "127.0.0.1"
    port: int = 8003
    api_key: str = ""
    cors_origins: tuple[str, ...] = ()
    max_upload_bytes: int = 50 * 1024 * 1024
    webhook_url: str = ""
    webhook_timeout_s: float = 5.0
    log_level: str = "INFO"
    log_json: bool = True

    # question answering
    llm_base_url: str = ""
    llm_api_key: str = ""
    llm_model: str = "gpt-4o-mini"
    llm_timeout_s: float = 20.0
    qa_min_score: float = 0.35  # evidence floor for answers; calibrated for minilm (hash embedder: ~0.25)
    hybrid_vector_weight: float = 1.0
    hybrid_keyword_weight: float = 1.0
    rrf_k: int = 60

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(Path(self.data_dir) / 'docqa.db').resolve()}"

    @property
    def index_dir(self) -> Path:
        return Path(self.data_dir) / "index"

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is not None:
                values[f.name] = _coerce(f.name, f.type, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def _coerce(name: str, type_name: Any, raw: str) -> Any:
    t = str(type_name)
    try:
        if t == "Path":
            return Path(raw)
        if t == "int":
            return int(raw)
        if t == "float":
            return float(raw)
        if t == "bool":
            if raw.strip().lower() in ("1", "true", "yes", "on"):
                return True
            if raw.strip().lower() in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(raw)
        if t.startswith("tuple"):
            return tuple(s.strip() for s in raw.split(",") if s.strip())
        return raw
    except ValueError:
        raise InvalidInput(f"environment variable {ENV_PREFIX}{name.upper()}={raw!r} is not a valid {t}") from None
