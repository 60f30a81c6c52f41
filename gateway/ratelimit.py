"""Per-caller token buckets: a steady rate with a burst allowance.

In memory per gateway process by default; with ``REDIS_URL`` (or ``GATEWAY_REDIS_URL``) the
buckets live in Redis, so every gateway replica draws on the same bucket for a caller. One Lua
script reads, refills, takes and writes a bucket atomically, on Redis's own clock, so replicas
with drifting clocks still agree. If Redis cannot be reached the gateway fails open to its own
in-memory buckets: each replica then limits on its own (a caller may get N times the rate behind
N replicas) rather than refusing every request, and a warning is logged; Redis is tried again
after ``retry_seconds``.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("bw.gateway")


class Limiter(Protocol):
    async def take(self, caller: str) -> float:
        """Take one token; 0 if allowed, else the seconds until one is available."""
        ...

    async def aclose(self) -> None: ...


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, per_minute: int, burst: int, max_callers: int = 100_000) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_callers = max_callers
        self._buckets: dict[str, _Bucket] = {}

    def check(self, caller: str, now: float | None = None) -> float:
        """Take one token; return 0 if allowed, else the seconds until one is available."""
        now = time.monotonic() if now is None else now
        bucket = self._buckets.get(caller)
        if bucket is None:
            if len(self._buckets) >= self.max_callers:
                self._buckets.clear()
            bucket = self._buckets[caller] = _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        if self.rate <= 0:
            return 60.0
        return max(1.0, math.ceil((1 - bucket.tokens) / self.rate))

    async def take(self, caller: str) -> float:
        return self.check(caller)

    async def aclose(self) -> None:
        return None


# KEYS[1] the bucket; ARGV rate per second, burst. Numbers go back as strings: Redis turns a Lua
# number into an integer, which would cut the fractional tokens a slow rate depends on.
TOKEN_BUCKET = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = tonumber(state[1])
local updated = tonumber(state[2])
if tokens == nil or updated == nil then
  tokens = burst
  updated = now
end
tokens = math.min(burst, tokens + math.max(0, now - updated) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
elseif rate <= 0 then
  wait = 60
else
  wait = math.max(1, math.ceil((1 - tokens) / rate))
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now))
local ttl = 60
if rate > 0 then
  ttl = math.ceil(burst / rate) + 1
end
redis.call('EXPIRE', KEYS[1], ttl)
return tostring(wait)
"""


class RedisRateLimiter:
    """The same buckets as ``RateLimiter``, shared through Redis."""

    def __init__(
        self,
        url: str,
        per_minute: int,
        burst: int,
        *,
        prefix: str = "bw:ratelimit:",
        timeout: float = 0.25,
        retry_seconds: float = 5.0,
    ) -> None:
        self.redis = Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, decode_responses=True
        )
        self.script = self.redis.register_script(TOKEN_BUCKET)
        self.args = (repr(per_minute / 60.0), repr(float(burst)))
        self.prefix = prefix
        self.retry_seconds = retry_seconds
        self.local = RateLimiter(per_minute, burst)
        self.down_until = 0.0

    async def take(self, caller: str) -> float:
        now = time.monotonic()
        if now >= self.down_until:
            try:
                return float(await self.script(keys=[self.prefix + caller], args=self.args))
            except RedisError as exc:
                self.down_until = now + self.retry_seconds
                log.warning(
                    "redis unreachable; rate limits kept per gateway process for now",
                    extra={"error": f"{type(exc).__name__}: {exc}"},
                )
        return self.local.check(caller, now)

    async def aclose(self) -> None:
        await self.redis.aclose()


def make_limiter(
    redis_url: str | None, per_minute: int, burst: int, prefix: str = "bw:ratelimit:"
) -> Limiter:
    if redis_url:
        return RedisRateLimiter(redis_url, per_minute, burst, prefix=prefix)
    return RateLimiter(per_minute, burst)
