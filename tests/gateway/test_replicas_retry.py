"""Retries among replicas, deterministically (issue 12): a kept-alive connection the replica
closes as the next request crosses it, a dead port among the replicas in either order, every
replica but one dead. The chaos test meets these by chance; here each is made to happen."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, Self

import httpx
import pytest

from gateway.app import create_app
from gateway.replicas import Upstream
from gateway.settings import GatewaySettings
from gateway.upstream_http import Http1Transport, StaleConnectionError
from tests.e2e.conftest import free_port
from tests.support import TEST_AUTH, auth_header

STAFF = auth_header("staff")

ANSWER = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 17\r\n\r\n"
    b'{"served_by":"a"}'
)


class OneRequestPerConnection:
    """A replica that answers the first request on a connection with keep-alive, then closes
    the connection when the next request arrives, unanswered: the race of uvicorn's idle close
    (or a killed process) with a request on a pooled connection, every time.
    ``always_close`` closes before answering even the first (a replica that is truly broken)."""

    def __init__(self, *, always_close: bool = False) -> None:
        self.always_close = always_close
        self.connections = 0
        self.answered = 0
        self.dropped = 0
        self.server: asyncio.Server | None = None
        self.url = ""

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    async def _read_request(self, reader: asyncio.StreamReader) -> bool:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return False
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length" and int(value) > 0:
                await reader.readexactly(int(value))
        return True

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self._converse(reader, writer)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if await self._read_request(reader):
            if self.always_close:
                self.dropped += 1
                return
            writer.write(ANSWER)
            await writer.drain()
            self.answered += 1
        if await self._read_request(reader):
            self.dropped += 1  # the second request on this connection: closed, unanswered

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()


def gateway(urls: list[str], **settings: Any) -> tuple[httpx.AsyncClient, Upstream]:
    """A gateway over these training replicas (no background health checks: only requests
    move replicas in and out here), and its training upstream to look into."""
    chosen: dict[str, Any] = {
        "retry_backoff_seconds": 0,
        "health_check_interval_seconds": 0,
        # Dead ports refuse at once; a loaded CI machine may take seconds to accept.
        "connect_timeout_seconds": 10.0,
        "rate_limit_per_minute": 100_000,
        "rate_limit_burst": 100_000,
        **settings,
    }
    app = create_app(GatewaySettings(training_url=",".join(urls), **chosen), TEST_AUTH)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")
    return client, app.state.upstreams["training"]


@pytest.fixture
async def forgetful() -> AsyncIterator[OneRequestPerConnection]:
    async with OneRequestPerConnection() as server:
        yield server


async def test_a_read_on_a_connection_closed_under_it_goes_again_on_a_new_one(
    forgetful: OneRequestPerConnection,
) -> None:
    transport = Http1Transport()
    async with httpx.AsyncClient(transport=transport, base_url=forgetful.url) as client:
        answers = [(await client.get("/v1/courses")).status_code for _ in range(3)]
    assert answers == [200, 200, 200]
    # The 2nd and 3rd each met a closed pooled connection and went on a new one.
    assert (forgetful.connections, forgetful.dropped, forgetful.answered) == (3, 2, 3)


async def test_a_plain_write_on_a_closed_connection_is_not_sent_twice(
    forgetful: OneRequestPerConnection,
) -> None:
    transport = Http1Transport()
    async with httpx.AsyncClient(transport=transport, base_url=forgetful.url) as client:
        first = await client.post("/v1/courses", content=b"{}")
        with pytest.raises(StaleConnectionError):
            await client.post("/v1/courses", content=b"{}")
        keyed = httpx.Request(
            "POST", forgetful.url + "/v1/courses", content=b"{}", extensions={"replay": True}
        )
        await client.get("/v1/courses")  # leaves a kept-alive connection in the pool
        replayed = await transport.handle_async_request(keyed)
    assert first.status_code == 200 and replayed.status_code == 200
    # The refused write died on the first (reused) connection; the GET opened a second, the
    # keyed write met it closed and went on a third.
    assert (forgetful.connections, forgetful.dropped) == (3, 2)


async def test_a_new_connection_closed_unanswered_is_a_failure_not_retried_forever() -> None:
    async with OneRequestPerConnection(always_close=True) as broken:
        transport = Http1Transport()
        async with httpx.AsyncClient(transport=transport, base_url=broken.url) as client:
            with pytest.raises(httpx.RemoteProtocolError) as raised:
                await client.get("/v1/courses")
    assert not isinstance(raised.value, StaleConnectionError)
    assert broken.connections == 1


@pytest.mark.parametrize("dead_first", [True, False], ids=["dead-first", "dead-last"])
async def test_a_closed_kept_alive_connection_and_a_dead_port_lose_no_read(
    forgetful: OneRequestPerConnection, dead_first: bool
) -> None:
    """Before: the request met the closed pooled connection on the live replica, its one retry
    went to the dead port (not yet ejected) and the gateway answered 503."""
    dead = f"http://127.0.0.1:{free_port()}"
    urls = [dead, forgetful.url] if dead_first else [forgetful.url, dead]
    client, upstream = gateway(urls)
    async with client:
        statuses = [(await client.get("/v1/courses", headers=STAFF)).status_code for _ in range(8)]
    assert statuses == [200] * 8
    live = next(r for r in upstream.replicas if str(r.base_url) == forgetful.url)
    gone = next(r for r in upstream.replicas if str(r.base_url) == dead)
    assert live.healthy and live.breaker.failures == 0  # closed connections are not its fault
    assert not gone.healthy  # the refused connection ejected it at once
    assert forgetful.dropped >= 6  # the pooled connection was really met closed


async def test_with_every_replica_but_one_dead_a_read_still_succeeds(
    forgetful: OneRequestPerConnection,
) -> None:
    dead = [f"http://127.0.0.1:{free_port()}" for _ in range(3)]
    for position in range(4):
        urls = [*dead[:position], forgetful.url, *dead[position:]]
        client, _ = gateway(urls)
        async with client:
            response = await client.get("/v1/courses", headers=STAFF)
        assert response.status_code == 200, (position, response.text)


async def test_a_plain_write_on_a_closed_pooled_connection_is_a_503_not_held_against_the_replica(
    forgetful: OneRequestPerConnection,
) -> None:
    client, upstream = gateway([forgetful.url])
    async with client:
        first = await client.post("/v1/courses", json={}, headers=STAFF)
        second = await client.post("/v1/courses", json={}, headers=STAFF)
        read = await client.get("/v1/courses", headers=STAFF)  # pools a connection again
        keyed = await client.post(
            "/v1/courses", json={}, headers={**STAFF, "Idempotency-Key": "k-1"}
        )
    statuses = (first.status_code, second.status_code, read.status_code, keyed.status_code)
    assert statuses == (200, 503, 200, 200)
    assert second.headers["content-type"] == "application/problem+json"
    # The plain write went out once, never resent; the keyed one met the pooled connection
    # closed too and went again on a new one.
    assert forgetful.dropped == 2 and forgetful.connections == 3
    assert upstream.replicas[0].breaker.failures == 0


class CutOff(OneRequestPerConnection):
    """A replica killed mid-answer: it sends the head and part of the body, then closes (or,
    ``stalls``, sends nothing more until the gateway hangs up)."""

    def __init__(self, *, stalls: bool = False, sent: bytes = ANSWER[:-6]) -> None:
        super().__init__()
        self.stalls = stalls
        self.sent = sent  # what it sends before it stops: nothing at all for a silent one

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if await self._read_request(reader):
            writer.write(self.sent)
            await writer.drain()
            self.dropped += 1
            if self.stalls:  # until the gateway gives up and closes the connection
                with contextlib.suppress(TimeoutError, ConnectionError):
                    await asyncio.wait_for(reader.read(), 60)


def assert_gateway_problem(response: httpx.Response, status: int, path: str) -> dict[str, Any]:
    """The gateway's own problem: its status, where it happened, which service, the request id."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert (problem["status"], problem["instance"], problem["service"]) == (
        status,
        path,
        "training",
    )
    assert "The training service" in problem["detail"]
    assert problem["request_id"] == response.headers["x-request-id"]
    return problem


