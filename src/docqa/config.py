"""Typed, validated settings (pydantic-settings). Read from the environment only when asked.

    Settings(data_dir=Path("./data"), embedder="hash")   # exactly these values, no environment
    Settings.from_env(port=9000)                          # DOCQA_* variables and ./.env, then overrides

Nothing here runs at import time. `Settings(...)` never reads the environment,
so tests and library users get what they wrote; `Settings.from_env()` is what
the entry points (the CLI, `create_app()` without settings) call, and it is
the only place in docqa that reads `DOCQA_*` variables. Command-line options
override it; they do not read the environment themselves. A bad value is an
`InvalidInput` naming the variable, e.g. `DOCQA_PORT='x': Input should be a valid integer`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from docqa.errors import InvalidInput

ENV_PREFIX = "DOCQA_"

Positive = Annotated[int, Field(ge=1)]
NonNegative = Annotated[float, Field(ge=0)]


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)
    error_prefix: ClassVar[str] = ""  # how a field is named in errors: as itself, or as its variable

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise _invalid(exc, self.error_prefix) from None

    # where things live
    data_dir: Path = Path("./data")
    database_url: str = ""  # empty: sqlite file in data_dir
    # a PostgreSQL hot standby of database_url: the index follows it (catch-up, verify, rebuild) and searches,
    # stats read it, while writes go to database_url; "": everything on database_url (docs/scaling.md)
    read_database_url: str = ""
    collection: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")] = "default"

    # embedding
    # the embedder chosen explicitly; "": an existing collection's own (the one it was built with, recorded
    # with it), `default_embedder` for a new one. A choice that differs from a collection's is an error.
    embedder: str = ""
    default_embedder: str = "minilm-int8"  # what a new collection is built with when `embedder` is ""
    model_cache: Path | None = None  # where minilm-int8 caches its built ONNX model; None: ~/.cache/docqa/models
    embed_batch_size: Positive = 64
    embed_threads: Annotated[int, Field(ge=0)] = 0  # 0: auto (one per core for bulk work, 1 in `docqa serve`)
    openai_base_url: str = ""
    openai_api_key: str = ""
    openai_model: str = "text-embedding-3-small"
    openai_dim: Annotated[int, Field(ge=0)] = 0  # 0: probe the server once
    openai_timeout_s: Annotated[float, Field(gt=0)] = 30.0
    openai_max_retries: Annotated[int, Field(ge=0)] = 4
    openai_max_batch: Positive = 128

    # index
    index_type: Literal["flat", "hnsw"] = "flat"
    hnsw_m: Positive = 32
    hnsw_ef_construction: Positive = 80
    hnsw_ef_search: Positive = 64  # recall@10 1.000 at 50k (bench/bench_hnsw_query.py), ~1.5x faster than 128
    search_threads: Positive = 1

    # sync
    sync_batch_size: Positive = 20_000
    repair_max_fraction: Annotated[float, Field(ge=0, le=1)] = 0.10  # repair by id up to this share, else rebuild
    startup_sync_timeout_s: Annotated[float, Field(gt=0)] = 120.0
    poll_interval_s: Annotated[float, Field(gt=0)] = 0.25  # change-log follow interval (SQLite; PG uses LISTEN too)
    verify_interval_s: NonNegative = 0.0  # full verification while running; 0: adaptive, from what one costs:
    verify_budget: Annotated[float, Field(gt=0, le=1)] = 0.05  # ... at most this share of one core
    verify_min_interval_s: Annotated[float, Field(gt=0)] = 2.0  # ... but not more often than this
    verify_max_interval_s: Annotated[float, Field(gt=0)] = 300.0  # ... nor less often than this
    deep_verify_interval_s: NonNegative = 86_400.0  # ... also re-hashing the index's own vectors; 0: never
    snapshot_interval_s: NonNegative = 30.0  # at most one snapshot save per interval after catch-ups
    change_log_retention: Positive = 1_000_000  # keep at most this many change rows
    retry_initial_s: Annotated[float, Field(gt=0)] = 0.5  # degraded: first retry delay, doubled up to retry_max_s
    retry_max_s: Annotated[float, Field(gt=0)] = 1.0  # so a service is healthy within ~1 s of the database returning

    # what one document may cost to parse (ingest/limits.py argues each default); past one: 413 naming it
    max_decompressed_bytes: Positive = 64 * 1024 * 1024  # inflated parts of a DOCX, decompressed PDF streams
    max_compression_ratio: Positive = 100  # ... refused past this ratio once a part inflates past:
    ratio_check_min_bytes: Positive = 10 * 1024 * 1024
    max_archive_members: Positive = 10_000
    max_text_chars: Positive = 64 * 1024 * 1024  # extracted text per document (a 50 MB text file fits)
    max_html_depth: Positive = 512  # element nesting, checked before the HTML parser runs

    # chunking
    chunk_max_tokens: Annotated[int, Field(ge=16)] = 200
    chunk_overlap_tokens: Annotated[int, Field(ge=0)] = 30

    # service
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8003
    api_key: str = (
        ""  # the admin key: writes, deletes, rebuilds (and reads); with any key set, every /api route needs one
    )
    read_api_key: str = ""  # a key for reads only (search, ask, status, stats)
    allowed_hosts: Annotated[tuple[str, ...], NoDecode] = ()  # Host header names accepted; () = the bind address and
    # localhost names (any host when bound beyond loopback); add the names a load balancer uses
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()
    max_upload_bytes: Positive = 50 * 1024 * 1024
    max_concurrent_ingests: Positive = 2  # documents parsed/embedded/written at once per process; the rest wait
    upload_wait_s: NonNegative = 10.0  # POST /index/upload waits this long for its job, then answers 202

    # ingest jobs (docqa.storage.jobs): any worker on this database runs them
    job_workers: Annotated[int, Field(ge=0, le=64)] = 1  # in-process workers of `docqa serve`; 0: accept jobs only
    job_lease_s: Annotated[float, Field(gt=0, le=600)] = 15.0  # a silent worker's job is claimed again after this
    job_poll_s: Annotated[float, Field(gt=0)] = 0.25  # idle workers look for new jobs this often
    job_max_attempts: Annotated[int, Field(ge=1, le=100)] = 3  # attempts before a job ends `failed`
    job_retry_delay_s: NonNegative = 1.0  # after a failed attempt, doubled each attempt (at most 60 s)
    job_retention_s: NonNegative = 7 * 86_400.0  # finished jobs are kept this long, then forgotten
    webhook_url: str = ""
    webhook_timeout_s: Annotated[float, Field(gt=0)] = 5.0
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = True

    # question answering
    llm_base_url: str = ""
    llm_api_key: str = ""
    llm_model: str = "gpt-4o-mini"
    llm_timeout_s: Annotated[float, Field(gt=0)] = 20.0
    qa_min_score: float = 0.35  # evidence floor for answers; calibrated for minilm (hash embedder: ~0.25)
    hybrid_vector_weight: NonNegative = 1.0
    hybrid_keyword_weight: NonNegative = 1.0
    rrf_k: Annotated[int, Field(ge=0)] = 60
    # answers fuse score-aware: each ranking's RRF share is scaled by (score / its best score) ** this, so a
    # chunk a ranking found only by one common word cannot outrank strong vector evidence; 0: plain RRF
    hybrid_score_power: NonNegative = 1.0
    # ... and the vector ranking weighs margin / this times more (1 to hybrid_vector_boost times) when its best
    # cosine stands `margin` above its 10th: a clear semantic match is not outvoted by common words; 0: off
    hybrid_vector_margin: NonNegative = 0.1
    hybrid_vector_boost: Annotated[float, Field(ge=1.0)] = 3.0
    qa_answer_chars: Annotated[int, Field(ge=100, le=900)] = 600  # an answer passage grows to about this size

    @field_validator("cors_origins", "allowed_hosts", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(Path(self.data_dir) / 'docqa.db').resolve()}"

    @property
    def index_dir(self) -> Path:
        return Path(self.data_dir) / "index"

    def replace(self, **changes: Any) -> Settings:
        """A copy with `changes` applied (None means "keep"), validated like the original."""
        values = {k: v for k, v in changes.items() if v is not None}
        return _validated(lambda: type(self).model_validate({**self.model_dump(), **values}), prefix="")

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, env_file: str | Path | None = ".env", **overrides: Any
    ) -> Settings:
        """DOCQA_* variables (and `env_file` when it exists), then `overrides` (None means "not given")."""
        given = {k: v for k, v in overrides.items() if v is not None}
        if environ is not None:
            explicit = _Explicit(**{**_env_source(environ), **given})
            return cls.model_validate(explicit.model_dump())
        from_env = _FromEnv(_env_file=env_file, **given).model_dump()  # given values win, as init arguments
        return _validated(lambda: cls.model_validate(from_env), prefix=ENV_PREFIX)


class _FromEnv(BaseSettings, Settings):  # pydantic merges the two configs
    """The environment reader behind `Settings.from_env()`: the same fields, the same validation."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=None,
        extra="ignore",
        frozen=True,
        case_sensitive=False,
        env_ignore_empty=True,  # DOCQA_X= means "not set", as it did before
    )
    error_prefix: ClassVar[str] = ENV_PREFIX


