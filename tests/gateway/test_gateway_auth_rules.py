"""The gateway's own checks of who calls, pinned where a mutation run found them loose (issue
15): which bucket each caller is charged to, what a refused caller is told, what identity and
headers reach the service, and that only HTTP requests for a routed path take the proxy path."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

import services.common.auth as auth
from gateway.app import create_app
from gateway.docs import ASSETS_URL
from gateway.ratelimit import Limiter
from gateway.settings import GatewaySettings
from services.common.problems import PROBLEM_TYPE_BASE, Problem
from tests.support import TEST_AUTH, auth_header, token

SERVICES = ("assessment", "training", "reporting")


class RecordingService:
    """Stands in for every service: records what reached it."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, json={"items": []})


class RecordingLimiter:
    """Lets everyone through and remembers which bucket each request was charged to."""

    def __init__(self) -> None:
        self.callers: list[str] = []

    async def take(self, caller: str) -> float:
        self.callers.append(caller)
        return 0.0

    async def aclose(self) -> None:
        return None


def gateway(
    handler: Any,
    limiter: Limiter | None = None,
    client: tuple[str, int] | None = ("127.0.0.1", 123),
    **settings: Any,
) -> httpx.AsyncClient:
    app = create_app(
        GatewaySettings(**settings),
        TEST_AUTH,
        transports={name: httpx.MockTransport(handler) for name in SERVICES},
    )
    if limiter is not None:
        app.state.limiter = limiter
    transport = httpx.ASGITransport(app=app, client=client)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url="http://gateway")


def kind(slug: str) -> str:
    return PROBLEM_TYPE_BASE + slug


async def test_unknown_tokens_cost_the_address_and_a_verified_one_its_subject_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(auth, "_VERIFIED", {})  # alice's token unknown, whoever ran before
    limiter = RecordingLimiter()
    alice = auth_header("staff", subject="alice")
    async with gateway(RecordingService(), limiter) as client:
        await client.get("/v1/courses")
        anonymous = list(limiter.callers)
        await client.get("/v1/courses", headers=alice)
        first = limiter.callers[len(anonymous) :]
        await client.get("/v1/courses", headers=alice)
        known = limiter.callers[len(anonymous) + len(first) :]
    assert anonymous == ["ip:127.0.0.1"]
    assert first == ["ip:127.0.0.1", "sub:alice"]  # not yet verified: the address pays too
    assert known == ["sub:alice"]


async def test_each_verified_subject_has_a_bucket_of_its_own() -> None:
    """Two callers at one address: the second keeps its own burst after the first spent his."""
    alice = auth_header("staff", subject="alice")
    bob = auth_header("admin", subject="bob")
    async with gateway(RecordingService(), rate_limit_per_minute=60, rate_limit_burst=3) as c:
        alices = [(await c.get("/v1/courses", headers=alice)).status_code for _ in range(4)]
        bobs = [(await c.get("/v1/courses", headers=bob)).status_code for _ in range(2)]
    assert alices == [200, 200, 200, 429]
    assert bobs == [200, 200]  # the address has paid twice of three; bob's bucket is fresh


async def test_a_request_without_a_peer_address_is_charged_to_unknown_and_still_served() -> None:
    """A server on a Unix socket gives no client address: one shared bucket, no crash, and
    an empty X-Forwarded-For rather than a made-up one."""
    limiter = RecordingLimiter()
    service = RecordingService()
    async with gateway(service, limiter, client=None) as client:
        response = await client.get("/v1/courses")
    assert response.status_code == 200, response.text
    assert limiter.callers == ["ip:unknown"]
    assert service.requests[0].headers.get_list("x-forwarded-for") == [""]


async def test_a_refused_token_is_a_full_problem_naming_the_request() -> None:
    service = RecordingService()
    async with gateway(service) as client:
        response = await client.get(
            "/v1/factories", headers={"authorization": "Bearer forged.token.value"}
        )
    body = response.json()
    assert response.status_code == 401 and service.requests == []
    assert body["type"] == kind("unauthorized") and body["title"] == "Unauthorized"
    assert body["detail"].startswith("The token is not valid: ")
    assert body["instance"] == "/v1/factories"
    assert body["request_id"] == response.headers["x-request-id"]
    assert response.headers["www-authenticate"].startswith('Bearer realm="betterwork"')


async def test_a_limited_caller_is_told_why_and_when_to_come_back() -> None:
    async with gateway(RecordingService(), rate_limit_per_minute=60, rate_limit_burst=1) as c:
        await c.get("/v1/courses")
        response = await c.get("/v1/courses")
    body = response.json()
    assert response.status_code == 429
    assert body["type"] == kind("too-many-requests") and body["instance"] == "/v1/courses"
    assert body["detail"] == "Too many requests; slow down."
    assert response.headers["retry-after"] == "1"


class RaisingLimiter(RecordingLimiter):
    async def take(self, caller: str) -> float:
        raise Problem(
            400,
            "Those filters contradict each other.",
            kind="invalid-filter",
            title="Filters in conflict",
            headers={"x-hint": "drop one"},
            conflicting=["since", "until"],
        )


async def test_a_problem_raised_under_the_dispatch_is_answered_as_raised() -> None:
    """Type, title, headers and extra fields all reach the client, whatever layer raised it."""
    async with gateway(RecordingService(), RaisingLimiter()) as client:
        response = await client.get("/v1/courses")
    assert response.status_code == 400
    assert response.json() == {
        "type": kind("invalid-filter"),
        "title": "Filters in conflict",
        "status": 400,
        "detail": "Those filters contradict each other.",
        "instance": "/v1/courses",
        "request_id": response.headers["x-request-id"],
        "conflicting": ["since", "until"],
    }
    assert response.headers["x-hint"] == "drop one"


