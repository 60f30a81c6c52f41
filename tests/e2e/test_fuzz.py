"""Schemathesis against the running platform: every operation of the gateway's merged document
and of each service's own document, with a bounded number of generated requests each. No
request may cause a 5xx, and every response must match the documented schema."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bw.runner import Platform
from tests.e2e.conftest import SERVICES, platform_env, start_platform
from tests.support import TEST_DATABASE_URL, drop_schema, token

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
    env = platform_env(tmp_path_factory.mktemp("fuzz") / "var", "fuzz")
    env["GATEWAY_RATE_LIMIT_PER_MINUTE"] = "1000000"
    env["GATEWAY_RATE_LIMIT_BURST"] = "100000"
    for command in (["migrate"], ["seed", "demo"]):
        subprocess.run(
            [sys.executable, "-m", "bw.main", *command], env=env, check=True, capture_output=True
        )
    platform = start_platform(env)
    try:
        yield platform
    finally:
        platform.stop()
        if TEST_DATABASE_URL:
            import asyncio

            for service in SERVICES:
                asyncio.run(drop_schema(TEST_DATABASE_URL, env[f"{service.upper()}_DB_SCHEMA"]))


def _schema(platform: Platform, name: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{platform.url(name)}/openapi.json")


@pytest.fixture(scope="module")
def gateway_schema(running: Platform) -> schemathesis.BaseSchema:
    return _schema(running, "gateway")


@pytest.fixture(scope="module")
def assessment_schema(running: Platform) -> schemathesis.BaseSchema:
    return _schema(running, "assessment")


@pytest.fixture(scope="module")
def training_schema(running: Platform) -> schemathesis.BaseSchema:
    return _schema(running, "training")


@pytest.fixture(scope="module")
def reporting_schema(running: Platform) -> schemathesis.BaseSchema:
    return _schema(running, "reporting")


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


def fuzz(schema: schemathesis.BaseSchema) -> None:
    """Every operation gets its bounded examples; failures are gathered, then reported."""
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the document lists no operations"
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


@pytest.mark.parametrize("document", ["gateway", *SERVICES])
def test_no_5xx_and_responses_match_their_schema(running: Platform, document: str) -> None:
    fuzz(schemathesis.openapi.from_url(f"{running.url(document)}/openapi.json"))
