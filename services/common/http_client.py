"""The inter-service HTTP client: pooled, with timeouts, forwarding the request id and a token,
and spread over a service's replicas when it is given several URLs."""

from __future__ import annotations

import httpx

from services.common.observability import current_request_id

DEFAULT_TIMEOUT = httpx.Timeout(5.0, connect=2.0)
POOL_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)
# Methods a replica may be asked again after another failed mid-answer (RFC 9110 9.2.2).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


def split_urls(value: str) -> list[str]:
    """``http://a:8001,http://b:8001`` -> both; a single URL is a list of one."""
    urls = [part.strip().rstrip("/") for part in value.split(",") if part.strip()]
    if not urls:
        raise ValueError("a service needs at least one URL")
    for url in urls:
        parsed = httpx.URL(url)
        if parsed.scheme not in {"http", "https"} or not parsed.host:
            raise ValueError(f"not an http(s) URL: {url!r}")
    return urls


class ReplicaFailover(httpx.AsyncBaseTransport):
    """Sends each request to one of a service's replicas, the one that answered last first.

    A replica that refuses the connection never saw the request, so any request moves on to
    the next one. A replica that dies mid-answer may have acted on it, so only an idempotent
    request (or a write carrying an Idempotency-Key, which the service replays) is sent again.
    The caller sees an error only when every replica has failed. With one replica such a
    request goes to it twice: the usual mid-answer failure there is a kept-alive connection the
    service closed (idle) just as the request crossed it, and a new connection answers."""

    def __init__(self, urls: list[str], inner: httpx.AsyncBaseTransport) -> None:
        self.replicas = [httpx.URL(url) for url in urls]
        if len({replica.raw_path for replica in self.replicas}) > 1:
            raise ValueError(f"replicas of one service differ only in host and port: {urls}")
        self.inner = inner
        self.preferred = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        order = [(self.preferred + step) % len(self.replicas) for step in range(len(self.replicas))]
        if len(order) == 1:
            order *= 2
        keyed = "idempotency-key" in request.headers
        repeatable = request.method in IDEMPOTENT_METHODS or keyed
        for index in order[:-1]:
            try:
                return await self._send(request, index)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                continue
            except (httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError):
                if not repeatable:
                    raise
        return await self._send(request, order[-1])

    async def _send(self, request: httpx.Request, index: int) -> httpx.Response:
        replica = self.replicas[index]
        request.url = request.url.copy_with(
            scheme=replica.scheme, host=replica.host, port=replica.port
        )
        netloc = request.url.netloc.decode()
        request.headers["host"] = netloc
        response = await self.inner.handle_async_request(request)
        self.preferred = index
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


async def _add_request_id(request: httpx.Request) -> None:
    request_id = current_request_id()
    if request_id:
        request.headers.setdefault("x-request-id", request_id)


def make_client(
    base_url: str = "",
    *,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    transport: httpx.AsyncBaseTransport | None = None,
    token: str | None = None,
) -> httpx.AsyncClient:
    """A client of one service: ``base_url`` is its URL, or its replicas' URLs separated by
    commas; each request goes to a live one (see :class:`ReplicaFailover`)."""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    if base_url:
        urls = split_urls(base_url)
        base_url = urls[0]
        inner = transport or httpx.AsyncHTTPTransport(limits=POOL_LIMITS)
        transport = ReplicaFailover(urls, inner)
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=timeout,
        transport=transport,
        headers=headers,
        limits=POOL_LIMITS,
        event_hooks={"request": [_add_request_id]},
    )