class _Explicit(Settings):
    """Settings from an explicit DOCQA_* mapping: errors name the variables."""

    error_prefix: ClassVar[str] = ENV_PREFIX


def _env_source(environ: Mapping[str, str]) -> dict[str, Any]:
    """An explicit mapping (tests, embedding hosts): the DOCQA_* keys it holds, by field name."""
    names = set(Settings.model_fields)
    out: dict[str, Any] = {}
    for key, value in environ.items():
        if value == "":
            continue  # an empty variable is an unset one
        if key.upper().startswith(ENV_PREFIX) and key[len(ENV_PREFIX) :].lower() in names:
            out[key[len(ENV_PREFIX) :].lower()] = value
    return out


def _validated(build: Any, prefix: str) -> Settings:
    try:
        return build()  # type: ignore[no-any-return]
    except ValidationError as exc:
        raise _invalid(exc, prefix) from None


def _invalid(exc: ValidationError, prefix: str) -> InvalidInput:
    """One message naming every bad setting: `DOCQA_PORT='x': Input should be a valid integer`."""
    problems, names = [], []
    for error in exc.errors():
        name = ".".join(str(p) for p in error["loc"]) or "settings"
        shown = f"{prefix}{name.upper()}" if prefix else name
        names.append(shown)
        value = error.get("input")
        problems.append(f"{shown}: {error['msg']}" if isinstance(value, dict) else f"{shown}={value!r}: {error['msg']}")
    return InvalidInput("invalid setting: " + "; ".join(problems), settings=names)
