"""A service as the gateway sees it: one or more replicas, each with its own pooled transport,
circuit breaker, health and count of requests in flight.

Requests go to the healthy replica with the fewest requests in flight (ties taken in turn), so a
slow replica gets less work and a dead one none. A replica leaves the rotation the moment a
connection to it fails and comes back when the background health check sees it answer again;
with one replica there is nothing to choose and the behaviour is the single-URL one: every
request is tried unless its circuit is open.

Each replica takes at most ``max_concurrency`` requests at once from this gateway; the rest wait
here, first come first served (HAProxy's ``maxconn`` with its queue). A service process is one
event loop: given 100 requests at once it interleaves them all, so each takes 100 times as long,
a transaction holds SQLite's write lock across every other request's turn, and the pool runs
dry. Under bench_load's 200 clients that gave p99s of 13-15 s, pool timeouts and lock timeouts
(500s and 504s); kept to a few at a time, a request is quick once it starts and the wait is in
a fair queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

from gateway.resilience import CircuitBreaker, CircuitState

log = logging.getLogger("bw.gateway")

TransportFactory = Callable[[str], httpx.AsyncBaseTransport]


@dataclass(eq=False)
class Replica:
    """One process of a service. Requests go straight to the transport: the client layer's URL
    merging, cookie jar and redirect handling cost more than the rest of the proxy."""

    base_url: httpx.URL
    transport: httpx.AsyncBaseTransport
    breaker: CircuitBreaker
    healthy: bool = True
    outstanding: int = 0  # requests for this replica in flight or waiting for a slot
    max_concurrency: int = 0  # requests sent at once; 0: no limit
    client: httpx.AsyncClient = field(init=False)
    host_header: bytes = field(init=False)  # what httpx would send as Host, worked out once

    def __post_init__(self) -> None:
        self._slots = asyncio.Semaphore(self.max_concurrency) if self.max_concurrency else None
        self.host_header = self.base_url.netloc
        # The gateway's own calls (health, OpenAPI) share the pool; closing it closes both.
        self.client = httpx.AsyncClient(
            transport=self.transport, base_url=self.base_url, timeout=5.0
        )

    async def enter(self, wait_seconds: float) -> bool:
        """Count a request for this replica and wait for a slot, in arrival order; False (and
        not counted) when none came free within ``wait_seconds``. Pair with :meth:`leave`."""
        self.outstanding += 1
        if self._slots is None:
            return True
        try:
            async with asyncio.timeout(wait_seconds):
                await self._slots.acquire()
        except TimeoutError:
            self.outstanding -= 1
            return False
        except BaseException:  # the client left while waiting
            self.outstanding -= 1
            raise
        return True

    def leave(self) -> None:
        """The request is done with the replica: its answer read, or it failed."""
        self.outstanding -= 1
        if self._slots is not None:
            self._slots.release()


@dataclass(eq=False)
class Upstream:
    """A service's replicas and the rule that picks one for the next attempt."""

    name: str
    replicas: list[Replica]
    connect_timeout: float
    queue_timeout: float = 30.0  # the longest a request waits for a replica's free slot
    _turn: itertools.count[int] = field(default_factory=itertools.count, init=False)

    @property
    def base_url(self) -> httpx.URL:
        return self.replicas[0].base_url

    @property
    def client(self) -> httpx.AsyncClient:
        """A client for the gateway's own calls: a healthy replica's when there is one."""
        return next((r.client for r in self.replicas if r.healthy), self.replicas[0].client)

    def pick(self, tried: Sequence[Replica] = ()) -> Replica | float:
        """The replica for the next attempt, or the seconds until one may be tried.

        Healthy replicas with a closed circuit come first, fewest in flight, ties in turn. Then
        any untried one its circuit lets through (a half-open trial, or one the health check
        last saw down: its view may be stale and a refused connection costs little). Among
        several, a replica already tried for this request is never picked again (it just failed;
        another try there could take the request's last chance while a healthy one waits); with
        a single URL the one replica is tried once more."""
        fresh = [r for r in self.replicas if r not in tried]
        ready = [r for r in fresh if r.healthy and r.breaker.state() is CircuitState.CLOSED]
        if ready:
            start = next(self._turn) % len(ready)
            turned = ready[start:] + ready[:start]
            return min(turned, key=lambda replica: replica.outstanding)
        waits: list[float] = []
        for replica in sorted(fresh, key=lambda r: not r.healthy):
            wait = replica.breaker.allow()
            if not wait:
                return replica
            waits.append(wait)
        if tried and len(self.replicas) == 1:
            return tried[-1]
        return min(waits) if waits else 1.0

    def eject(self, replica: Replica) -> None:
        """Out of the rotation until a health check brings it back (only among several)."""
        if len(self.replicas) > 1 and replica.healthy:
            replica.healthy = False
            log.warning(
                "replica ejected", extra={"service": self.name, "url": str(replica.base_url)}
            )

    async def aclose(self) -> None:
        for replica in self.replicas:
            await replica.client.aclose()  # closes the shared transport too


def build_upstream(
    name: str,
    urls: Sequence[str],
    transport_for: TransportFactory,
    *,
    failure_threshold: int,
    reset_seconds: float,
    connect_timeout: float,
    max_concurrency: int = 0,
    queue_timeout: float = 30.0,
) -> Upstream:
    replicas = [
        Replica(
            base_url=httpx.URL(url),
            transport=transport_for(url),
            breaker=CircuitBreaker(failure_threshold, reset_seconds),
            max_concurrency=max_concurrency,
        )
        for url in urls
    ]
    return Upstream(
        name=name, replicas=replicas, connect_timeout=connect_timeout, queue_timeout=queue_timeout
    )


class HealthChecker:
    """Asks every replica of every replicated service for ``path`` each ``interval`` seconds:
    a 200 brings a replica back (and closes its circuit), anything else takes it out."""

    def __init__(
        self, upstreams: Sequence[Upstream], path: str, interval: float, timeout: float
    ) -> None:
        self.upstreams = [u for u in upstreams if len(u.replicas) > 1]
        self.path = path
        self.interval = interval
        self.timeout = timeout
        self._task: asyncio.Task[None] | None = None

    async def check_once(self) -> None:
        checks = [
            self._check(upstream, replica)
            for upstream in self.upstreams
            for replica in upstream.replicas
        ]
        await asyncio.gather(*checks)

    async def _check(self, upstream: Upstream, replica: Replica) -> None:
        try:
            answer = await replica.client.get(self.path, timeout=self.timeout)
            ok = answer.status_code == 200
        except httpx.HTTPError:
            ok = False
        if ok and not replica.healthy:
            log.info("replica back", extra={"service": upstream.name, "url": str(replica.base_url)})
        if ok:
            replica.healthy = True
            replica.breaker.record_success()
        else:
            upstream.eject(replica)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.check_once()
            except Exception:  # a bug here must not stop the checks for good
                log.exception("health check failed")

    def start(self) -> None:
        if self.upstreams and self.interval > 0:
            self._task = asyncio.create_task(self._run(), name="gateway-health-checks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
