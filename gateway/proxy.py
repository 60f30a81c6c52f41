"""Forwarding a request to the service that owns its path, without buffering large bodies."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field

import httpx
from fastapi import Request
from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect
from starlette.responses import Response, StreamingResponse

from gateway.resilience import CircuitBreaker
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


@dataclass
class Upstream:
    """One service as the gateway sees it: a pooled transport and its circuit breaker.

    Requests go straight to the transport: the client layer's URL merging, cookie jar and
    redirect handling cost more than the rest of the proxy and a proxy needs none of them.
    """

    name: str
    base_url: httpx.URL
    transport: httpx.AsyncBaseTransport
    breaker: CircuitBreaker
    connect_timeout: float
    client: httpx.AsyncClient = field(init=False)

    def __post_init__(self) -> None:
        # The gateway's own calls (health, OpenAPI) share the pool; closing it closes both.
        self.client = httpx.AsyncClient(
            transport=self.transport, base_url=self.base_url, timeout=5.0
        )


def _unavailable(request: Request, service: str, retry_after: float) -> Response:
    return problem_response(
        request,
        503,
        f"The {service} service is unavailable; try again shortly.",
        headers={"Retry-After": str(max(1, math.ceil(retry_after)))},
        service=service,
    )


async def forward(
    request: Request,
    upstream: Upstream,
    *,
    identity: dict[str, str],
    read_timeout: float,
    retries: int = 1,
    retry_backoff: float = 0.05,
) -> Response:
    service = upstream.name
    wait = upstream.breaker.allow()
    if wait:
        return _unavailable(request, service, wait)
    declared = request.headers.get("content-length")
    bodiless = request.method in {"GET", "HEAD", "OPTIONS", "DELETE"} and declared in (None, "0")
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    target = raw_path.decode("latin-1")
    if request.url.query:
        target += "?" + request.url.query
    url = upstream.base_url.copy_with(raw_path=target.encode("latin-1"))
    timeouts = {
        "connect": upstream.connect_timeout,
        "read": read_timeout,
        "write": read_timeout,
        "pool": upstream.connect_timeout,
    }
    attempts = 1 + (retries if bodiless else 0)
    for attempt in range(attempts):
        outgoing = httpx.Request(
            request.method,
            url,
            headers=_request_headers(request, identity),
            content=None if bodiless else request.stream(),
            extensions={"timeout": timeouts},
        )
        try:
            answer = await upstream.transport.handle_async_request(outgoing)
            break
        except ClientDisconnect:
            return Response(status_code=499)  # the client left; nothing to answer
        except httpx.TimeoutException:
            upstream.breaker.record_failure()
            return problem_response(
                request, 504, f"The {service} service did not answer in time.", service=service
            )
        except httpx.TransportError:
            # Only a request that never reached the service (no body to replay) is retried.
            if attempt + 1 < attempts:
                await asyncio.sleep(retry_backoff * (2**attempt))
                continue
            upstream.breaker.record_failure()
            return _unavailable(request, service, upstream.breaker.reset_seconds)
    upstream.breaker.record_success()
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
        response = Response(content=body, status_code=answer.status_code)
        response.raw_headers = response_headers
        return response
    streaming = StreamingResponse(
        answer.aiter_raw(),
        status_code=answer.status_code,
        background=BackgroundTask(answer.aclose),
    )
    streaming.raw_headers = response_headers
    return streaming
