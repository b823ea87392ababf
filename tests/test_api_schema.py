"""Property-based HTTP testing with schemathesis against the app's own OpenAPI schema.

Every operation gets generated valid and invalid requests (with the API key
configured and presented, so write routes are exercised too). The checks: no
5xx, status codes, content types, headers and bodies all as documented.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, checks
from schemathesis.config import SchemathesisConfig

from tests.helpers import TOPICS
from tests.test_api_support import fast, index_doc, running

API_KEY = "schema-test-key"
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
]

# Invalid input must be refused with a documented 4xx; an oversized generated body is refused with 413.
CONFIG = SchemathesisConfig.from_dict(
    {"checks": {"negative_data_rejection": {"expected-statuses": [400, 401, 404, 405, 413, 415, 422]}}}
)


@pytest.fixture
def api_schema(settings):
    """The app, started (its lifespan opened and synced the store), seeded, and its own OpenAPI schema."""
    with running(fast(settings, api_key=API_KEY, max_upload_bytes=100_000)) as client:
        headers = {"X-API-Key": API_KEY}
        for i in range(3):
            index_doc(
                client, f"doc-{i}", TOPICS[i * 3 : (i + 1) * 3], metadata={"patient_id": f"p{i}"}, headers=headers
            )
        yield schemathesis.openapi.from_asgi("/openapi.json", client.app, config=CONFIG)


def operations(schema) -> list:
    return [result.ok() for result in schema.get_all_operations()]


def checks_for(operation) -> list:
    # On the wire every multipart field is a string: a "negative" 37 or true for a text field is the
    # text "37" / "true", valid input. Rejection of bad upload fields is tested in test_api_upload.py
    # (and for the multipart POST /api/v1/jobs, in test_api_jobs.py).
    if operation.path.endswith("/upload") or (operation.path == "/api/v1/jobs" and operation.method.upper() == "POST"):
        return [c for c in CHECKS if c is not checks.negative_data_rejection]
    return CHECKS


def examples_for(operation) -> int:
    """Budget: the whole module runs in ~12 s on 2 cores (both databases, both modes); a 400-example
    run of every operation is the way to hunt rarer cases (it found the booleans read as numbers)."""
    if operation.method.upper() == "POST" and operation.path == "/api/v1/index/":
        return 12  # nested chunks with free-form metadata: each example is expensive to generate
    return 30


def run_operation(operation, mode: GenerationMode, max_examples: int) -> None:
    selected = checks_for(operation)

    @given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis_settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def check(case) -> None:
        case.call_and_validate(headers={"X-API-Key": API_KEY}, checks=selected)

    check()


# schemathesis' own pytest plugin (`from_fixture`) does not run under pytest 9, so the
# operations are driven through hypothesis directly: same strategies, same checks.
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_no_server_error_and_every_response_matches_the_schema(api_schema, mode):
    ops = operations(api_schema)
    assert len(ops) >= 11
    for operation in ops:
        try:
            run_operation(operation, mode, max_examples=examples_for(operation))
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # an operation without parameters has no invalid input
        except Exception as exc:
            raise AssertionError(f"{operation.method.upper()} {operation.path} ({mode.value}): {exc}") from exc
