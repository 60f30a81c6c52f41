"""The gateway's own HTTP/1.1 client against real sockets: two replica servers (uvicorn, in
this process, on real ports), bodies both ways, large streamed answers, HEAD, a read timeout,
a replica stopped under the gateway and one that never listened."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from gateway.app import create_app
from gateway.settings import GatewaySettings
from gateway.upstream_http import Http1Transport
from tests.e2e.conftest import free_port
from tests.support import TEST_AUTH, auth_header

STAFF = auth_header("staff")
BIG = 3 * 1024 * 1024  # over the gateway's 256 KiB buffering threshold: streamed


def replica_app(name: str) -> Starlette:
    async def echo(request: Request) -> Response:
        body = await request.body()
        if request.method == "HEAD":
            return Response(headers={"content-length": "12345", "x-served-by": name})
        return JSONResponse(
            {
                "served_by": name,
                "method": request.method,
                "path": request.url.path,
                "query": request.url.query,
                "body_length": len(body),
                "body_start": body[:20].decode("utf-8", "replace"),
                "role": request.headers.get("x-bw-role"),
            },
            headers={"x-served-by": name},
        )

    async def big(request: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            for n in range(BIG // 65536):
                yield bytes([65 + n % 26]) * 65536

        return StreamingResponse(chunks(), media_type="application/octet-stream")

    async def slow(request: Request) -> Response:
        await asyncio.sleep(5)
        return JSONResponse({})

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/v1/courses/big", big),
            Route("/v1/courses/slow", slow),
            Route("/health/ready", health),
            Route("/v1/courses{rest:path}", echo, methods=["GET", "HEAD", "POST", "PUT"]),
        ]
    )


class Running:
    """A replica server on a real port, in this process."""

    def __init__(self, name: str) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.started = asyncio.Event()
        config = uvicorn.Config(
            replica_app(name), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(config)

        async def serve() -> None:
            config.load()  # what Server.serve does before startup
            self.server.lifespan = config.lifespan_class(config)
            await self.server.startup()
            self.started.set()
            await self.server.main_loop()
            await self.server.shutdown()

        self.task = asyncio.create_task(serve())

    async def stop(self) -> None:
        """Closes its listener and every connection, as a killed process would."""
        self.server.should_exit = True
        await self.task


@contextlib.asynccontextmanager
async def serving(name: str) -> AsyncIterator[Running]:
    running = Running(name)
    await running.started.wait()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def replicas() -> AsyncIterator[list[Running]]:
    async with serving("one") as one, serving("two") as two:
        yield [one, two]


def gateway(urls: list[str], **settings: object) -> httpx.AsyncClient:
    app = create_app(
        GatewaySettings(
            training_url=",".join(urls),
            retry_backoff_seconds=0,
            rate_limit_per_minute=100_000,
            rate_limit_burst=100_000,
            **settings,  # type: ignore[arg-type]
        ),
        TEST_AUTH,
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")


async def test_reads_and_writes_reach_real_replicas_in_turn_over_kept_alive_connections(
    replicas: list[Running],
) -> None:
    urls = [replica.url for replica in replicas]
    async with gateway(urls) as client:
        reads = [
            (await client.get("/v1/courses/crs_1?limit=5&cursor=a%2Fb", headers=STAFF)).json()
            for _ in range(4)
        ]
        body = "Farg'ona to'qimachilik, Фергана " * 3000  # ~100 KB: streamed to the service
        write = await client.post(
            "/v1/courses", content=body.encode(), headers={**STAFF, "content-type": "text/plain"}
        )
        small = await client.put("/v1/courses/crs_1", json={"code": "SST"}, headers=STAFF)
    assert sorted(r["served_by"] for r in reads) == ["one", "one", "two", "two"]
    assert {(r["path"], r["query"], r["role"]) for r in reads} == {
        ("/v1/courses/crs_1", "limit=5&cursor=a%2Fb", "staff")
    }
    assert write.status_code == 200 and write.json()["body_length"] == len(body.encode())
    assert write.json()["body_start"] == body.encode()[:20].decode()
    assert small.json()["body_length"] == len(b'{"code":"SST"}')


async def test_a_large_answer_streams_through_whole(
    replicas: list[Running],
) -> None:
    async with gateway([replicas[0].url]) as client:
        response = await client.get("/v1/courses/big", headers=STAFF)
        head = await client.head("/v1/courses/crs_1", headers=STAFF)
        after = await client.get("/v1/courses/crs_2", headers=STAFF)  # the pool still works
    assert response.status_code == 200 and len(response.content) == BIG
    assert response.content[:1] == b"A" and response.content[-1:] == bytes([65 + 47 % 26])
    assert head.status_code == 200 and head.headers["content-length"] == "12345"
    assert head.content == b""
    assert after.json()["path"] == "/v1/courses/crs_2"


async def test_a_slow_replica_gives_a_504_problem(
    replicas: list[Running],
) -> None:
    async with gateway([replicas[0].url], route_timeouts={"/v1/courses": 0.2}) as client:
        response = await client.get("/v1/courses/slow", headers=STAFF)
    assert response.status_code == 504
    assert response.json()["service"] == "training"


async def test_a_replica_stopped_under_the_gateway_loses_no_read(
    replicas: list[Running],
) -> None:
    one, two = replicas
    never = f"http://127.0.0.1:{free_port()}"
    async with gateway([one.url, two.url, never]) as client:
        before = [(await client.get("/v1/courses", headers=STAFF)).status_code for _ in range(6)]
        await one.stop()
        after = [(await client.get("/v1/courses", headers=STAFF)).json() for _ in range(6)]
    assert before == [200] * 6
    assert [r["served_by"] for r in after] == ["two"] * 6


async def test_the_transport_refuses_a_header_with_a_line_break() -> None:
    transport = Http1Transport()
    request = httpx.Request("GET", "http://127.0.0.1:9/", headers={"x-bw-subject": "a"})
    request.headers._list[0] = (b"x-bw-subject", b"x-bw-subject", b"a\r\nx-bw-role: admin")
    with pytest.raises(httpx.LocalProtocolError):
        await transport.handle_async_request(request)
    assert not transport.idle


async def test_one_connection_carries_request_after_request(replicas: list[Running]) -> None:
    one = replicas[0]
    transport = Http1Transport()
    async with httpx.AsyncClient(transport=transport, base_url=one.url) as client:
        answers = [(await client.get(f"/v1/courses/crs_{n}")).json() for n in range(5)]
        open_connections = len(one.server.server_state.connections)
        pooled = list(transport.idle)
    assert [a["path"] for a in answers] == [f"/v1/courses/crs_{n}" for n in range(5)]
    assert open_connections == 1 and len(pooled) == 1
    assert one.server.server_state.total_requests == 5
