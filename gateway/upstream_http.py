"""A lean HTTP/1.1 keep-alive client for the gateway's hop to a service replica.

httpx's pooled transport goes through httpcore, h11 and anyio: per proxied request that was
about half the gateway's Python time under py-spy, plus a second socket write for a GET's empty
end of message and a readability poll of the pooled socket. This one is an asyncio protocol over
httptools' C parser: one write per request without a body, idle connections that notice the
server closing them (no poll). The proxy calls ``Http1Transport.exchange`` with header pairs as
bytes and gets an ``Answer`` (status, header pairs, body) with no httpx object built per
request; ``handle_async_request`` wraps the same call in httpx's transport interface, for the
gateway's own calls (health checks, OpenAPI) and for tests.
Errors are httpx's: ConnectError/ConnectTimeout before anything was sent, ReadTimeout,
RemoteProtocolError when a connection dies mid-answer.

A kept-alive connection can be closed by the server at any moment (uvicorn drops idle ones
after 5 s; a killed process resets them all) and the close may cross our request on the wire.
Such a request failed before the server read it: when the connection was reused, no byte of
the answer came back, and the request may be sent again (a read, or ``extensions["replay"]``),
it goes once more on a new connection instead of failing -- the replica is not at fault.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from typing import cast

import httptools
import httpx

MAX_IDLE = 100
REPLAY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class StaleConnectionError(httpx.RemoteProtocolError):
    """A reused keep-alive connection died before any byte of the answer: the server closed it
    while idle, so it never read the request. Not a sign the replica is down."""


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.head: asyncio.Future[tuple[int, list[tuple[bytes, bytes]]]] | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: deque[bytes] = deque()
        self.readable = asyncio.Event()
        self.complete = False
        self.reused = False  # taken from the idle pool, not freshly connected
        self.received = False  # a byte of the current answer arrived
        self.head_only = False
        self.error: Exception | None = None
        self.keep_alive = False
        self.can_write = asyncio.Event()
        self.can_write.set()

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"bad answer from the service: {exc}"))
            if self.transport is not None:
                self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.complete:
            self._fail(httpx.RemoteProtocolError("the service closed the connection"))
        self.readable.set()
        self.can_write.set()

    def pause_writing(self) -> None:
        self.can_write.clear()

    def resume_writing(self) -> None:
        self.can_write.set()

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self.head is not None and not self.head.done():
            self.head.set_result((self.parser.get_status_code(), self.headers))
        if self.head_only:  # a HEAD answer has no body, whatever its Content-Length says
            self.on_message_complete()

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.readable.set()

    def on_message_complete(self) -> None:
        # Asked now: once the message is done the parser has moved on and says no.
        self.keep_alive = not self.head_only and self.parser.should_keep_alive()
        self.complete = True
        self.readable.set()

    def _fail(self, error: Exception) -> None:
        self.error = error
        if self.head is not None and not self.head.done():
            self.head.set_exception(error)

    # use
    def reusable(self) -> bool:
        return self.complete and self.keep_alive and not self.closed

    def start(self, head_only: bool) -> asyncio.Future[tuple[int, list[tuple[bytes, bytes]]]]:
        self.headers = []
        self.chunks.clear()
        self.complete = False
        self.keep_alive = False
        self.received = False
        self.head_only = head_only
        self.readable.clear()
        self.head = asyncio.get_running_loop().create_future()
        return self.head


class Answer:
    """A replica's answer as it came: status, header pairs as bytes, and the body read from the
    connection. The proxy passes these on without building any object per header."""

    __slots__ = ("_conn", "_pool", "_read_timeout", "_released", "headers", "status")

    def __init__(
        self,
        status: int,
        headers: list[tuple[bytes, bytes]],
        pool: Http1Transport,
        conn: _Connection,
        read_timeout: float,
    ) -> None:
        self.status = status
        self.headers = headers
        self._pool = pool
        self._conn = conn
        self._read_timeout = read_timeout
        self._released = False

    async def chunks(self) -> AsyncIterator[bytes]:
        conn = self._conn
        while True:
            while conn.chunks:
                yield conn.chunks.popleft()
            if conn.complete:
                return
            await self._wait_for_more()

    async def read(self) -> bytes:
        """The whole body; usually already here with the head, so no wait at all."""
        conn = self._conn
        while not conn.complete:
            await self._wait_for_more()
        body = b"".join(conn.chunks)
        conn.chunks.clear()
        return body

    async def _wait_for_more(self) -> None:
        conn = self._conn
        if conn.closed:
            raise httpx.RemoteProtocolError("the service closed the connection mid-answer")
        conn.readable.clear()
        try:
            async with asyncio.timeout(self._read_timeout):
                await conn.readable.wait()
        except TimeoutError:
            raise httpx.ReadTimeout("the service stopped sending its answer") from None

    async def aclose(self) -> None:
        if not self._released:
            self._released = True
            self._pool.release(self._conn)


class _Body(httpx.AsyncByteStream):
    """An ``Answer``'s body as httpx reads one (the gateway's own calls, tests)."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.answer.chunks():
            yield chunk

    async def aclose(self) -> None:
        await self.answer.aclose()


Body = bytes | AsyncIterator[bytes] | None


