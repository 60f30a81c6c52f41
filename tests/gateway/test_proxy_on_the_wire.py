"""What the gateway's byte-level proxy path puts on the wire to a replica and hands back to the
client (issue 12: no httpx objects on the hot path, so httpx no longer adds Host or a body's
framing on its own). A raw server records each request as it arrived and answers canned bytes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest

from gateway.app import create_app
from gateway.settings import GatewaySettings
from tests.support import TEST_AUTH, auth_header

STAFF = auth_header("staff")

ANSWER = (
    b"HTTP/1.1 201 Created\r\n"
    b"Content-Type: application/json\r\n"
    b'ETag: "crs_1.1"\r\n'
    b"Keep-Alive: timeout=5\r\n"
    b"Content-Length: 11\r\n\r\n"
    b'{"id":"c1"}'
)


class Recorder:
    """A replica that keeps each connection alive and records every request's head and body."""

    def __init__(self) -> None:
        self.requests: list[tuple[bytes, list[tuple[bytes, bytes]], bytes]] = []
        self.server: asyncio.Server | None = None
        self.url = ""

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _body(self, reader: asyncio.StreamReader, headers: dict[bytes, bytes]) -> bytes:
        if b"content-length" in headers:
            return await reader.readexactly(int(headers[b"content-length"]))
        if headers.get(b"transfer-encoding") != b"chunked":
            return b""
        body = b""
        while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
            body += await reader.readexactly(size)
            await reader.readexactly(2)
        await reader.readexactly(2)
        return body

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                line, *rest = head[:-4].split(b"\r\n")
                pairs = [
                    (name.strip().lower(), value.strip())
                    for name, _, value in (h.partition(b":") for h in rest)
                ]
                body = await self._body(reader, dict(pairs))
                self.requests.append((line, pairs, body))
                writer.write(ANSWER)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture
async def recorder() -> AsyncIterator[Recorder]:
    server = Recorder()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def client(recorder: Recorder) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        GatewaySettings(
            training_url=recorder.url,
            health_check_interval_seconds=0,
            rate_limit_per_minute=100_000,
            rate_limit_burst=100_000,
        ),
        TEST_AUTH,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield client
    for upstream in app.state.upstreams.values():
        await upstream.aclose()


def names(pairs: list[tuple[bytes, bytes]]) -> list[bytes]:
    return [name for name, _ in pairs]


def values(pairs: list[tuple[bytes, bytes]], name: bytes) -> list[bytes]:
    return [v for n, v in pairs if n == name]


async def test_a_read_goes_as_sent_with_the_replicas_host_and_the_gateways_own_headers(
    recorder: Recorder, client: httpx.AsyncClient
) -> None:
    await client.get(
        "/v1/courses/a%2Fb?limit=20&q=%C3%A9",
        headers={
            **STAFF,
            "x-request-id": "trace-1",
            "x-bw-role": "admin",
            "x-forwarded-for": "10.9.9.9",
            "connection": "keep-alive",
            "accept": "application/json",
        },
    )
    [(line, pairs, body)] = recorder.requests
    assert line == b"GET /v1/courses/a%2Fb?limit=20&q=%C3%A9 HTTP/1.1"  # the target untouched
    assert values(pairs, b"host") == [recorder.url.removeprefix("http://").encode()]
    assert values(pairs, b"x-request-id") == [b"trace-1"]  # once: the gateway's, not doubled
    assert values(pairs, b"x-bw-role") == [b"staff"]  # verified, the client's claim dropped
    assert values(pairs, b"x-forwarded-for") == [b"127.0.0.1"]
    assert values(pairs, b"accept") == [b"application/json"]
    assert b"connection" not in names(pairs)
    assert b"content-length" not in names(pairs) and b"transfer-encoding" not in names(pairs)
    assert body == b""


async def test_the_answer_comes_back_without_hop_by_hop_headers(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/v1/courses", headers=STAFF)
    assert response.status_code == 201
    assert response.content == b'{"id":"c1"}'
    assert response.headers["etag"] == '"crs_1.1"'
    assert response.headers["content-length"] == "11"
    assert "keep-alive" not in response.headers
    assert response.headers["x-request-id"]  # the gateway's own layers still wrap the answer


async def test_a_small_body_goes_with_its_length(
    recorder: Recorder, client: httpx.AsyncClient
) -> None:
    await client.post("/v1/courses", headers=STAFF, content=b'{"title":"x"}')
    [(line, pairs, body)] = recorder.requests
    assert line == b"POST /v1/courses HTTP/1.1"
    assert values(pairs, b"content-length") == [b"13"] and body == b'{"title":"x"}'


async def test_a_chunked_keyed_write_is_read_whole_and_sent_with_a_length(
    recorder: Recorder, client: httpx.AsyncClient
) -> None:
    """Kept whole so it may be sent again; its length is then known and said."""

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"title":'
        yield b'"y"}'

    await client.post("/v1/courses", headers={**STAFF, "idempotency-key": "k-1"}, content=chunks())
    [(_, pairs, body)] = recorder.requests
    assert values(pairs, b"content-length") == [b"13"] and body == b'{"title":"y"}'
    assert b"transfer-encoding" not in names(pairs)
    assert values(pairs, b"idempotency-key") == [b"k-1"]


async def test_a_chunked_plain_write_is_streamed_on_chunked(
    recorder: Recorder, client: httpx.AsyncClient
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"a" * 70_000
        yield b"b" * 10

    await client.post("/v1/courses", headers=STAFF, content=chunks())
    [(_, pairs, body)] = recorder.requests
    assert values(pairs, b"transfer-encoding") == [b"chunked"]
    assert b"content-length" not in names(pairs)
    assert body == b"a" * 70_000 + b"b" * 10


async def test_one_connection_carries_the_requests_one_after_another(
    recorder: Recorder, client: httpx.AsyncClient
) -> None:
    for _ in range(3):
        assert (await client.get("/v1/courses", headers=STAFF)).status_code == 201
    assert len(recorder.requests) == 3
