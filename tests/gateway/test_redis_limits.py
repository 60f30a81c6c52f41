"""Rate-limit buckets in Redis (REDIS_URL): gateway replicas share one bucket per caller, the
take is atomic under concurrency, and a Redis outage falls back to per-process limits instead
of failing requests. Runs against the real Redis at 127.0.0.1:6379, each test under its own
key prefix; skipped when none is reachable, except in CI (``CI`` set), where that fails."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.app import create_app
from gateway.ratelimit import RedisRateLimiter
from gateway.settings import GatewaySettings
from tests.e2e.conftest import free_port
from tests.support import TEST_AUTH, auth_header

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"items": []})


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A key prefix no other test (or run) uses; its keys are removed afterwards."""
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        await client.ping()
    except RedisError as exc:
        await client.aclose()
        if os.environ.get("CI"):
            pytest.fail(f"Redis at {REDIS_URL} is unreachable in CI: {exc}")
        pytest.skip(f"no Redis at {REDIS_URL} ({exc}); CI runs these")
    prefix = f"test:{uuid.uuid4().hex}:"
    yield prefix
    keys = [key async for key in client.scan_iter(match=prefix + "*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def gateway(redis_url: str, prefix: str, burst: int = 3) -> httpx.AsyncClient:
    app = create_app(
        GatewaySettings(
            redis_url=redis_url,
            redis_key_prefix=prefix,
            rate_limit_per_minute=60,
            rate_limit_burst=burst,
        ),
        TEST_AUTH,
        transports={n: httpx.MockTransport(ok) for n in ("assessment", "training", "reporting")},
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")


def test_the_setting_is_redis_url_or_the_gateway_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GATEWAY_REDIS_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert GatewaySettings().redis_url is None
    monkeypatch.setenv("REDIS_URL", "redis://10.0.0.9:6379/0")
    assert GatewaySettings().redis_url == "redis://10.0.0.9:6379/0"
    monkeypatch.setenv("GATEWAY_REDIS_URL", "redis://10.0.0.8:6379/1")
    assert GatewaySettings().redis_url == "redis://10.0.0.8:6379/1"


async def test_two_gateways_share_one_bucket_per_caller(prefix: str) -> None:
    staff = auth_header("staff")
    async with gateway(REDIS_URL, prefix) as one, gateway(REDIS_URL, prefix) as two:
        statuses = [
            (await client.get("/v1/courses", headers=staff)).status_code
            for client in (one, two, one, two, one)
        ]
        last = await two.get("/v1/courses", headers=staff)
        other = await one.get("/v1/courses", headers=auth_header("staff", sub="someone-else"))
    # In memory each gateway would allow 3: six of six would pass.
    assert statuses == [200, 200, 200, 429, 429]
    assert last.status_code == 429 and int(last.headers["retry-after"]) >= 1
    assert other.status_code == 200  # buckets are per caller


async def test_the_take_is_atomic_under_concurrent_replicas(prefix: str) -> None:
    # A generous timeout: a take that timed out would fall back to the process's own bucket,
    # and this test is about Redis's atomicity, not about a loaded machine's latency.
    limiters = [
        RedisRateLimiter(REDIS_URL, per_minute=0, burst=10, prefix=prefix, timeout=10.0)
        for _ in range(4)
    ]
    try:
        waits = await asyncio.gather(*(limiters[n % 4].take("ip:198.51.100.1") for n in range(40)))
    finally:
        for limiter in limiters:
            await limiter.aclose()
    assert sorted(waits).count(0.0) == 10  # exactly the burst, never more
    assert set(waits) == {0.0, 60.0}


async def test_the_bucket_refills_at_the_rate_on_redis_clock(prefix: str) -> None:
    limiter = RedisRateLimiter(REDIS_URL, per_minute=60, burst=1, prefix=prefix)
    client = Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        assert await limiter.take("sub:u1") == 0.0
        assert await limiter.take("sub:u1") == 1.0  # one token a second: wait a second
        # Pretend the last take was two seconds ago: the bucket is full again.
        key = prefix + "sub:u1"
        updated = float(await client.hget(key, "updated") or 0)
        await client.hset(key, "updated", repr(updated - 2))
        assert await limiter.take("sub:u1") == 0.0
        assert 0 < await client.ttl(key) <= 2  # idle buckets expire once full again
    finally:
        await limiter.aclose()
        await client.aclose()


async def test_with_redis_down_limits_fall_back_to_the_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Fail open to local buckets: requests keep flowing, each replica still limits alone."""
    down = f"redis://127.0.0.1:{free_port()}/0"
    async with gateway(down, "test:down:") as client:
        statuses = [(await client.get("/v1/reports/freshness")).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    assert any("redis unreachable" in record.getMessage() for record in caplog.records)
