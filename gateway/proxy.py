"""Forwarding a request to the service that owns its path, without buffering large bodies."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator

import httpx
from fastapi import Request
from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect
from starlette.responses import Response, StreamingResponse

from gateway.replicas import Replica, Upstream
from gateway.upstream_http import Http1Transport, StaleConnectionError
from services.common.problems import problem_response

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
    }
)
# Identity headers only the gateway may set; a client's own copies are dropped.
IDENTITY_HEADERS = frozenset({"x-bw-subject", "x-bw-role", "x-forwarded-user"})
# Where the request came from is the gateway's word alone (ClientAddressMiddleware decided it);
# a client's claims, or a trusted proxy's chain already resolved, are not passed on.
CLIENT_ADDRESS_HEADERS = frozenset({"x-forwarded-for", "forwarded", "x-real-ip"})
BUFFER_RESPONSE_BELOW = 256 * 1024


def route_for(path: str, routes: dict[str, str]) -> str | None:
    for prefix, service in routes.items():
        if path == prefix or path.startswith(prefix + "/"):
            return service
    return None


def _request_headers(request: Request, identity: dict[str, str]) -> list[tuple[str, str]]:
    headers = [
        (name, value)
        for name, value in request.headers.items()
        if name not in HOP_BY_HOP
        and name not in IDENTITY_HEADERS
        and name not in CLIENT_ADDRESS_HEADERS
    ]
    headers.append(("x-request-id", request.state.request_id))
    client = request.client.host if request.client else ""
    headers.append(("x-forwarded-for", client))
    headers.extend(identity.items())
    return headers


async def _raw_body(upstream: httpx.Response) -> bytes:
    """The body as sent (still compressed if it was), so headers stay true."""
    try:
        return b"".join([chunk async for chunk in upstream.aiter_raw()])
    except httpx.StreamConsumed:  # already read by a transport (in-process tests)
        return upstream.content


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


def replayable(request: Request) -> bool:
    """Reads, and writes the service itself deduplicates by Idempotency-Key: sending one twice
    cannot do twice what it asks. Any other write goes out once, whatever happens."""
    return request.method in RETRYABLE_METHODS or "idempotency-key" in request.headers


def _target(request: Request) -> bytes:
    """The request target as the client sent it (its own percent-encoding kept)."""
    raw_path: bytes = request.scope.get("raw_path") or request.url.path.encode()
    query: bytes = request.scope.get("query_string", b"")
    return raw_path + b"?" + query if query else raw_path


def _url(replica: Replica, target: bytes) -> tuple[httpx.URL, dict[str, object]]:
    """The gateway's own client takes the target as is (no URL parsed per request); any other
    transport (tests' in-process ones) gets the full URL."""
    if isinstance(replica.transport, Http1Transport):
        return replica.base_url, {"target": target}
    return replica.base_url.copy_with(raw_path=target), {}


async def _body(request: Request, replay: bool) -> bytes | AsyncIterator[bytes] | None:
    """None when there is no body; bytes when it may be sent again or is small; else the
    stream, sent once as it arrives."""
    declared = request.headers.get("content-length")
    if declared == "0" or (declared is None and "transfer-encoding" not in request.headers):
        return None
    if replay or (declared is not None and declared.isdigit() and int(declared) <= 65536):
        return await request.body()  # a small body goes out with the head, in one write
    return request.stream()


async def forward(
    request: Request,
    upstream: Upstream,
    *,
    identity: dict[str, str],
    read_timeout: float,
    retries: int = 1,
    retry_backoff: float = 0.05,
) -> Response:
    """Send the request to one of the service's replicas and pass its answer back.

    A replayable request (see ``replayable``) that fails to connect, loses its connection, or
    meets a 502/503 is tried again, on another replica when there is one (a 502/503 only on
    another: the same one would answer the same). With several replicas it may try each of them
    once (at least ``1 + retries`` attempts), never one already tried, so it fails only when
    none is left; with one replica it tries that one ``1 + retries`` times. A reused connection
    the replica had closed is retried on a new one by the transport and is no failure here. A
    replica's circuit counts one failure per request, however many attempts it took."""
    service = upstream.name
    replay = replayable(request)
    try:
        content = await _body(request, replay)
    except ClientDisconnect:
        return Response(status_code=499)
    headers = _request_headers(request, identity)
    target = _target(request)
    timeouts = {
        "connect": upstream.connect_timeout,
        "read": read_timeout,
        "write": read_timeout,
        "pool": upstream.connect_timeout,
    }
    attempts = max(1 + retries, len(upstream.replicas)) if replay else 1
    tried: list[Replica] = []
    failed: set[int] = set()
    answer: httpx.Response | None = None
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
        url, extensions = _url(replica, target)
        outgoing = httpx.Request(
            request.method,
            url,
            headers=headers,
            content=content,
            extensions={"timeout": timeouts, "replay": replay, **extensions},
        )
        replica.outstanding += 1
        try:
            answer = await replica.transport.handle_async_request(outgoing)
        except ClientDisconnect:
            replica.outstanding -= 1
            return Response(status_code=499)  # the client left; nothing to answer
        except httpx.TransportError as exc:
            replica.outstanding -= 1
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
        if answer.status_code in RETRYABLE_STATUSES and attempt + 1 < attempts:
            following = upstream.pick(tried)
            if isinstance(following, Replica) and following not in tried:
                await answer.aclose()
                replica.outstanding -= 1
                chosen = following
                continue
        break
    assert answer is not None
    replica.breaker.record_success()
    return await _pass_back(answer, replica)


async def _pass_back(answer: httpx.Response, replica: Replica) -> Response:
    """Small answers are read whole (one send); large ones stream, released when done."""
    response_headers = [
        (k.encode("latin-1"), v.encode("latin-1"))
        for k, v in answer.headers.multi_items()
        if k not in HOP_BY_HOP
    ]
    length = answer.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) <= BUFFER_RESPONSE_BELOW:
        try:
            body = await _raw_body(answer)
        finally:
            await answer.aclose()
            replica.outstanding -= 1
        response = Response(content=body, status_code=answer.status_code)
        response.raw_headers = response_headers
        return response

    async def release() -> None:
        await answer.aclose()
        replica.outstanding -= 1

    streaming = StreamingResponse(
        answer.aiter_raw(), status_code=answer.status_code, background=BackgroundTask(release)
    )
    streaming.raw_headers = response_headers
    return streaming
