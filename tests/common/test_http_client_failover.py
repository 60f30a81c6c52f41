"""Inter-service calls spread over a service's replicas (issue 12, scale-out): a replica that
refuses the connection is passed over for any request; one that fails mid-answer is passed over
only for a request that may be sent twice; the replica that answered last is asked first."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from services.common.http_client import ReplicaFailover, make_client, split_urls
from tests.gateway.test_replicas_retry import OneRequestPerConnection

# Replicas differ in host, port and scheme alike.
A, B, C = "http://10.0.0.1:8001", "https://10.0.0.2:8443", "http://10.0.0.3:8003"


def replicas(
    behaviour: dict[str, Callable[[httpx.Request], httpx.Response]],
) -> tuple[httpx.MockTransport, list[str]]:
    """A transport standing for several replicas, each answering (or failing) its own way; it
    records which replica each attempt reached."""
    reached: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        replica = f"{request.url.scheme}://{request.url.host}:{request.url.port}"
        reached.append(replica)
        assert request.headers["host"] == f"{request.url.host}:{request.url.port}"
        return behaviour[replica](request)

    return httpx.MockTransport(handle), reached


def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"path": request.url.path, "body": request.content.decode()})


def refuses(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def dies_mid_answer(request: httpx.Request) -> httpx.Response:
    raise httpx.RemoteProtocolError("server disconnected", request=request)


async def test_a_refused_connection_moves_on_and_the_answering_replica_is_asked_first() -> None:
    transport, reached = replicas({A: refuses, B: ok, C: ok})
    async with make_client(f"{A},{B},{C}", transport=transport) as client:
        first = await client.get("/v1/factories/f1", params={"x": "1"})
        second = await client.get("/v1/factories/f2")
    assert first.status_code == 200
    assert first.json()["path"] == "/v1/factories/f1"
    assert str(first.request.url) == f"{B}/v1/factories/f1?x=1"
    assert second.status_code == 200
    assert reached == [A, B, B]


async def test_a_write_that_never_reached_a_replica_is_sent_to_the_next() -> None:
    transport, reached = replicas({A: refuses, B: ok})
    async with make_client(f"{A},{B}", transport=transport) as client:
        response = await client.post("/v1/things", content=b"payload")
    assert response.json()["body"] == "payload"
    assert reached == [A, B]


async def test_a_write_whose_replica_died_mid_answer_is_not_sent_twice() -> None:
    transport, reached = replicas({A: dies_mid_answer, B: ok})
    async with make_client(f"{A},{B}", transport=transport) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post("/v1/things", content=b"once")
    assert reached == [A]


@pytest.mark.parametrize(
    ("method", "headers"),
    [("GET", {}), ("PUT", {}), ("DELETE", {}), ("POST", {"Idempotency-Key": "k-1"})],
)
async def test_a_repeatable_request_whose_replica_died_mid_answer_goes_to_the_next(
    method: str, headers: dict[str, str]
) -> None:
    transport, reached = replicas({A: dies_mid_answer, B: ok})
    async with make_client(f"{A},{B}", transport=transport) as client:
        response = await client.request(method, "/v1/things", headers=headers)
    assert response.status_code == 200
    assert reached == [A, B]


async def test_when_every_replica_fails_the_last_failure_is_raised() -> None:
    transport, reached = replicas({A: refuses, B: dies_mid_answer})
    async with make_client(f"{A},{B}", transport=transport) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get("/x")
    assert reached == [A, B]
    transport, reached = replicas({A: dies_mid_answer, B: refuses})
    async with make_client(f"{A},{B}", transport=transport) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("/x")
    assert reached == [A, B]


async def test_a_failed_replica_is_not_preferred_and_the_first_is_tried_again_later() -> None:
    answers = {A: refuses, B: ok}
    transport, reached = replicas({A: lambda r: answers[A](r), B: lambda r: answers[B](r)})
    async with make_client(f"{A},{B}", transport=transport) as client:
        await client.get("/1")
        answers[B] = refuses
        answers[A] = ok
        await client.get("/2")
        await client.get("/3")
    assert reached == [A, B, B, A, A]


def fails_first(
    failure: Callable[[httpx.Request], httpx.Response],
) -> Callable[[httpx.Request], httpx.Response]:
    """The first request fails that way (a kept-alive connection closed under it); later ones
    are answered."""
    calls: list[int] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return failure(request) if len(calls) == 1 else ok(request)

    return answer


async def test_with_one_url_a_read_that_lost_its_connection_goes_again_once() -> None:
    transport, reached = replicas({A: fails_first(dies_mid_answer)})
    async with make_client(A, transport=transport) as client:
        response = await client.get("/x")
    assert response.status_code == 200
    assert reached == [A, A]


async def test_with_one_url_a_plain_write_that_lost_its_connection_is_not_sent_again() -> None:
    transport, reached = replicas({A: fails_first(dies_mid_answer)})
    async with make_client(A, transport=transport) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post("/x", json={})
        keyed = await client.post("/x", json={}, headers={"idempotency-key": "k"})
    assert keyed.status_code == 200
    assert reached == [A, A]


async def test_with_one_url_a_replica_that_keeps_failing_fails_after_two_attempts() -> None:
    transport, reached = replicas({A: dies_mid_answer})
    async with make_client(A, transport=transport) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get("/x")
    assert reached == [A, A]


async def test_several_urls_keep_the_platforms_pool() -> None:
    async with make_client(f"{A},{B}") as client:
        failover = client._transport
        assert isinstance(failover, ReplicaFailover)
        pool = failover.inner._pool  # type: ignore[attr-defined]
        assert (pool._max_connections, pool._max_keepalive_connections) == (100, 20)
        assert [str(url) for url in failover.replicas] == [A, B]
        assert str(client.base_url) == A


async def test_closing_the_client_closes_the_replicas_transport() -> None:
    closed: list[bool] = []

    class Recording(httpx.MockTransport):
        async def aclose(self) -> None:
            closed.append(True)

    async with make_client(f"{A},{B}", transport=Recording(ok)):
        assert closed == []
    assert closed == [True]


async def test_one_url_with_a_stray_comma_is_one_replica() -> None:
    transport, reached = replicas({A: ok})
    async with make_client(f"{A},", transport=transport) as client:
        await client.get("/x")
        assert [str(url) for url in client._transport.replicas] == [A]  # type: ignore[attr-defined]
    assert reached == [A]


def test_replicas_under_different_paths_are_refused() -> None:
    with pytest.raises(ValueError, match="differ only in host and port"):
        make_client(f"{A}/a,{B}/b")
    with pytest.raises(ValueError, match="differ only in host and port"):
        make_client(f"{A}/a,{B}/a,{C}/c")
    assert isinstance(make_client(f"{A}/a,{B}/a")._transport, ReplicaFailover)


def test_urls_are_split_trimmed_and_checked() -> None:
    assert split_urls(f" {A}/ , {B} ,") == [A, B]
    assert split_urls(A) == [A]
    assert split_urls("http://a:1/apiX/") == ["http://a:1/apiX"]
    assert split_urls("https://a") == ["https://a"]
    for blank in ("", " , "):
        with pytest.raises(ValueError, match=r"^a service needs at least one URL$"):
            split_urls(blank)
    for bad in ("ftp://x:1", "localhost:8001"):
        with pytest.raises(ValueError, match=f"^not an http\\(s\\) URL: '{bad}'$"):
            split_urls(bad)


async def test_with_three_replicas_the_last_is_asked_after_the_other_two_failed() -> None:
    transport, reached = replicas({A: refuses, B: dies_mid_answer, C: ok})
    async with make_client(f"{A},{B},{C}", transport=transport) as client:
        response = await client.get("/x")
    assert str(response.request.url) == f"{C}/x"
    assert reached == [A, B, C]


async def test_with_one_service_a_kept_alive_connection_closed_under_a_read_is_no_failure() -> None:
    """On the wire: the service closes each kept-alive connection as the next request crosses
    it (uvicorn's idle close racing a request), and reads still get their answer."""
    async with OneRequestPerConnection() as server, make_client(server.url) as client:
        statuses = [(await client.get("/v1/factories")).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    assert server.dropped == 2  # the 2nd and 3rd each met a closed connection first
