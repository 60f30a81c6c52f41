"""Forwarding a request to the service that owns its path, without buffering large bodies.

The hot path is plain ASGI on bytes: the client's header pairs are filtered and passed on as
they came, the replica's answer goes back as status, header pairs and body, with no request or
response object built per request (httpx's and Starlette's header models were most of the
gateway's Python time). A replica served by another transport (tests' in-process ones) is
reached through httpx, answering the same ``Answer`` shape."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from typing import Protocol

import httpx
from fastapi import Request
from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from gateway.replicas import Replica, Upstream
from gateway.upstream_http import Body, Http1Transport, StaleConnectionError
from services.common.problems import problem_response

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"trailers",
        b"transfer-encoding",
        b"upgrade",
        b"host",
    }
)
# Identity headers only the gateway may set; a client's own copies are dropped.
IDENTITY_HEADERS = frozenset({b"x-bw-subject", b"x-bw-role", b"x-forwarded-user"})
# Where the request came from is the gateway's word alone (ClientAddressMiddleware decided it);
# a client's claims, or a trusted proxy's chain already resolved, are not passed on.
CLIENT_ADDRESS_HEADERS = frozenset({b"x-forwarded-for", b"forwarded", b"x-real-ip"})
# The gateway sets this one itself (RequestContextMiddleware's id, adopted or made).
NOT_FORWARDED = HOP_BY_HOP | IDENTITY_HEADERS | CLIENT_ADDRESS_HEADERS | {b"x-request-id"}
BUFFER_RESPONSE_BELOW = 256 * 1024
SMALL_BODY = 65536


def route_for(path: str, routes: dict[str, str]) -> str | None:
    for prefix, service in routes.items():
        if path == prefix or path.startswith(prefix + "/"):
            return service
    return None


class Incoming:
    """What the proxy needs from the client's headers, read in one pass over the scope."""

    __slots__ = ("chunked", "content_length", "headers", "keyed")

    def __init__(self, scope: Scope) -> None:
        self.content_length: bytes | None = None
        self.chunked = False
        self.keyed = False
        kept: list[tuple[bytes, bytes]] = []
        for name, value in scope["headers"]:
            if name in NOT_FORWARDED:
                if name == b"transfer-encoding":
                    self.chunked = True
                continue
            if name == b"content-length":
                self.content_length = value
            elif name == b"idempotency-key":
                self.keyed = True
            kept.append((name, value))
        self.headers = kept


def _request_headers(
    request: Request, incoming: Incoming, identity: dict[str, str]
) -> list[tuple[bytes, bytes]]:
    """The client's headers minus hop-by-hop, identity and address claims; then the request
    id, the client's address as the gateway decided it, and the verified identity."""
    headers = list(incoming.headers)
    headers.append((b"x-request-id", request.scope["state"]["request_id"].encode("latin-1")))
    client = request.scope.get("client")
    headers.append((b"x-forwarded-for", client[0].encode("latin-1") if client else b""))
    headers += [(name.encode(), value.encode("latin-1")) for name, value in identity.items()]
    return headers


def _unavailable(request: Request, service: str, retry_after: float) -> Response:
    return problem_response(
        request,
        503,
        f"The {service} service is unavailable; try again shortly.",
        headers={"Retry-After": str(max(1, math.ceil(retry_after)))},
        service=service,
    )


RETRYABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RETRYABLE_STATUSES = frozenset({502, 503})


def replayable(method: str, incoming: Incoming) -> bool:
    """Reads, and writes the service itself deduplicates by Idempotency-Key: sending one twice
    cannot do twice what it asks. Any other write goes out once, whatever happens."""
    return method in RETRYABLE_METHODS or incoming.keyed


def _target(scope: Scope) -> bytes:
    """The request target as the client sent it (its own percent-encoding kept)."""
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
    query: bytes = scope.get("query_string", b"")
    return raw_path + b"?" + query if query else raw_path


