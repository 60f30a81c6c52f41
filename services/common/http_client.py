"""The inter-service HTTP client: pooled, with timeouts, forwarding the request id and a token."""

from __future__ import annotations

import httpx

from services.common.observability import current_request_id

DEFAULT_TIMEOUT = httpx.Timeout(5.0, connect=2.0)


async def _add_request_id(request: httpx.Request) -> None:
    request_id = current_request_id()
    if request_id and "x-request-id" not in request.headers:
        request.headers["x-request-id"] = request_id


def make_client(
    base_url: str = "",
    *,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    transport: httpx.AsyncBaseTransport | None = None,
    token: str | None = None,
) -> httpx.AsyncClient:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=timeout,
        transport=transport,
        headers=headers,
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        event_hooks={"request": [_add_request_id]},
    )
