"""Schemathesis against the running platform: every operation of the gateway's merged document,
and every other operation of each service's own document, with a bounded number of generated
requests each (each operation once: see the service test). No request may cause a 5xx, and
every response must match the documented schema."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bw.runner import Platform
from tests.e2e.conftest import SERVICES, bw, migrated_databases, start_platform
from tests.support import token

pytestmark = pytest.mark.processes
EXAMPLES = 12
ADMIN = token("admin", ttl_seconds=3600)
# Generated requests are hostile on purpose; these checks judge the answers.
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
]


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """The demo data on migrated databases copied from the run's template (no `bw migrate`)."""
    with migrated_databases(tmp_path_factory.mktemp("fuzz") / "var", "fuzz") as env:
        env["GATEWAY_RATE_LIMIT_PER_MINUTE"] = "1000000"
        env["GATEWAY_RATE_LIMIT_BURST"] = "100000"
        bw("seed", "demo", env=env)
        platform = start_platform(env)
        try:
            yield platform
        finally:
            platform.stop()


def _schema(platform: Platform, name: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{platform.url(name)}/openapi.json")


@pytest.fixture(scope="module")
def public_paths(running: Platform) -> frozenset[str]:
    """The paths of the gateway's merged document: each is a service's own path item, copied
    whole (gateway/openapi.py), so the gateway's pass fuzzes those operations already."""
    return frozenset(_schema(running, "gateway").raw_schema["paths"])


FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


# The OpenAPI documents do not declare Idempotency-Key and If-Match (middleware and
# dependencies read them), so schemathesis would never send them; generate them here, sane and
# hostile, on every operation. Visible ASCII only: the HTTP client refuses anything else.
_HEADER_TEXT = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=300)
PRECONDITION_HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "Idempotency-Key": st.one_of(st.uuids().map(str), _HEADER_TEXT),
        "If-Match": st.one_of(
            st.just("*"), st.just('W/"0"'), _HEADER_TEXT.map(lambda t: f'"{t}"'), _HEADER_TEXT
        ),
    },
)


def _exercise(case: schemathesis.Case, extra_headers: dict[str, str]) -> None:
    bearer = token("service", ttl_seconds=3600) if case.path.startswith("/internal") else ADMIN
    case.call_and_validate(
        headers={**extra_headers, "Authorization": f"Bearer {bearer}"}, checks=CHECKS, timeout=60
    )


def fuzz(schema: schemathesis.BaseSchema, *, fuzzed_elsewhere: frozenset[str]) -> list[str]:
    """Every operation not fuzzed elsewhere gets its bounded examples; failures are gathered,
    then reported. Returns the labels of the operations fuzzed."""
    failures: list[str] = []
    operations = [
        operation
        for result in schema.get_all_operations()
        if (operation := result.ok()).path not in fuzzed_elsewhere
    ]
    for operation in operations:

        @given(case=operation.as_strategy(), extra_headers=PRECONDITION_HEADERS)
        @FUZZ_SETTINGS
        def run(case: schemathesis.Case, extra_headers: dict[str, str]) -> None:
            _exercise(case, extra_headers)

        try:
            run()
        except Exception as exc:
            failures.append(f"{operation.label}: {exc}"[:2000])
    assert not failures, "\n\n".join(failures)
    return [operation.label for operation in operations]


def test_every_public_operation_through_the_gateway(running: Platform) -> None:
    fuzzed = fuzz(_schema(running, "gateway"), fuzzed_elsewhere=frozenset())
    assert {"GET /v1/factories", "POST /v1/courses", "GET /v1/reports/freshness"} <= set(fuzzed)


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_operation_the_gateway_does_not_publish(
    running: Platform, service: str, public_paths: frozenset[str]
) -> None:
    """A public operation is fuzzed through the gateway, which hands each request to this same
    service; the merged document holds the service's path item verbatim, so derandomized
    generation draws the same cases from it again: a second pass, direct, finds nothing new.
    What only the service serves (health, the internal change feed) is fuzzed here."""
    fuzzed = fuzz(_schema(running, service), fuzzed_elsewhere=public_paths)
    assert {"GET /health/ready", "GET /internal/v1/changes"} <= set(fuzzed)