async def _body(request: Request, incoming: Incoming, replay: bool) -> Body:
    """None when there is no body; bytes when it may be sent again or is small; else the
    stream, sent once as it arrives."""
    declared = incoming.content_length
    if declared == b"0" or (declared is None and not incoming.chunked):
        return None
    if replay or (declared is not None and declared.isdigit() and int(declared) <= SMALL_BODY):
        return await request.body()  # a small body goes out with the head, in one write
    return request.stream()


def _framed(headers: list[tuple[bytes, bytes]], body: Body, incoming: Incoming) -> None:
    """What httpx added on its own: the body's length when it is whole, chunking for a stream
    of unknown length (the client's own Transfer-Encoding is hop-by-hop, not passed on)."""
    if isinstance(body, bytes) and incoming.content_length is None:
        headers.append((b"content-length", b"%d" % len(body)))
    elif body is not None and not isinstance(body, bytes) and incoming.content_length is None:
        headers.append((b"transfer-encoding", b"chunked"))


class Upstreamed(Protocol):
    """An answer from a replica: ``gateway.upstream_http.Answer``, or httpx's adapted."""

    status: int
    headers: list[tuple[bytes, bytes]]

    def chunks(self) -> AsyncIterator[bytes]: ...
    async def read(self) -> bytes: ...
    async def aclose(self) -> None: ...


