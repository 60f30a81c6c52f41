"""A circuit breaker per service, so a dead service costs callers milliseconds, not timeouts."""

from __future__ import annotations

import time
from enum import StrEnum


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Opens after ``failure_threshold`` consecutive failures; after ``reset_seconds`` lets one
    trial request through (half-open); a success closes it, a failure opens it again."""

    def __init__(self, failure_threshold: int = 5, reset_seconds: float = 5.0) -> None:
        self.failure_threshold = failure_threshold
        self.reset_seconds = reset_seconds
        self.failures = 0
        self.opened_at: float | None = None
        self.trial_in_flight = False

    def state(self, now: float | None = None) -> CircuitState:
        if self.opened_at is None:
            return CircuitState.CLOSED
        now = time.monotonic() if now is None else now
        if now - self.opened_at >= self.reset_seconds:
            return CircuitState.HALF_OPEN
        return CircuitState.OPEN

    def allow(self, now: float | None = None) -> float:
        """0 if a request may go through now, else seconds until the next trial."""
        now = time.monotonic() if now is None else now
        state = self.state(now)
        if state is CircuitState.CLOSED:
            return 0.0
        if state is CircuitState.HALF_OPEN and not self.trial_in_flight:
            self.trial_in_flight = True
            return 0.0
        assert self.opened_at is not None
        return max(0.1, self.reset_seconds - (now - self.opened_at))

    def record_success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self.trial_in_flight = False

    def record_failure(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self.failures += 1
        if self.trial_in_flight or self.failures >= self.failure_threshold:
            self.opened_at = now
        self.trial_in_flight = False