class Http1Transport(httpx.AsyncBaseTransport):
    """Keep-alive connections to one replica (host and port), most recently used first."""

    def __init__(self, max_idle: int = MAX_IDLE) -> None:
        self.idle: deque[_Connection] = deque()
        self.max_idle = max_idle

    def release(self, conn: _Connection) -> None:
        if conn.reusable() and len(self.idle) < self.max_idle:
            self.idle.append(conn)
        elif conn.transport is not None and not conn.closed:
            conn.transport.close()

    async def _connect(
        self, url: httpx.URL, connect_seconds: float, *, fresh: bool = False
    ) -> _Connection:
        while self.idle and not fresh:
            conn = self.idle.pop()
            if not conn.closed:
                conn.reused = True
                return conn
        loop = asyncio.get_running_loop()
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            async with asyncio.timeout(connect_seconds):
                _, conn = await loop.create_connection(
                    _Connection, url.host, port, ssl=url.scheme == "https" or None
                )
        except TimeoutError:
            raise httpx.ConnectTimeout(f"no connection to {url.host}:{port} in time") from None
        except OSError as exc:
            raise httpx.ConnectError(f"{url.host}:{port}: {exc}") from exc
        return conn

    async def exchange(
        self,
        url: httpx.URL,
        method: str,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        body: Body,
        *,
        replay: bool,
        connect_timeout: float,
        read_timeout: float,
    ) -> Answer:
        """Send one request to the replica at ``url`` (only its host and port count; the
        request line carries ``target`` as given) and answer its head, the body to follow.
        ``headers`` go as they are: the caller names Host and the body's length or chunking.
        A reused connection found closed is tried once more on a new one when the request may
        be sent again (``replay``, or a read) and its body is still at hand."""
        head = b"".join(
            [
                b"%s %s HTTP/1.1\r\n" % (method.encode(), target),
                *[b"%s: %s\r\n" % pair for pair in headers],
                b"\r\n",
            ]
        )
        lines = len(headers) + 2
        if head.count(b"\n") != lines or head.count(b"\r") != lines:
            raise httpx.LocalProtocolError("a header holds a line break; not sent")
        chunked = any(
            name.lower() == b"transfer-encoding" and value.lower() == b"chunked"
            for name, value in headers
        )
        head_only = method == "HEAD"
        try:
            return await self._send(
                url, head, body, chunked, head_only, connect_timeout, read_timeout, fresh=False
            )
        except StaleConnectionError:
            replay = replay or method in REPLAY_METHODS
            if not replay or not (body is None or isinstance(body, bytes)):
                raise  # a streamed body is gone, and a plain write goes out once
            return await self._send(
                url, head, body, chunked, head_only, connect_timeout, read_timeout, fresh=True
            )

    async def _send(
        self,
        url: httpx.URL,
        head: bytes,
        body: Body,
        chunked: bool,
        head_only: bool,
        connect_timeout: float,
        read_timeout: float,
        *,
        fresh: bool,
    ) -> Answer:
        conn = await self._connect(url, connect_timeout, fresh=fresh)
        started = conn.start(head_only=head_only)
        assert conn.transport is not None
        try:
            if body is None or isinstance(body, bytes):  # one write
                conn.transport.write(head + body if body else head)
            else:
                conn.transport.write(head)
                await self._send_body(conn, body, chunked)
            async with asyncio.timeout(read_timeout):
                status, headers = await started
        except TimeoutError:
            conn.transport.close()
            raise httpx.ReadTimeout("the service did not answer in time") from None
        except (httpx.RemoteProtocolError, httpx.WriteError) as exc:
            conn.transport.close()
            if conn.reused and not conn.received:
                raise StaleConnectionError(f"a kept-alive connection was closed: {exc}") from exc
            raise
        except BaseException:
            conn.transport.close()
            raise
        return Answer(status, headers, self, conn, read_timeout)

    async def _send_body(
        self, conn: _Connection, body: AsyncIterator[bytes], chunked: bool
    ) -> None:
        assert conn.transport is not None
        async for chunk in body:
            if conn.closed:
                raise httpx.WriteError("the service closed the connection")
            if not chunk:
                continue
            conn.transport.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            await conn.can_write.wait()
        if chunked:
            conn.transport.write(b"0\r\n\r\n")

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """The httpx face of ``exchange``: health checks, the OpenAPI fetch, tests."""
        timeouts = request.extensions.get("timeout", {})
        stream = request.stream
        body: Body
        if isinstance(stream, httpx.ByteStream):
            body = b"".join([bytes(c) for c in stream]) or None
        else:
            body = _stream_of(stream)
        answer = await self.exchange(
            request.url,
            request.method,
            request.extensions.get("target") or request.url.raw_path,
            list(request.headers.raw),
            body,
            replay=bool(request.extensions.get("replay")),
            connect_timeout=timeouts.get("connect") or 5.0,
            read_timeout=timeouts.get("read") or 5.0,
        )
        return httpx.Response(
            answer.status,
            headers=answer.headers,
            stream=_Body(answer),
            extensions={"http_version": b"HTTP/1.1"},
            request=request,
        )

    async def aclose(self) -> None:
        while self.idle:
            conn = self.idle.pop()
            if conn.transport is not None:
                conn.transport.close()
        with contextlib.suppress(Exception):
            await asyncio.sleep(0)


async def _stream_of(stream: httpx.AsyncByteStream | object) -> AsyncIterator[bytes]:
    assert isinstance(stream, httpx.AsyncByteStream)
    async for chunk in stream:
        yield chunk