async def test_a_body_over_the_limit_met_while_streaming_is_a_413_naming_the_limit() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b" " * 1024

    async with gateway(RecordingService(), max_body_bytes=2048) as client:
        response = await client.post(
            "/v1/factories", content=chunks(), headers=auth_header("admin")
        )
    body = response.json()
    assert response.status_code == 413, response.text
    assert body["detail"] == "The request body exceeds the limit of 2048 bytes."
    assert body["instance"] == "/v1/factories"


async def test_an_unexpected_failure_is_a_500_problem_and_is_logged_with_its_path(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("a bug in the gateway's path")

    with caplog.at_level(logging.ERROR, logger="bw.gateway"):
        async with gateway(broken) as client:
            response = await client.get("/v1/courses", headers=auth_header("staff"))
    body = response.json()
    assert response.status_code == 500
    assert body["type"] == kind("internal-server-error") and body["status"] == 500
    assert body["detail"] == "The gateway failed; it has been logged."
    assert body["instance"] == "/v1/courses"
    [record] = [r for r in caplog.records if r.name == "bw.gateway"]
    assert record.getMessage() == "proxy error"
    assert record.path == "/v1/courses"  # type: ignore[attr-defined]
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError


async def test_the_service_gets_the_verified_identity_and_the_callers_own_headers() -> None:
    service = RecordingService()
    sent = {
        **auth_header("staff", subject="alice"),
        "accept-language": "fr",
        "if-match": '"v1"',
        "x-bw-subject": "root",
        "proxy-authorization": "Basic c2VjcmV0",
    }
    async with gateway(service) as client:
        response = await client.get("/v1/courses", headers=sent)
    [forwarded] = service.requests
    headers = forwarded.headers
    assert headers.get_list("x-bw-subject") == ["alice"]
    assert headers.get_list("x-bw-role") == ["staff"]
    # The service verifies the same token again, and sees what the caller asked for.
    assert headers["authorization"] == sent["authorization"]
    assert headers["accept-language"] == "fr" and headers["if-match"] == '"v1"'
    assert "proxy-authorization" not in headers  # meant for the gateway, not beyond it
    assert headers.get_list("x-request-id") == [response.headers["x-request-id"]]
    assert headers.get_list("x-forwarded-for") == ["127.0.0.1"]


async def test_a_read_goes_on_without_a_body_or_framing_of_one() -> None:
    service = RecordingService()
    async with gateway(service) as client:
        await client.get("/v1/courses", headers=auth_header("staff"))
    [forwarded] = service.requests
    assert "content-length" not in forwarded.headers
    assert "transfer-encoding" not in forwarded.headers
    assert forwarded.content == b""


async def test_the_route_read_timeout_goes_with_the_request() -> None:
    service = RecordingService()
    async with gateway(service, read_timeout_seconds=7, route_timeouts={"/v1/reports": 90}) as c:
        await c.get("/v1/courses")
        await c.get("/v1/reports/freshness")
    reads = [r.extensions["timeout"]["read"] for r in service.requests]
    assert reads == [7, 90]


def failing_first(times: int) -> tuple[list[int], Any]:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) <= times:
            raise httpx.ConnectError("refused")
        return httpx.Response(200, json={"items": []})

    return calls, handler


async def test_the_retry_setting_is_obeyed() -> None:
    calls, handler = failing_first(1)
    async with gateway(handler, retries=0) as client:
        response = await client.get("/v1/courses")
    assert response.status_code == 503 and len(calls) == 1


async def test_the_retry_backoff_setting_spaces_the_attempts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waits: list[float] = []

    async def no_wait(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr("gateway.proxy.asyncio.sleep", no_wait)
    calls, handler = failing_first(2)
    async with gateway(handler, retries=2, retry_backoff_seconds=0.25) as client:
        response = await client.get("/v1/courses")
    assert response.status_code == 200 and len(calls) == 3
    assert waits == [0.25, 0.5]


class Chunks(httpx.AsyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk


async def test_a_large_answer_streams_through_whole() -> None:
    """No Content-Length (a service streaming a big export): the gateway streams it on."""
    chunks = [bytes([n]) * 65536 for n in range(5)]

    def streaming(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Chunks(chunks))

    async with gateway(streaming) as client:
        response = await client.get("/v1/courses")
    assert response.status_code == 200 and response.content == b"".join(chunks)


async def test_the_gateways_own_files_are_served_whole() -> None:
    async with gateway(RecordingService()) as client:
        response = await client.get(f"{ASSETS_URL}/swagger-ui.css")
    assert response.status_code == 200 and len(response.content) > 1000


async def test_a_websocket_to_a_routed_path_is_closed_never_proxied() -> None:
    """Only HTTP takes the proxy path: a websocket is not a request the gateway can vouch for."""
    service = RecordingService()
    app = create_app(
        GatewaySettings(), TEST_AUTH, transports={n: httpx.MockTransport(service) for n in SERVICES}
    )
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "path": "/v1/courses",
        "raw_path": b"/v1/courses",
        "query_string": b"",
        "headers": [(b"host", b"gateway"), (b"authorization", f"Bearer {token('admin')}".encode())],
        "client": ("127.0.0.1", 123),
        "server": ("gateway", 80),
        "subprotocols": [],
    }
    await app(scope, receive, send)
    assert [m["type"] for m in sent] == ["websocket.close"]
    assert service.requests == []
