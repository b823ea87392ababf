"""Prometheus metrics, one CollectorRegistry per app (tests build many apps).

Counters and histograms are fed by the sync engine's listener hook, the
search routes and the HTTP middleware; gauges describing the index and the
database (vectors, DB rows, change-log lag, health) are read at scrape time so
they are never stale.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from docqa.api.warmup import in_warmup, is_warmup
from docqa.app import HealthState, JobRecord, QueueStats, Runtime
from docqa.app.events import drift_found
from docqa.errors import DocqaError
from docqa.logging import get_logger
from docqa.types import SyncReport

log = get_logger("docqa.api.metrics")

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
KNOWN_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
SYNC_BUCKETS = (0.001, 0.005, 0.025, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class _StateCollector(Collector):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[GaugeMetricFamily]:
        health = self.runtime.health()
        yield _gauge("docqa_healthy", "1 when the service is healthy, 0 otherwise", 1.0 if health.healthy else 0.0)
        yield _gauge("docqa_ready", "1 when a load balancer should route here (see /health/ready)", float(health.ready))
        states = GaugeMetricFamily("docqa_health_state", "1 for the current health state", labels=["state"])
        for state in HealthState:
            states.add_metric([str(state)], 1.0 if state is health.state else 0.0)
        yield states
        library = self.runtime.library
        if library is None:
            return
        index = library.index_state()
        yield _gauge("docqa_index_vectors", "Vectors in the in-memory FAISS index", float(index.vectors))
        yield _gauge("docqa_index_applied_seq", "Last change-log seq applied to the index", float(index.applied_seq))
        yield _gauge(
            "docqa_snapshot_save_failing",
            "1 while the index snapshot cannot be written (e.g. a full disk); see /health index.snapshot_save_error",
            1.0 if index.snapshot_save_error else 0.0,
        )
        try:
            stats = library.stats()
        except DocqaError as exc:  # the database may be down: report what we know
            log.debug("metrics: stats unavailable: %s", exc)
            return
        yield _gauge("docqa_db_rows", "Chunks in the database that belong in the index", float(stats.indexable_chunks))
        yield _gauge("docqa_db_chunks", "All chunk rows of the collection", float(stats.total_chunks))
        yield _gauge("docqa_db_documents", "Document rows of the collection", float(stats.total_documents))
        yield _gauge("docqa_change_log_lag", "Change-log rows not yet applied to the index", float(stats.lag))
        yield _gauge("docqa_db_seq", "Newest change-log seq in the database", float(stats.db_seq))
        yield from _queue_gauges(library.jobs.stats())


def _queue_gauges(queue: QueueStats) -> Iterator[GaugeMetricFamily]:
    """The job queue as the database has it, whichever process runs the workers."""
    jobs = GaugeMetricFamily(
        "docqa_jobs", "Ingest jobs in the database, by status (queue depth: queued)", labels=["status"]
    )
    for status, count in queue.counts.items():
        jobs.add_metric([status], float(count))
    yield jobs
    yield _gauge("docqa_jobs_oldest_queued_seconds", "Age of the oldest queued job", queue.oldest_queued_s)
    yield _gauge("docqa_job_workers_seen", "Worker pools that heartbeated recently", float(len(queue.workers)))
    yield _gauge(
        "docqa_job_worker_slots",
        "Job threads of the worker pools seen (their concurrency)",
        float(sum(int(w["concurrency"]) for w in queue.workers)),
    )


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    g = GaugeMetricFamily(name, doc)
    g.add_metric([], value)
    return g


class JobMetrics:
    """What a process's job workers did: in the service's registry, or a `docqa worker --metrics-port`'s own."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.duration = Histogram(
            "docqa_job_duration_seconds",
            "Ingest job run time (last attempt), by final status, for the jobs this process's workers ran",
            ["status"],
            buckets=SYNC_BUCKETS,
            registry=registry,
        )
        self.finished = Counter(
            "docqa_jobs_finished",
            "Jobs this process's workers ended, by status (failures: failed)",
            ["status"],
            registry=registry,
        )

    def on_job(self, job: JobRecord, status: str, seconds: float) -> None:
        self.finished.labels(status).inc()
        self.duration.labels(status).observe(seconds)


def serve_worker_metrics(port: int, host: str = "127.0.0.1") -> JobMetrics:
    """A standalone worker's /metrics on `port` (its job counters and durations; the queue is on the service's)."""
    from prometheus_client import start_http_server

    registry = CollectorRegistry()
    metrics = JobMetrics(registry)
    start_http_server(port, addr=host, registry=registry)
    return metrics


class Metrics:
    def __init__(self, runtime: Runtime) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.sync_runs = Counter("docqa_sync_runs", "Sync engine runs, by report status", ["status"], registry=r)
        self.sync_duration = Histogram(
            "docqa_sync_duration_seconds", "Sync engine run duration", ["status"], buckets=SYNC_BUCKETS, registry=r
        )
        self.drift_detected = Counter(
            "docqa_drift_detected", "Syncs that found the index differing from the DB", ["action"], registry=r
        )
        self.drift_repaired_ids = Counter(
            "docqa_drift_repaired_ids", "Chunk ids repaired after drift was found", registry=r
        )
        self.search_latency = Histogram(
            "docqa_search_latency_seconds",
            "Search latency including query embedding",
            ["mode"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.http_requests = Counter("docqa_http_requests", "HTTP requests", ["method", "route", "status"], registry=r)
        self.http_latency = Histogram(
            "docqa_http_request_duration_seconds",
            "HTTP request duration",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.jobs = JobMetrics(r)
        r.register(_StateCollector(runtime))
        runtime.add_sync_listener(self.on_sync)
        runtime.add_job_listener(self.jobs.on_job)

    def on_sync(self, report: SyncReport) -> None:
        """Engine listener: every engine run, by its report status."""
        self.sync_runs.labels(report.status).inc()
        self.sync_duration.labels(report.status).observe(report.duration_ms / 1000.0)
        drift = drift_found(report)
        if drift is not None:
            self.drift_detected.labels(drift).inc()
        if drift == "repaired":
            self.drift_repaired_ids.inc(report.repaired)

    def observe_search(self, mode: str, seconds: float) -> None:
        if in_warmup.get():
            return
        self.search_latency.labels(mode).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class HttpMetricsMiddleware:
    """Pure ASGI middleware: counts requests by route template (not raw path) and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if is_warmup(scope.get("headers", ())):
            token = in_warmup.set(True)
            try:
                await self.app(scope, receive, send)
            finally:
                in_warmup.reset(token)
            return
        start = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = _route_template(scope)
            method = scope.get("method", "GET")
            method = method if method in KNOWN_METHODS else "other"  # bounded label values
            self.metrics.http_requests.labels(method, route, str(status["code"])).inc()
            self.metrics.http_latency.labels(method, route).observe(time.perf_counter() - start)


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"
