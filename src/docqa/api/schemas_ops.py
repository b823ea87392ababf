"""Operations bodies: health and stats."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from docqa.api.schemas import SyncReportOut


class StatsResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    total_vectors: int
    total_chunks: int
    indexable_chunks: int
    total_documents: int
    failed_documents: int
    collection: str
    embedding_model: str
    dim: int
    index_type: str
    applied_seq: int
    db_seq: int
    lag: int
    status: str
    reason: str
    last_sync: SyncReportOut | None


class IndexHealth(BaseModel):
    ready: bool
    vectors: int
    applied_seq: int
    index_type: str
    snapshot_save_error: str = Field(
        "",
        description="Why the index snapshot on disk could not be updated (a full disk): searches and writes are "
        "unaffected, a restart catches up from the older snapshot; empty when saves work",
    )


class EmbedderHealth(BaseModel):
    model: str
    ready: bool = Field(description="The model is loaded (lazy models load in the background at startup)")
    error: str = ""


class SyncHistoryOut(BaseModel):
    """Since the service started: the engine's last runs and the drift it found (UTC ISO times, null: never)."""

    syncs: int
    last_sync_at: str | None
    last_verified_at: str | None = Field(description="The last run that proved the index equal to the database")
    last_change_at: str | None
    drift_found: int = Field(description="Syncs that found the index differing from the database")
    drift_repaired_ids: int = Field(description="Chunk ids repaired (or vectors a drift rebuild added and removed)")
    last_drift_at: str | None
    last_drift_action: str | None = Field(description="repaired | rebuilt")
    last_drift_cause: str


class HealthResponse(BaseModel):
    status: Literal["starting", "warming_up", "healthy", "repairing", "writes_failing", "degraded"] = Field(
        description="The health state (see docs/http-api.md); `ready` says whether a load balancer should route here"
    )
    reason: str = Field(description="Why the service is not healthy; empty when it is")
    ready: bool = Field(description="healthy, repairing or writes_failing: what /health/ready answers 200 for")
    service: str
    version: str
    uptime_s: float
    database: str
    collection: str
    index: IndexHealth | None
    embedder: EmbedderHealth | None
    last_sync: SyncReportOut | None
    worker: dict[str, Any]
    sync_history: SyncHistoryOut | None = None
    jobs: dict[str, Any] | None = Field(
        default=None,
        description="The ingest job queue: counts by status, oldest_queued_s, workers seen (heartbeats), "
        "and this process's workers (in_process)",
    )
