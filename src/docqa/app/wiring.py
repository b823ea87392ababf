"""Settings turned into what the layers below take: the engine's config, the ingest context, search and QA."""

from __future__ import annotations

from typing import Any

from docqa.config import Settings
from docqa.embedders import Embedder
from docqa.ingest.limits import ParseLimits
from docqa.ingest.pipeline import ChunkingConfig, IngestContext
from docqa.ingest.writer import DocumentWriter
from docqa.qa.answer import QaConfig
from docqa.search.corpus import HybridParams
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


def hybrid_params(
    settings: Settings, vector: float | None = None, keyword: float | None = None, rrf_k: int | None = None
) -> HybridParams:
    """The fusion of hybrid search: the settings', or this query's overrides."""
    s = settings
    return HybridParams(
        vector_weight=s.hybrid_vector_weight if vector is None else vector,
        keyword_weight=s.hybrid_keyword_weight if keyword is None else keyword,
        rrf_k=s.rrf_k if rrf_k is None else rrf_k,
        score_power=s.hybrid_score_power,
        vector_margin=s.hybrid_vector_margin,
        vector_boost=s.hybrid_vector_boost,
    )


def qa_config(settings: Settings) -> QaConfig:
    s = settings
    return QaConfig(
        min_score=s.qa_min_score,
        hybrid=hybrid_params(s),
        answer_chars=s.qa_answer_chars,
        llm_base_url=s.llm_base_url,
        llm_model=s.llm_model,
        llm_timeout_s=s.llm_timeout_s,
        llm_api_key=s.llm_api_key,
    )
