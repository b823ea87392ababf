"""Settings turned into what the layers below take: the engine's config, the ingest context."""

from __future__ import annotations

from typing import Any

from docqa.config import Settings
from docqa.embedders import Embedder
from docqa.ingest.limits import ParseLimits
from docqa.ingest.pipeline import ChunkingConfig, IngestContext
from docqa.ingest.writer import DocumentWriter
from docqa.sync.engine import EngineConfig


def ingest_context(settings: Settings, writer: DocumentWriter) -> IngestContext:
    s = settings
    limits = ParseLimits(
        max_decompressed_bytes=s.max_decompressed_bytes,
        max_compression_ratio=s.max_compression_ratio,
        ratio_check_min_bytes=s.ratio_check_min_bytes,
        max_archive_members=s.max_archive_members,
        max_text_chars=s.max_text_chars,
        max_html_depth=s.max_html_depth,
    )
    return IngestContext(writer, ChunkingConfig(s.chunk_max_tokens, s.chunk_overlap_tokens), limits)


def engine_config(settings: Settings, embedder: Embedder) -> EngineConfig:
    params: dict[str, Any] = {}
    if settings.index_type == "hnsw":
        params = {
            "m": settings.hnsw_m,
            "ef_construction": settings.hnsw_ef_construction,
            "ef_search": settings.hnsw_ef_search,
        }
    return EngineConfig(
        collection=settings.collection,
        model=embedder.model_id,
        dim=embedder.dim,
        index_root=settings.index_dir,
        index_type=settings.index_type,
        index_params=params,
        batch_rows=settings.sync_batch_size,
        repair_max_fraction=settings.repair_max_fraction,
        snapshot_interval_s=settings.snapshot_interval_s,
    )