@pytest.fixture
async def cut_off() -> AsyncIterator[CutOff]:
    async with CutOff() as server:
        yield server


@pytest.mark.parametrize("cut_first", [True, False], ids=["cut-first", "cut-last"])
async def test_an_answer_cut_off_mid_body_sends_a_read_again_on_another_replica(
    forgetful: OneRequestPerConnection, cut_off: CutOff, cut_first: bool
) -> None:
    """Before: the body was read after the retry loop, so the broken read became a 500."""
    urls = [cut_off.url, forgetful.url] if cut_first else [forgetful.url, cut_off.url]
    client, upstream = gateway(urls)
    async with client:
        answers = [await client.get("/v1/courses", headers=STAFF) for _ in range(4)]
    assert [a.status_code for a in answers] == [200] * 4
    assert all(a.json() == {"served_by": "a"} for a in answers)
    assert cut_off.dropped >= 1  # the broken replica was really asked
    broken = next(r for r in upstream.replicas if str(r.base_url) == cut_off.url)
    assert broken.breaker.failures >= 1
    assert all(r.outstanding == 0 for r in upstream.replicas)  # every slot given back


async def test_a_plain_write_whose_answer_is_cut_off_is_a_502_that_says_it_may_have_applied(
    cut_off: CutOff,
) -> None:
    client, upstream = gateway([cut_off.url])
    async with client:
        response = await client.post("/v1/courses", json={}, headers=STAFF)
        keyed = await client.post(
            "/v1/courses", json={}, headers={**STAFF, "Idempotency-Key": "k-2"}
        )
    assert "may have been applied" in assert_gateway_problem(response, 502, "/v1/courses")["detail"]
    assert cut_off.dropped == 1 + 2  # the plain write once; the keyed one twice (1 + retries)
    assert_gateway_problem(keyed, 503, "/v1/courses")
    assert "retry-after" in keyed.headers
    replica = upstream.replicas[0]
    assert replica.outstanding == 0
    assert replica.breaker.failures == 2  # one per request, however many attempts it took