class _HttpxAnswer:
    """An httpx transport's answer in the ``Answer`` shape."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.status = response.status_code
        self.headers = response.headers.raw

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self.response.aiter_raw():
                yield chunk
        except httpx.StreamConsumed:  # already read by the transport (in-process tests)
            yield self.response.content

    async def read(self) -> bytes:
        """The body as sent (still compressed if it was), so headers stay true."""
        return b"".join([chunk async for chunk in self.chunks()])

    async def aclose(self) -> None:
        await self.response.aclose()


async def _exchange(
    replica: Replica,
    method: str,
    target: bytes,
    headers: list[tuple[bytes, bytes]],
    body: Body,
    *,
    replay: bool,
    connect_timeout: float,
    read_timeout: float,
) -> Upstreamed:
    transport = replica.transport
    if isinstance(transport, Http1Transport):
        return await transport.exchange(
            replica.base_url,
            method,
            target,
            [(b"host", replica.host_header), *headers],
            body,
            replay=replay,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
    outgoing = httpx.Request(
        method,
        replica.base_url.copy_with(raw_path=target),
        headers=headers,
        content=body,
        extensions={
            "timeout": {
                "connect": connect_timeout,
                "read": read_timeout,
                "write": read_timeout,
                "pool": connect_timeout,
            },
            "replay": replay,
        },
    )
    return _HttpxAnswer(await transport.handle_async_request(outgoing))


async def forward(
    request: Request,
    upstream: Upstream,
    *,
    identity: dict[str, str],
    read_timeout: float,
    retries: int = 1,
    retry_backoff: float = 0.05,
) -> Response | Buffered:
    """Send the request to one of the service's replicas and answer what to pass back.

    A replayable request (see ``replayable``) that fails to connect, loses its connection
    (before or during a buffered answer), or meets a 502/503 is tried again, on another replica
    when there is one (a 502/503 only on another: the same one would answer the same). With
    several replicas it may try each of them once (at least ``1 + retries`` attempts), never one
    already tried, so it fails only when none is left; with one replica it tries that one
    ``1 + retries`` times. A reused connection the replica had closed is retried on a new one by
    the transport and is no failure here. A replica's circuit counts one failure per request,
    however many attempts it took."""
    service = upstream.name
    scope = request.scope
    method: str = scope["method"]
    incoming = Incoming(scope)
    replay = replayable(method, incoming)
    try:
        content = await _body(request, incoming, replay)
    except ClientDisconnect:
        return Response(status_code=499)
    headers = _request_headers(request, incoming, identity)
    _framed(headers, content, incoming)
    target = _target(scope)
    attempts = max(1 + retries, len(upstream.replicas)) if replay else 1
    tried: list[Replica] = []
    failed: set[int] = set()
    answer: Upstreamed | None = None
    chosen: Replica | None = None  # already picked by the 502/503 check below
    for attempt in range(attempts):
        picked = chosen or upstream.pick(tried)
        chosen = None
        if isinstance(picked, float):
            return _unavailable(request, service, picked)
        replica = picked
        if attempt and replica in tried:
            await asyncio.sleep(retry_backoff * (2 ** (attempt - 1)))
        tried.append(replica)
        if not await replica.enter(upstream.queue_timeout):
            return _unavailable(request, service, 1.0)  # busy: every slot taken all along
        try:
            answer = await _exchange(
                replica,
                method,
                target,
                headers,
                content,
                replay=replay,
                connect_timeout=upstream.connect_timeout,
                read_timeout=read_timeout,
            )
        except ClientDisconnect:
            replica.leave()
            return Response(status_code=499)  # the client left; nothing to answer
        except httpx.TransportError as exc:
            replica.leave()
            connect_failed = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
            if isinstance(exc, httpx.TimeoutException) and not connect_failed:
                replica.breaker.record_failure()
                return problem_response(
                    request, 504, f"The {service} service did not answer in time.", service=service
                )
            if connect_failed:
                upstream.eject(replica)
            if isinstance(exc, StaleConnectionError):
                pass  # a pooled connection the replica closed: the write was not sent again
            elif id(replica) not in failed:
                failed.add(id(replica))
                replica.breaker.record_failure()
            if attempt + 1 < attempts:
                continue
            return _unavailable(request, service, replica.breaker.reset_seconds)
        except BaseException:  # cancelled (the client left) or a bug: the slot is free again
            replica.leave()
            raise
        if answer.status in RETRYABLE_STATUSES and attempt + 1 < attempts:
            following = upstream.pick(tried)
            if isinstance(following, Replica) and following not in tried:
                await answer.aclose()
                replica.leave()
                chosen = following
                continue
        headers_back, length = _passed_on(answer.headers)
        if not 0 <= length <= BUFFER_RESPONSE_BELOW:
            break  # streamed back as it comes (below)
        try:
            body = await answer.read()
        except httpx.TransportError as exc:
            # The replica died after its head: nothing reached the client yet, so a replayable
            # request goes again like one that lost its connection.
            if id(replica) not in failed:
                failed.add(id(replica))
                replica.breaker.record_failure()
            if isinstance(exc, httpx.TimeoutException):
                detail = f"The {service} service did not answer in time."
                return problem_response(request, 504, detail, service=service)
            if attempt + 1 < attempts:
                continue
            return _cut_off(request, service, replay, replica.breaker.reset_seconds)
        finally:
            await answer.aclose()
            replica.leave()
        replica.breaker.record_success()
        return Buffered(answer.status, headers_back, body)
    assert answer is not None
    replica.breaker.record_success()
    return _stream_back(answer, replica, headers_back)


def _cut_off(request: Request, service: str, replay: bool, retry_after: float) -> Response:
    """The last attempt's answer broke off mid-body. A replayable request may simply be sent
    again (503); any other may have been applied, so the client is told so (502)."""
    if replay:
        return _unavailable(request, service, retry_after)
    return problem_response(
        request,
        502,
        f"The {service} service's answer was cut off; the request may have been applied.",
        service=service,
    )


class Buffered:
    """A whole answer sent as two ASGI messages: no Response object, no header re-encoding."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body})


def _passed_on(headers: list[tuple[bytes, bytes]]) -> tuple[list[tuple[bytes, bytes]], int]:
    """The answer's headers minus hop-by-hop ones (names lower-cased, as ASGI wants), and its
    declared length (-1 when it has none)."""
    kept: list[tuple[bytes, bytes]] = []
    length = -1
    for name, value in headers:
        name = name.lower()
        if name in HOP_BY_HOP:
            continue
        if name == b"content-length" and value.isdigit():
            length = int(value)
        kept.append((name, value))
    return kept, length


def _stream_back(
    answer: Upstreamed, replica: Replica, headers: list[tuple[bytes, bytes]]
) -> StreamingResponse:
    """A large (or unsized) answer streams to the client, the replica's slot released when done."""

    async def release() -> None:
        await answer.aclose()
        replica.leave()

    streaming = StreamingResponse(
        answer.chunks(), status_code=answer.status, background=BackgroundTask(release)
    )
    streaming.raw_headers = headers
    return streaming
