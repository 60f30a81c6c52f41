"""Delivery policy that needs no database: when to retry, when to give up on an endpoint, and
which URLs we may call at all."""

from __future__ import annotations

import ipaddress
import random
import socket
from urllib.parse import urlsplit

from services.common.problems import Problem, field_error


def retry_delay(
    attempts: int, base: float, maximum: float, rand: random.Random | None = None
) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones: exponential (base, 2x,
    4x ...) capped at ``maximum``, with "full jitter" in the upper half so that many
    subscriptions failing together do not retry in lockstep."""
    ceiling = min(maximum, base * 2 ** max(0, attempts - 1))
    return float(ceiling / 2 + (rand or random).uniform(0, ceiling / 2))


def should_disable(
    failures: int, failing_for_seconds: float, min_failures: int, min_seconds: float
) -> bool:
    """An endpoint is disabled only after a *sustained* failure: enough consecutive failed
    attempts AND failing for long enough, so a short outage never disables anyone."""
    return failures >= min_failures and failing_for_seconds >= min_seconds


def _refuse(detail: str) -> Problem:
    return Problem(
        422,
        detail,
        title="Unacceptable webhook URL",
        errors=[field_error(detail, "body", "url")],
    )


def _is_private(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return not ip.is_global or ip.is_multicast


def check_url(url: str, allow_private: bool) -> None:
    """Refuse URLs that would let a subscriber make the platform call inside its own network
    (server-side request forgery): https only, and no loopback, private, link-local or reserved
    address, unless ``allow_private`` (development, tests with a loopback receiver)."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise _refuse("The URL must be an absolute https:// URL.")
    if allow_private:
        return
    if parts.scheme != "https":
        raise _refuse("The URL must use https.")
    if parts.username or parts.password:
        raise _refuse("The URL must not carry credentials.")
    host = parts.hostname
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise _refuse(f"The host {host} does not resolve.") from None
    if any(_is_private(str(info[4][0])) for info in infos):
        raise _refuse(f"The host {host} resolves to a private or loopback address.")