async def test_an_answer_that_stalls_mid_body_is_a_504_and_frees_the_replica() -> None:
    async with CutOff(stalls=True) as stalled:
        client, upstream = gateway([stalled.url], read_timeout_seconds=0.3)
        async with client:
            response = await client.get("/v1/courses", headers=STAFF)
    assert (
        "did not answer in time" in assert_gateway_problem(response, 504, "/v1/courses")["detail"]
    )
    assert stalled.dropped == 1  # a timeout is not sent again: the replica may just be slow
    assert upstream.replicas[0].outstanding == 0
    assert upstream.replicas[0].breaker.failures == 1


async def test_a_replica_that_never_sends_its_head_is_a_504_not_sent_again() -> None:
    async with CutOff(stalls=True, sent=b"") as silent:
        client, upstream = gateway([silent.url], read_timeout_seconds=0.3)
        async with client:
            response = await client.get("/v1/courses", headers=STAFF)
    assert_gateway_problem(response, 504, "/v1/courses")
    assert silent.dropped == 1
    assert (upstream.replicas[0].outstanding, upstream.replicas[0].breaker.failures) == (0, 1)


async def test_a_service_whose_every_replica_is_down_answers_503_with_retry_after() -> None:
    """Each read tries the one dead replica twice and counts one failure; at the threshold its
    circuit opens, and the next read is answered at once, told when to come back."""
    client, upstream = gateway(
        [f"http://127.0.0.1:{free_port()}"], breaker_failure_threshold=2, breaker_reset_seconds=30
    )
    replica = upstream.replicas[0]
    async with client:
        tried, counted = [], []
        for _ in range(2):
            tried.append(await client.get("/v1/courses", headers=STAFF))
            counted.append(replica.breaker.failures)
        assert counted == [1, 2]  # one per request, not one per attempt
        refused = await client.get("/v1/courses", headers=STAFF)
    for response in [*tried, refused]:
        assert_gateway_problem(response, 503, "/v1/courses")
    assert 1 <= int(tried[0].headers["retry-after"]) <= 30
    assert 25 <= int(refused.headers["retry-after"]) <= 30  # the circuit's time left
    assert replica.breaker.failures == 2  # the refused read never reached the replica
