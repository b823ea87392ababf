"""The one health model: a pure decision from what the runtime observed, and what counts as ready."""

from __future__ import annotations

import pytest

from docqa.app.health import READY_STATES, HealthFacts, HealthState, assess

PROVEN = {"opened": True, "index_ready": True, "last_sync_status": "in_sync", "embedder_ready": True}


@pytest.mark.parametrize(
    ("facts", "state", "reason"),
    [
        ({"opened": False, "startup_pending": True}, HealthState.STARTING, "connecting"),
        ({"opened": False, "open_error": "connection refused"}, HealthState.DEGRADED, "connection refused"),
        ({"opened": True, "startup_pending": True}, HealthState.STARTING, "startup index sync"),
        ({"opened": True}, HealthState.DEGRADED, "no sync has completed"),
        ({**PROVEN, "last_sync_status": "degraded", "last_sync_reason": "db gone"}, HealthState.DEGRADED, "db gone"),
        ({**PROVEN, "repairing": "2 ids differ"}, HealthState.REPAIRING, "2 ids differ"),
        ({**PROVEN, "write_failure": "database or disk is full"}, HealthState.WRITES_FAILING, "disk is full"),
        ({**PROVEN, "embedder_ready": False}, HealthState.WARMING_UP, "loading the embedding model"),
        ({**PROVEN, "embedder_ready": False, "embedder_error": "OSError: x"}, HealthState.WARMING_UP, "OSError"),
        ({**PROVEN, "embedder_ready": False, "repairing": "2 ids differ"}, HealthState.WARMING_UP, "loading"),
        ({**PROVEN, "embedder_ready": False, "write_failure": "disk full"}, HealthState.WARMING_UP, "loading"),
        (PROVEN, HealthState.HEALTHY, ""),
    ],
)
def test_each_observation_maps_to_one_state(facts, state, reason) -> None:
    health = assess(HealthFacts(**facts))
    assert health.state is state
    assert reason in health.reason
    assert health.ready == (state in READY_STATES)


def test_ready_needs_the_model_whatever_else_is_going_on() -> None:
    """A replica repairing drift right after start, with its model still loading, is not ready."""
    for extra in ({"repairing": "x"}, {"write_failure": "y"}, {"embedder_error": "z"}):
        assert not assess(HealthFacts(**{**PROVEN, "embedder_ready": False, **extra})).ready


def test_a_failed_sync_outranks_repairs_and_write_failures() -> None:
    worst = assess(HealthFacts(**{**PROVEN, "last_sync_status": "degraded", "repairing": "x", "write_failure": "y"}))
    assert worst.state is HealthState.DEGRADED


def test_ready_means_the_index_answers_now() -> None:
    """A load balancer routes to healthy, repairing and writes_failing; never to starting, warming_up or degraded."""
    assert {HealthState.HEALTHY, HealthState.REPAIRING, HealthState.WRITES_FAILING} == READY_STATES
    assert not assess(HealthFacts(**{**PROVEN, "embedder_ready": False})).ready
    assert assess(HealthFacts(**{**PROVEN, "embedder_ready": False})).serving  # the first query waits for the model
