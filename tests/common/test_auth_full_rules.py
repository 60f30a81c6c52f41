"""Token rules the whole (unsampled) mutation run of services/common/auth.py found unpinned
(issue 15): the verified-token cache (it spares the signature check, per settings, within a
bound), the clock's leeway, the words of two refusals, the latest expiry allowed, and how long
a development token lasts."""

from __future__ import annotations

import time
from datetime import datetime, tzinfo
from typing import Any

import jwt
import pytest
from starlette.requests import Request

import services.common.auth as auth
from services.common.auth import Access, Role, mint_token, verify_token
from services.common.problems import Problem
from services.common.settings import AuthSettings

SETTINGS = AuthSettings(
    jwt_secret="auth-full-rules-secret-long-enough-for-hs256-and-hs512-0123456789abcdef",
    issuer="bw-full-rules",
    audience="bw-platform",
)
OTHER = AuthSettings(
    jwt_secret="another-deployments-secret-long-enough-for-hs256-9",
    issuer="bw-full-rules",
    audience="bw-platform",
)


def signed(settings: AuthSettings = SETTINGS, algorithm: str = "HS256", **claims: Any) -> str:
    payload = {
        "sub": "someone",
        "role": "staff",
        "iss": settings.issuer,
        "aud": settings.audience,
        "exp": int(time.time()) + 600,
    } | claims
    return jwt.encode(payload, settings.secret(), algorithm=algorithm)


def refusal(token: str, settings: AuthSettings = SETTINGS) -> str:
    with pytest.raises(Problem) as caught:
        verify_token(token, settings)
    assert caught.value.status == 401
    return caught.value.detail


@pytest.fixture
def signature_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each token whose signature is checked, in an empty cache of its own."""
    checks: list[str] = []
    real = auth._verify_token

    def counting(token: str, settings: AuthSettings) -> tuple[auth.Principal, float]:
        checks.append(token)
        return real(token, settings)

    monkeypatch.setattr(auth, "_verify_token", counting)
    monkeypatch.setattr(auth, "_VERIFIED", {})
    return checks


def test_a_token_verified_once_is_served_from_memory(signature_checks: list[str]) -> None:
    token = signed(sub="busy")
    first = verify_token(token, SETTINGS)
    assert auth.already_verified(token, SETTINGS) == first
    assert [verify_token(token, SETTINGS) for _ in range(3)] == [first] * 3
    assert signature_checks == [token]


def test_a_token_verified_under_one_secret_is_not_taken_under_another(
    signature_checks: list[str],
) -> None:
    """Two apps in one process (tests, or a gateway beside a service) keep separate caches:
    a token one deployment's secret signed is still refused by the other's."""
    token = signed(SETTINGS, sub="mine")
    assert verify_token(token, SETTINGS).subject == "mine"
    assert auth.already_verified(token, OTHER) is None
    assert refusal(token, OTHER).startswith("The token is not valid: ")


def test_an_expired_token_is_no_longer_served_from_memory(signature_checks: list[str]) -> None:
    token = signed(sub="short")
    auth._VERIFIED[(id(SETTINGS), token)] = (auth.Principal("short", "staff"), time.time() - 1)
    assert auth.already_verified(token, SETTINGS) is None


class _State:
    auth_settings = SETTINGS


class _App:
    state = _State()


def request_with(token: str) -> Request:
    headers = [(b"authorization", f"Bearer {token}".encode())]
    return Request(
        {"type": "http", "method": "GET", "path": "/", "headers": headers, "app": _App()}
    )


async def test_a_route_serves_a_verified_token_from_memory(signature_checks: list[str]) -> None:
    token = signed(sub="busy")
    first = await Access(Role.STAFF)(request_with(token))
    again = [await Access(Role.STAFF, Role.ADMIN)(request_with(token)) for _ in range(3)]
    assert again == [first] * 3 and first.subject == "busy"
    assert signature_checks == [token]


async def test_a_route_never_serves_an_expired_token_from_memory(
    signature_checks: list[str],
) -> None:
    """A token remembered as verified, its expiry passed (by more than the leeway), is checked
    again, and refused as expired: the cache must not let it through."""
    token = signed(sub="gone", exp=int(time.time()) - 3600)
    auth._VERIFIED[(id(SETTINGS), token)] = (auth.Principal("gone", "staff"), time.time() - 1)
    with pytest.raises(Problem) as caught:
        await Access(Role.STAFF)(request_with(token))
    assert (caught.value.status, caught.value.detail) == (401, "The token has expired.")
    assert signature_checks == [token]


class _FrozenDatetime:
    """PyJWT's clock (``datetime.now(tz=timezone.utc)``), stopped at ``at``."""

    def __init__(self, at: float) -> None:
        self.at = at

    def now(self, tz: tzinfo | None = None) -> datetime:
        return datetime.fromtimestamp(self.at, tz)


async def test_a_route_refuses_a_remembered_token_once_its_expiry_passes(
    signature_checks: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Verified while valid and remembered; once the clock passes its expiry and the leeway,
    the next request is refused, not served from memory."""
    now = time.time()
    token = signed(sub="brief", exp=int(now) + 60)
    assert (await Access(Role.STAFF)(request_with(token))).subject == "brief"
    later = now + 60 + SETTINGS.leeway_seconds + 5
    monkeypatch.setattr(time, "time", lambda: later)
    monkeypatch.setattr(jwt.api_jwt, "datetime", _FrozenDatetime(later))
    with pytest.raises(Problem) as caught:
        await Access(Role.STAFF)(request_with(token))
    assert (caught.value.status, caught.value.detail) == (401, "The token has expired.")
    assert signature_checks == [token, token]


async def test_a_remembered_token_is_refused_by_a_route_of_another_role(
    signature_checks: list[str],
) -> None:
    token = signed(sub="staffer")
    await Access(Role.STAFF)(request_with(token))
    with pytest.raises(Problem) as caught:
        await Access(Role.ADMIN)(request_with(token))
    assert caught.value.status == 403
    assert signature_checks == [token]


def test_the_cache_holds_at_most_its_bound(
    signature_checks: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "_VERIFIED_MAX", 2)
    for n in range(5):
        verify_token(signed(sub=f"caller-{n}"), SETTINGS)
        assert len(auth._VERIFIED) <= 2


def test_a_token_just_expired_is_accepted_within_the_leeway(signature_checks: list[str]) -> None:
    """Clocks differ between issuer and verifier: the configured leeway (30 s by default)."""
    token = signed(sub="late", exp=int(time.time()) - 10)
    assert SETTINGS.leeway_seconds == 30
    assert verify_token(token, SETTINGS).subject == "late"
    strict = SETTINGS.model_copy(update={"leeway_seconds": 0})
    assert refusal(token, strict) == "The token has expired."


def test_an_algorithm_not_configured_is_refused_by_name() -> None:
    token = signed(algorithm="HS512", sub="hs512")
    assert refusal(token) == "Token algorithm 'HS512' is not accepted."


def test_the_latest_expiry_a_float_clock_counts_is_accepted(signature_checks: list[str]) -> None:
    token = signed(sub="far", exp=2**53)
    assert verify_token(token, SETTINGS).subject == "far"
    assert signature_checks == [token]  # checked here, not served from an earlier test's cache


def test_a_development_token_lasts_an_hour() -> None:
    claims = jwt.decode(
        mint_token(SETTINGS, role="staff"),
        SETTINGS.secret(),
        algorithms=["HS256"],
        audience=SETTINGS.audience,
    )
    assert claims["exp"] - claims["iat"] == 3600
