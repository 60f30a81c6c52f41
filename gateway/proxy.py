"""Forwarding a request to the service that owns its path, without buffering large bodies."""

from __future__ import annotations

import httpx
from fastapi import Request
from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse

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
        if name not in HOP_BY_HOP and name not in IDENTITY_HEADERS
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


async def forward(
    request: Request,
    client: httpx.AsyncClient,
    service: str,
    *,
    identity: dict[str, str],
) -> Response:
    declared = request.headers.get("content-length")
    has_body = request.method not in {"GET", "HEAD", "OPTIONS", "DELETE"} or declared not in (
        None,
        "0",
    )
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    target = raw_path.decode("latin-1")
    if request.url.query:
        target += "?" + request.url.query
    upstream_request = client.build_request(
        request.method,
        target,
        headers=_request_headers(request, identity),
        content=request.stream() if has_body else None,
    )
    try:
        upstream = await client.send(upstream_request, stream=True)
    except httpx.TimeoutException:
        return problem_response(
            request, 504, f"The {service} service did not answer in time.", service=service
        )
    except httpx.TransportError:
        return problem_response(
            request, 503, f"The {service} service is unavailable.", service=service
        )
    response_headers = [
        (name, value) for name, value in upstream.headers.multi_items() if name not in HOP_BY_HOP
    ]
    length = upstream.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) <= BUFFER_RESPONSE_BELOW:
        try:
            body = await _raw_body(upstream)
        finally:
            await upstream.aclose()
        response = Response(content=body, status_code=upstream.status_code)
        response.raw_headers = [
            (k.encode("latin-1"), v.encode("latin-1")) for k, v in response_headers
        ]
        return response
    streaming = StreamingResponse(
        upstream.aiter_raw(),
        status_code=upstream.status_code,
        background=BackgroundTask(upstream.aclose),
    )
    streaming.raw_headers = [
        (k.encode("latin-1"), v.encode("latin-1")) for k, v in response_headers
    ]
    return streaming
