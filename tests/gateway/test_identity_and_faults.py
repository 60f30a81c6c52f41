"""The gateway's own duties: tokens, identity headers, limits, and failing services."""

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from gateway.app import create_app
from gateway.settings import GatewaySettings
from tests.support import TEST_AUTH, auth_header


class RecordingService:
    """Stands in for a service: records what reached it."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, json={"ok": True, "path": request.url.path})


def gateway_with(transport: httpx.AsyncBaseTransport, **settings: object) -> httpx.AsyncClient:
    app = create_app(
        GatewaySettings(**settings),  # type: ignore[arg-type]
        TEST_AUTH,
        transports={name: transport for name in ("assessment", "training", "reporting")},
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")


async def test_bad_token_is_refused_before_any_service_is_called() -> None:
    service = RecordingService()
    async with gateway_with(httpx.MockTransport(service)) as client:
        response = await client.get(
            "/v1/factories", headers={"authorization": "Bearer forged.token.value"}
        )
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert service.requests == []


async def test_client_identity_headers_are_replaced_by_verified_ones() -> None:
    service = RecordingService()
    async with gateway_with(httpx.MockTransport(service)) as client:
        await client.get(
            "/v1/factories",
            headers={**auth_header("brand", brand_id="brd_1"), "x-bw-role": "admin"},
        )
        await client.get("/v1/factories", headers={"x-bw-role": "admin", "x-bw-subject": "root"})
    with_token, anonymous = service.requests
    assert with_token.headers.get_list("x-bw-role") == ["brand"]
    assert "x-bw-role" not in anonymous.headers and "x-bw-subject" not in anonymous.headers


async def test_rate_limit_gives_429_with_retry_after() -> None:
    service = RecordingService()
    async with gateway_with(
        httpx.MockTransport(service), rate_limit_per_minute=60, rate_limit_burst=3
    ) as client:
        statuses = [(await client.get("/v1/reports/freshness")).status_code for _ in range(5)]
        last = await client.get("/v1/reports/freshness")
    assert statuses[:3] == [200, 200, 200]
    assert statuses[3:] == [429, 429]
    assert last.status_code == 429 and int(last.headers["retry-after"]) >= 1
    assert last.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (httpx.ConnectError("connection refused"), 503),
        (httpx.ReadTimeout("too slow"), 504),
    ],
)
async def test_unreachable_or_slow_service_gives_problem(error: Exception, status: int) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise error

    async with gateway_with(httpx.MockTransport(fail)) as client:
        response = await client.get("/v1/courses", headers=auth_header("staff"))
    assert response.status_code == status
    body = response.json()
    assert body["status"] == status and body["service"] == "training"
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_openapi_survives_a_service_being_down() -> None:
    def only_assessment(request: httpx.Request) -> httpx.Response:
        if request.url.host == "127.0.0.1" and request.url.port == 8001:
            document = {"openapi": "3.1.0", "paths": {"/v1/factories": {"get": {}}}}
            return httpx.Response(200, content=json.dumps(document))
        raise httpx.ConnectError("down")

    async with gateway_with(httpx.MockTransport(only_assessment)) as client:
        document = (await client.get("/openapi.json")).json()
    assert "/v1/factories" in document["paths"]
    assert document["info"]["x-unavailable-services"] == ["reporting", "training"]


async def test_dead_service_opens_the_circuit_and_is_not_called_again() -> None:
    calls: list[str] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        raise httpx.ConnectError("refused")

    async with gateway_with(
        httpx.MockTransport(refuse),
        retries=1,
        retry_backoff_seconds=0,
        breaker_failure_threshold=3,
        breaker_reset_seconds=60,
    ) as client:
        statuses = [
            (await client.get("/v1/courses", headers=auth_header("staff"))).status_code
            for _ in range(6)
        ]
        refused = await client.get("/v1/courses", headers=auth_header("staff"))
    assert statuses == [503] * 6
    assert len(calls) == 3 * 2  # three failures, each tried twice, then the circuit is open
    assert int(refused.headers["retry-after"]) > 1


async def test_a_request_with_a_body_is_never_retried() -> None:
    calls: list[str] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        raise httpx.ConnectError("refused")

    async with gateway_with(
        httpx.MockTransport(refuse), retries=3, retry_backoff_seconds=0
    ) as client:
        response = await client.post(
            "/v1/courses", json={"code": "SST"}, headers=auth_header("staff")
        )
    assert response.status_code == 503
    assert calls == ["POST"]


async def test_a_connection_blip_is_retried_for_reads() -> None:
    attempts: list[int] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        attempts.append(1)
        if len(attempts) == 1:
            raise httpx.ConnectError("blip")
        return httpx.Response(200, json={"items": []})

    async with gateway_with(
        httpx.MockTransport(flaky), retries=1, retry_backoff_seconds=0
    ) as client:
        response = await client.get("/v1/courses", headers=auth_header("staff"))
    assert response.status_code == 200 and len(attempts) == 2


def test_circuit_half_opens_after_the_reset_time() -> None:
    from gateway.resilience import CircuitBreaker, CircuitState

    breaker = CircuitBreaker(failure_threshold=2, reset_seconds=10)
    breaker.record_failure(now=0)
    breaker.record_failure(now=1)
    assert breaker.state(now=2) is CircuitState.OPEN and breaker.allow(now=2) > 0
    assert breaker.allow(now=11.5) == 0  # the one trial request
    assert breaker.allow(now=11.6) > 0  # others wait for the trial's outcome
    breaker.record_failure(now=12)
    assert breaker.state(now=13) is CircuitState.OPEN
    assert breaker.allow(now=22.5) == 0
    breaker.record_success()
    assert breaker.state() is CircuitState.CLOSED


def test_route_timeouts_pick_the_longest_matching_prefix() -> None:
    settings = GatewaySettings(
        read_timeout_seconds=5, route_timeouts={"/v1/reports": 60, "/v1/reports/annual": 120}
    )
    assert settings.timeout_for("/v1/reports/annual/2024") == 120
    assert settings.timeout_for("/v1/reports/freshness") == 60
    assert settings.timeout_for("/v1/factories") == 5


async def test_cors_allows_only_configured_origins() -> None:
    service = RecordingService()
    async with gateway_with(
        httpx.MockTransport(service), cors_origins=["https://portal.betterwork.example"]
    ) as client:
        preflight = {
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization,content-type",
        }
        allowed = await client.options(
            "/v1/factories", headers={"origin": "https://portal.betterwork.example", **preflight}
        )
        refused = await client.options(
            "/v1/factories", headers={"origin": "https://evil.example", **preflight}
        )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://portal.betterwork.example"
    assert "access-control-allow-origin" not in refused.headers


async def test_an_oversized_chunked_body_is_413_at_the_gateway() -> None:
    """No Content-Length, so the limit trips while the body streams on to the service: the
    gateway answers 413, not the 500 of a proxy that lost its body mid-way."""
    seen: list[int] = []

    async def reads_the_body(request: httpx.Request) -> httpx.Response:
        seen.append(len(await request.aread()))
        return httpx.Response(201, json={"id": "never"})

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(6):
            yield b" " * (1024 * 1024)

    async with gateway_with(httpx.MockTransport(reads_the_body)) as client:
        response = await client.post(
            "/v1/factories",
            content=chunks(),
            headers={**auth_header("admin"), "content-type": "application/json"},
        )
    assert response.status_code == 413, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert seen == []  # the service never got a whole body to act on
