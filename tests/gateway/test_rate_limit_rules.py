"""The token bucket, rule by rule (issue 15), on a clock the test holds: a burst, then the
steady rate; the wait it announces; each caller's own bucket; and the memory bound."""

from __future__ import annotations

import pytest

from gateway.ratelimit import RateLimiter


def test_a_new_caller_gets_the_whole_burst_then_waits() -> None:
    limiter = RateLimiter(per_minute=60, burst=3)
    assert [limiter.check("a", now=100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.check("a", now=100.0) == 1.0


def test_tokens_come_back_at_the_steady_rate_and_never_beyond_the_burst() -> None:
    limiter = RateLimiter(per_minute=60, burst=2)  # one token a second
    assert limiter.check("a", now=0.0) == 0.0
    assert limiter.check("a", now=0.0) == 0.0
    assert limiter.check("a", now=0.5) == 1.0  # half a token: not yet
    assert limiter.check("a", now=1.0) == 0.0  # the whole token is back
    assert limiter.check("a", now=1.0) == 1.0
    # A long pause refills to the burst, no further: two calls pass, the third waits.
    assert [limiter.check("a", now=1000.0) for _ in range(3)] == [0.0, 0.0, 1.0]


def test_the_wait_is_the_whole_seconds_until_the_next_token() -> None:
    limiter = RateLimiter(per_minute=6, burst=1)  # a token every ten seconds
    assert limiter.check("a", now=0.0) == 0.0
    assert limiter.check("a", now=0.0) == 10.0
    assert limiter.check("a", now=2.5) == 8.0  # 7.5 seconds, rounded up
    assert limiter.check("a", now=9.5) == 1.0  # half a second is announced as one


def test_a_refused_call_takes_no_token() -> None:
    limiter = RateLimiter(per_minute=60, burst=1)
    assert limiter.check("a", now=0.0) == 0.0
    for _ in range(5):
        assert limiter.check("a", now=0.5) == 1.0
    assert limiter.check("a", now=1.0) == 0.0


def test_each_caller_has_its_own_bucket() -> None:
    limiter = RateLimiter(per_minute=60, burst=1)
    assert limiter.check("a", now=0.0) == 0.0
    assert limiter.check("a", now=0.0) == 1.0
    assert limiter.check("b", now=0.0) == 0.0


def test_a_zero_rate_allows_the_burst_then_a_minute_wait() -> None:
    limiter = RateLimiter(per_minute=0, burst=1)
    assert limiter.check("a", now=0.0) == 0.0
    assert limiter.check("a", now=3600.0) == 60.0


def test_past_max_callers_the_buckets_start_afresh() -> None:
    limiter = RateLimiter(per_minute=60, burst=1, max_callers=2)
    limiter.check("a", now=0.0)
    limiter.check("b", now=0.0)
    assert limiter.check("a", now=0.0) == 1.0  # two callers: both remembered
    limiter.check("c", now=0.0)  # a third: memory is cleared first
    assert limiter.check("a", now=0.0) == 0.0
    assert limiter.check("c", now=0.0) == 1.0


def test_the_default_bound_is_a_hundred_thousand_callers() -> None:
    assert RateLimiter(per_minute=60, burst=1).max_callers == 100_000


@pytest.mark.parametrize(("per_minute", "rate"), [(60, 1.0), (120, 2.0), (30, 0.5)])
def test_the_rate_is_per_second(per_minute: int, rate: float) -> None:
    assert RateLimiter(per_minute=per_minute, burst=1).rate == rate


def test_without_a_clock_the_monotonic_one_is_used() -> None:
    limiter = RateLimiter(per_minute=1, burst=1)
    assert limiter.check("a") == 0.0
    assert limiter.check("a") >= 59.0  # refused: the monotonic clock moved on by a moment
