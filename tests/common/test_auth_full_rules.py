"""Token rules the whole (unsampled) mutation run of services/common/auth.py found unpinned
(issue 15): the verified-token cache (it spares the signature check, per settings, within a
bound), the clock's leeway, the words of two refusals, the latest expiry allowed, and how long
a development token lasts."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

import services.common.auth as auth
from services.common.auth import mint_token, verify_token
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
