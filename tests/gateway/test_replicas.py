"""A service behind the gateway as several replicas: requests are spread over them, a dead one
is skipped and ejected, a healthy one comes back, and only requests that may run twice are
ever sent twice (reads, and writes with an Idempotency-Key)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI

from gateway.app import create_app
from gateway.replicas import HealthChecker, Upstream
from gateway.settings import GatewaySettings
from tests.e2e.conftest import free_port
from tests.support import TEST_AUTH, auth_header

STAFF = auth_header("staff")
A, B = "http://training-a:8002", "http://training-b:8002"


class Replica:
    """A stand-in training process: records what reached it and answers ``status``."""

    def __init__(self, name: str, status: int = 200) -> None:
        self.name = name
        self.status = status
        self.healthy = True
        self.seen: list[str] = []
        self.release: asyncio.Event | None = None  # when set, requests wait for it
        self.arrived = asyncio.Event()

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/health"):
            if not self.healthy:
                raise httpx.ConnectError("connection refused")
            return httpx.Response(200, json={"status": "ok"})
        if not self.healthy:
            raise httpx.ConnectError("connection refused")
        self.seen.append(f"{request.method} {request.url.path}")
        self.arrived.set()
        if self.release is not None:
            await self.release.wait()
        await request.aread()
        return httpx.Response(self.status, json={"served_by": self.name})


def gateway(
    training_url: str,
    transports: dict[str, httpx.AsyncBaseTransport],
    **settings: object,
) -> FastAPI:
    return create_app(
        GatewaySettings(
            training_url=training_url,
            retry_backoff_seconds=0,
            rate_limit_per_minute=100_000,
            rate_limit_burst=100_000,
            **settings,  # type: ignore[arg-type]
        ),
        TEST_AUTH,
        transports=transports,
    )


@asynccontextmanager
async def client_of(app: FastAPI, lifespan: bool = False) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        if lifespan:
            async with app.router.lifespan_context(app):
                yield client
        else:
            yield client


def mocks(*replicas: tuple[str, Replica]) -> dict[str, httpx.AsyncBaseTransport]:
    return {url: httpx.MockTransport(replica) for url, replica in replicas}


def training(app: FastAPI) -> Upstream:
    upstream: Upstream = app.state.upstreams["training"]
    return upstream


def test_a_service_url_setting_takes_one_url_or_a_comma_separated_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GATEWAY_TRAINING_URL", " http://10.0.0.5:8002, http://10.0.0.6:8002/ ")
    monkeypatch.setenv("GATEWAY_ASSESSMENT_URL", "http://10.0.0.7:8001")
    urls = GatewaySettings().replica_urls()
    assert urls["training"] == ["http://10.0.0.5:8002", "http://10.0.0.6:8002"]
    assert urls["assessment"] == ["http://10.0.0.7:8001"]
    for bad in ("10.0.0.5:8002", "http://a:1,,ftp://b", " , "):
        monkeypatch.setenv("GATEWAY_TRAINING_URL", bad)
        with pytest.raises(ValueError):
            GatewaySettings()


async def test_requests_are_spread_over_the_replicas_in_turn() -> None:
    a, b = Replica("a"), Replica("b")
    async with client_of(gateway(f"{A},{B}", mocks((A, a), (B, b)))) as client:
        served = [
            (await client.get("/v1/courses", headers=STAFF)).json()["served_by"] for _ in range(6)
        ]
    assert sorted(served) == ["a"] * 3 + ["b"] * 3
    assert served[:2] in (["a", "b"], ["b", "a"])  # alternating, not three then three


async def test_a_busy_replica_gets_no_more_work_until_it_answers() -> None:
    """Least outstanding: while one replica holds a slow request, the others take the rest."""
    a, b = Replica("a"), Replica("b")
    a.release = asyncio.Event()
    async with client_of(gateway(f"{A},{B}", mocks((A, a), (B, b)))) as client:
        slow = asyncio.create_task(client.get("/v1/courses", headers=STAFF))
        await a.arrived.wait()
        quick = [(await client.get("/v1/courses", headers=STAFF)).json() for _ in range(4)]
        a.release.set()
        assert (await slow).json() == {"served_by": "a"}
    assert quick == [{"served_by": "b"}] * 4
    assert len(a.seen) == 1


async def test_a_replica_on_a_closed_port_is_skipped_and_ejected() -> None:
    """A real connection refusal (nothing listens on the port): the read is retried on the live
    replica, the dead one leaves the rotation, and no request fails."""
    dead = f"http://127.0.0.1:{free_port()}"
    live = Replica("live")
    app = gateway(f"{dead},{B}", mocks((B, live)))
    async with client_of(app) as client:
        statuses = [(await client.get("/v1/courses", headers=STAFF)).status_code for _ in range(6)]
        keyed = await client.post(
            "/v1/courses", json={"code": "SST"}, headers={**STAFF, "idempotency-key": "k-1"}
        )
    assert statuses == [200] * 6
    assert keyed.status_code == 200 and keyed.json() == {"served_by": "live"}
    assert len(live.seen) == 7
    dead_replica, live_replica = training(app).replicas
    assert not dead_replica.healthy and live_replica.healthy


async def test_a_write_without_an_idempotency_key_is_sent_once() -> None:
    """A 503 (or a lost connection) after a plain POST may hide a write that happened: it is
    passed back, never repeated on another replica."""
    a, b = Replica("a", status=503), Replica("b", status=503)
    async with client_of(gateway(f"{A},{B}", mocks((A, a), (B, b)), retries=3)) as client:
        answers = [
            await client.post("/v1/courses", json={"code": "SST"}, headers=STAFF) for _ in range(4)
        ]
    assert [r.status_code for r in answers] == [503] * 4
    assert len(a.seen) + len(b.seen) == 4  # one attempt per request


async def test_a_502_or_503_is_retried_on_another_replica_for_reads_and_keyed_writes() -> None:
    sick, well = Replica("sick", status=502), Replica("well")
    async with client_of(gateway(f"{A},{B}", mocks((A, sick), (B, well)))) as client:
        reads = [(await client.get("/v1/courses", headers=STAFF)).json() for _ in range(4)]
        keyed = [
            (
                await client.post(
                    "/v1/courses", json={"code": "SST"}, headers={**STAFF, "idempotency-key": k}
                )
            ).json()
            for k in ("k-1", "k-2")
        ]
    assert reads == [{"served_by": "well"}] * 4
    assert keyed == [{"served_by": "well"}] * 2
    assert sick.seen  # it was tried, and its 502s never reached the client
    assert [s for s in well.seen if s.startswith("POST")] == ["POST /v1/courses"] * 2


async def test_with_one_replica_a_503_is_passed_back_not_repeated() -> None:
    only = Replica("only", status=503)
    async with client_of(gateway(A, mocks((A, only)))) as client:
        response = await client.get("/v1/courses", headers=STAFF)
    assert response.status_code == 503 and only.seen == ["GET /v1/courses"]


async def test_the_health_check_ejects_a_dead_replica_and_brings_it_back() -> None:
    a, b = Replica("a"), Replica("b")
    app = gateway(f"{A},{B}", mocks((A, a), (B, b)))
    upstream = training(app)
    checker = HealthChecker([upstream], "/health/ready", interval=60, timeout=1)
    async with client_of(app) as client:
        a.healthy = False
        await checker.check_once()
        while_down = [
            (await client.get("/v1/courses", headers=STAFF)).json()["served_by"] for _ in range(4)
        ]
        a.healthy = True
        await checker.check_once()
        after = [
            (await client.get("/v1/courses", headers=STAFF)).json()["served_by"] for _ in range(4)
        ]
    assert while_down == ["b"] * 4
    assert sorted(after) == ["a", "a", "b", "b"]


async def test_the_gateway_checks_replicas_in_the_background_while_it_runs() -> None:
    a, b = Replica("a"), Replica("b")
    app = gateway(f"{A},{B}", mocks((A, a), (B, b)), health_check_interval_seconds=0.01)
    replica_a = training(app).replicas[0]

    async def until(condition: Callable[[], bool]) -> None:
        for _ in range(1000):
            if condition():
                return
            await asyncio.sleep(0.01)

    async with client_of(app, lifespan=True) as client:
        a.healthy = False
        await until(lambda: not replica_a.healthy)
        ejected = not replica_a.healthy
        a.healthy = True
        await until(lambda: replica_a.healthy)
        ready = await client.get("/health/ready")
    assert ejected and replica_a.healthy
    replicas = ready.json()["checks"]["training"]["replicas"]
    assert replicas == {A: {"status": "ok"}, B: {"status": "ok"}}


async def test_when_every_replica_is_down_the_answer_is_a_503_problem() -> None:
    dead = [f"http://127.0.0.1:{free_port()}" for _ in range(2)]
    async with client_of(gateway(",".join(dead), {})) as client:
        response = await client.get("/v1/courses", headers=STAFF)
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["service"] == "training" and "retry-after" in response.headers
