"""The one health model of the product, decided by a pure function.

States, in the order they are decided:

| state            | meaning                                                        | ready |
|------------------|----------------------------------------------------------------|-------|
| `starting`       | the startup sync has not finished yet                          | no    |
| `degraded`       | the database cannot be reached, or the index could not be proven or repaired (reason says which) | no |
| `warming_up`     | the index is proven; the embedding model is still loading (or failed to and is retried) | no |
| `repairing`      | drift was found and the index is being repaired or rebuilt; searches use the current index | yes |
| `writes_failing` | reads work, writes fail (full disk, read-only database, the primary down while reads go to a standby); reason says why | yes |
| `healthy`        | everything works                                               | yes   |

"Ready" is what a load balancer should route on (`/health/ready` answers 200
only then): a replica that is repairing or cannot write still answers
searches correctly from an index it keeps proving, while one that is
starting, warming up or degraded would make a user wait or fail.
`/health` always answers 200 and says which state, and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class HealthState(StrEnum):
    STARTING = "starting"
    WARMING_UP = "warming_up"
    HEALTHY = "healthy"
    REPAIRING = "repairing"
    WRITES_FAILING = "writes_failing"
    DEGRADED = "degraded"


READY_STATES = frozenset({HealthState.HEALTHY, HealthState.REPAIRING, HealthState.WRITES_FAILING})
# states in which the index can answer (warming up: the first query waits for the model)
SERVING_STATES = READY_STATES | {HealthState.WARMING_UP}


@dataclass(frozen=True)
class Health:
    state: HealthState
    reason: str = ""

    @property
    def ready(self) -> bool:
        return self.state in READY_STATES

    @property
    def serving(self) -> bool:
        return self.state in SERVING_STATES

    @property
    def healthy(self) -> bool:
        return self.state is HealthState.HEALTHY


@dataclass(frozen=True)
class HealthFacts:
    """What the runtime observed; `assess` turns it into a state."""

    opened: bool  # the database was reached and the library opened
    open_error: str = ""
    startup_pending: bool = False  # the startup sync is still running
    index_ready: bool = False  # an index is loaded
    last_sync_status: str | None = None  # the last sync report's status, None before any
    last_sync_reason: str = ""
    repairing: str = ""  # why the engine is repairing or rebuilding right now, "" when it is not
    write_failure: str = ""  # why the last write failed, "" once one succeeds
    embedder_ready: bool = False
    embedder_error: str = ""


def assess(f: HealthFacts) -> Health:
    if not f.opened:
        if f.startup_pending:
            return Health(HealthState.STARTING, "connecting to the database")
        return Health(HealthState.DEGRADED, f.open_error or "database not connected yet")
    if f.last_sync_status is None or not f.index_ready:
        if f.startup_pending:
            return Health(HealthState.STARTING, "startup index sync still running")
        return Health(HealthState.DEGRADED, "index not loaded: no sync has completed yet")
    if f.last_sync_status == "degraded":
        return Health(HealthState.DEGRADED, f.last_sync_reason or "last index sync failed")
    if f.embedder_error:  # retried in the background; queries meanwhile get the model's own error
        return Health(HealthState.WARMING_UP, f"embedding model failed to load, retrying: {f.embedder_error}")
    if not f.embedder_ready:
        return Health(HealthState.WARMING_UP, "loading the embedding model")
    if f.repairing:
        return Health(HealthState.REPAIRING, f.repairing)
    if f.write_failure:
        return Health(HealthState.WRITES_FAILING, f.write_failure)
    return Health(HealthState.HEALTHY)
