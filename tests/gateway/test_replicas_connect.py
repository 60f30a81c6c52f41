"""Connecting to a replica (issue 12): the connect timeout bounds a replica that never accepts,
and a pooled connection the replica closed is the transport's to resend, not one of the
request's retries."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest

from tests.gateway.test_replicas_retry import (
    STAFF,
    OneRequestPerConnection,
    assert_gateway_problem,
    gateway,
)


@pytest.fixture
def never_accepts() -> Iterator[str]:
    """A port whose listen queue is full: the kernel drops further SYNs, so a connect neither
    succeeds nor is refused (a replica's host that went silent), until the client gives up."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    queued = socket.create_connection(("127.0.0.1", port))  # fills the queue of one
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        queued.close()
        listener.close()


async def test_a_replica_that_never_accepts_is_given_up_after_the_connect_timeout(
    never_accepts: str,
) -> None:
    client, upstream = gateway([never_accepts], connect_timeout_seconds=0.2)
    async with client:
        # Bounded only so that a gateway waiting on the kernel's SYN retries (two minutes)
        # fails here rather than hangs: the setting asks for 0.2 s per attempt.
        response = await asyncio.wait_for(client.get("/v1/courses", headers=STAFF), 60)
    assert_gateway_problem(response, 503, "/v1/courses")
    assert upstream.replicas[0].breaker.failures == 1  # one failed request, two attempts


@pytest.mark.parametrize("keyed", [True, False], ids=["keyed-write", "read"])
async def test_a_closed_pooled_connection_is_resent_even_with_no_retry_left(
    keyed: bool,
) -> None:
    async with OneRequestPerConnection() as forgetful:
        client, upstream = gateway([forgetful.url], retries=0)
        async with client:
            first = await client.get("/v1/courses", headers=STAFF)  # pools a connection
            if keyed:
                headers = {**STAFF, "Idempotency-Key": "k-1"}
                second = await client.post("/v1/courses", json={}, headers=headers)
            else:
                second = await client.get("/v1/courses", headers=STAFF)
    assert (first.status_code, second.status_code) == (200, 200), second.text
    # The second met the pooled connection closed and went on a new one: no attempt spent,
    # nothing held against the replica.
    assert (forgetful.connections, forgetful.dropped, forgetful.answered) == (2, 1, 2)
    assert upstream.replicas[0].breaker.failures == 0
