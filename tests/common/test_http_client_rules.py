"""The inter-service HTTP client, rule by rule (issue 15): it sends the caller's token, forwards
the request id of the request being served (never overriding one the caller set), keeps the
platform's timeouts and pool size, and talks to the base URL it was given."""

from __future__ import annotations

import httpx

from services.common.http_client import DEFAULT_TIMEOUT, make_client
from services.common.observability import request_id_var


def _echo() -> tuple[httpx.MockTransport, list[httpx.Request]]:
    """A transport that records what it was sent and answers 200."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    return httpx.MockTransport(answer), seen


async def test_the_token_is_sent_as_a_bearer_credential() -> None:
    transport, seen = _echo()
    async with make_client("http://assessment", transport=transport, token="tok-1") as client:
        await client.get("/v1/factories")
    assert seen[0].headers["authorization"] == "Bearer tok-1"
    assert str(seen[0].url) == "http://assessment/v1/factories"


async def test_without_a_token_no_authorization_is_sent() -> None:
    transport, seen = _echo()
    async with make_client("http://assessment", transport=transport) as client:
        await client.get("/x")
    assert "authorization" not in seen[0].headers


async def test_the_request_id_being_served_is_forwarded() -> None:
    transport, seen = _echo()
    token = request_id_var.set("req-77")
    try:
        async with make_client("http://assessment", transport=transport) as client:
            await client.get("/x")
            await client.get("/x", headers={"x-request-id": "chosen-by-caller"})
    finally:
        request_id_var.reset(token)
    assert seen[0].headers["x-request-id"] == "req-77"
    assert seen[1].headers["x-request-id"] == "chosen-by-caller"


async def test_outside_a_request_no_request_id_is_invented() -> None:
    transport, seen = _echo()
    async with make_client("http://assessment", transport=transport) as client:
        await client.get("/x")
    assert "x-request-id" not in seen[0].headers


async def test_timeouts_and_pool_are_the_platforms_unless_given() -> None:
    async with make_client() as client:
        assert client.timeout == DEFAULT_TIMEOUT
        assert (client.timeout.read, client.timeout.connect) == (5.0, 2.0)
        pool = client._transport._pool  # type: ignore[attr-defined]
        # httpcore keeps the limits privately; the pool is what a burst of calls queues on.
        assert (pool._max_connections, pool._max_keepalive_connections) == (100, 20)
    quick = httpx.Timeout(0.5)
    async with make_client(timeout=quick) as client:
        assert client.timeout == quick
