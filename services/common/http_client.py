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
    The caller sees an error only when every replica has failed."""

    def __init__(self, urls: list[str], inner: httpx.AsyncBaseTransport) -> None:
        self.replicas = [httpx.URL(url) for url in urls]
        if len({replica.raw_path for replica in self.replicas}) > 1:
            raise ValueError(f"replicas of one service differ only in host and port: {urls}")
        self.inner = inner
        self.preferred = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        count = len(self.replicas)
        repeatable = request.method in IDEMPOTENT_METHODS or "idempotency-key" in request.headers
        for step in range(count):
            index = (self.preferred + step) % count
            replica = self.replicas[index]
            request.url = request.url.copy_with(
                scheme=replica.scheme, host=replica.host, port=replica.port
            )
            request.headers["host"] = request.url.netloc.decode("ascii")
            try:
                response = await self.inner.handle_async_request(request)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                if step == count - 1:
                    raise
            except (httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError):
                if not repeatable or step == count - 1:
                    raise
            else:
                self.preferred = index
                return response
        raise AssertionError("unreachable: the last replica's failure is raised")

    async def aclose(self) -> None:
        await self.inner.aclose()


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
    """A client of one service: ``base_url`` is its URL, or its replicas' URLs separated by
    commas (then each request goes to a live one, see :class:`ReplicaFailover`)."""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    urls = split_urls(base_url) if "," in base_url else []
    if len(urls) > 1:
        inner = transport or httpx.AsyncHTTPTransport(limits=POOL_LIMITS)
        transport = ReplicaFailover(urls, inner)
        base_url = urls[0]
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=timeout,
        transport=transport,
        headers=headers,
        limits=POOL_LIMITS,
        event_hooks={"request": [_add_request_id]},
    )
