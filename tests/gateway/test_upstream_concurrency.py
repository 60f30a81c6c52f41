"""The gateway sends each service replica a bounded number of requests at once: the rest wait at
the gateway in arrival order, a request that waits too long gets a 503 and never reaches the
replica, and a slot comes free however its request ends (answered, failed, abandoned)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
from fastapi import FastAPI

from tests.gateway.test_replicas import STAFF, client_of, gateway, training

A = "http://training-a:8002"


class Held:
    """A stand-in replica that holds every request until released, counting how many it has
    at once and the order they reached it in."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.most = 0
        self.order: list[str] = []
        self.release = asyncio.Event()
        self.dead = False

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.dead:
            raise httpx.ConnectError("connection refused")
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        self.order.append(request.url.params["n"])
        try:
            await self.release.wait()
        finally:
            self.in_flight -= 1
        return httpx.Response(200, json={"n": request.url.params["n"]})


def app_with(held: Held, **settings: object) -> FastAPI:
    return gateway(A, {A: httpx.MockTransport(held)}, **settings)


async def until(condition: Callable[[], bool]) -> None:
    """Let the other tasks run until ``condition`` holds (a bounded number of turns)."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")


async def queued(app: FastAPI, count: int) -> None:
    """Until ``count`` requests are counted for the replica (in flight or waiting)."""
    await until(lambda: training(app).replicas[0].outstanding >= count)


async def test_a_replica_gets_at_most_its_limit_and_the_rest_wait_their_turn() -> None:
    held = Held()
    app = app_with(held, upstream_max_concurrency=2)
    async with client_of(app) as client:
        tasks = []
        for n in range(6):  # one by one, so the gateway sees them in this order
            tasks.append(asyncio.create_task(client.get(f"/v1/courses?n={n}", headers=STAFF)))
            await queued(app, n + 1)
        assert held.order == ["0", "1"]  # two sent, four waiting at the gateway
        held.release.set()
        answers = await asyncio.gather(*tasks)
    assert [a.status_code for a in answers] == [200] * 6
    assert [a.json()["n"] for a in answers] == [str(n) for n in range(6)]
    assert held.most == 2
    assert held.order == [str(n) for n in range(6)]  # first come, first served
    assert training(app).replicas[0].outstanding == 0


async def test_without_a_limit_every_request_goes_through_at_once() -> None:
    held = Held()
    app = app_with(held, upstream_max_concurrency=0)
    async with client_of(app) as client:
        tasks = [
            asyncio.create_task(client.get(f"/v1/courses?n={n}", headers=STAFF)) for n in range(5)
        ]
        await until(lambda: held.in_flight == 5)
        held.release.set()
        assert [a.status_code for a in await asyncio.gather(*tasks)] == [200] * 5
    assert held.most == 5


async def test_a_request_that_waits_too_long_gets_a_503_and_never_reaches_the_replica() -> None:
    held = Held()
    app = app_with(held, upstream_max_concurrency=1, queue_timeout_seconds=0.05)
    async with client_of(app) as client:
        first = asyncio.create_task(client.get("/v1/courses?n=0", headers=STAFF))
        await queued(app, 1)
        refused = await client.get("/v1/courses?n=1", headers=STAFF)
        held.release.set()
        assert (await first).status_code == 200
        after = await client.get("/v1/courses?n=2", headers=STAFF)
    assert refused.status_code == 503
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["retry-after"] == "1"
    problem = refused.json()
    assert (problem["status"], problem["instance"], problem["service"]) == (
        503,
        "/v1/courses",
        "training",
    )
    assert problem["detail"].startswith("The training service is unavailable")
    assert held.order == ["0", "2"]  # the refused one was never sent
    assert after.status_code == 200


async def test_a_failed_request_frees_its_slot() -> None:
    held = Held()
    held.release.set()
    held.dead = True
    app = app_with(held, upstream_max_concurrency=1, queue_timeout_seconds=0.05)
    async with client_of(app) as client:
        failed = await client.get("/v1/courses?n=0", headers=STAFF)
        held.dead = False
        training(app).replicas[0].breaker.record_success()  # the circuit is not under test
        served = await client.get("/v1/courses?n=1", headers=STAFF)
    assert failed.status_code == 503
    assert served.status_code == 200 and held.order == ["1"]


async def test_an_abandoned_request_frees_its_slot_and_its_place_in_the_queue() -> None:
    held = Held()
    app = app_with(held, upstream_max_concurrency=1, queue_timeout_seconds=5)
    async with client_of(app) as client:
        sent = asyncio.create_task(client.get("/v1/courses?n=0", headers=STAFF))
        await queued(app, 1)
        waiting = asyncio.create_task(client.get("/v1/courses?n=1", headers=STAFF))
        await queued(app, 2)
        for task in (waiting, sent):  # the client goes away, queued and then in flight
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert training(app).replicas[0].outstanding == 0
        held.release.set()
        served = await client.get("/v1/courses?n=2", headers=STAFF)
    assert served.status_code == 200
    assert held.order == ["0", "2"]
