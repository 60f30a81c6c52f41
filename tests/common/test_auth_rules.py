"""Bearer tokens, rule by rule (issue 15): each refusal in its own words, the bounds of every
claim (inclusive where the rule says so), what a principal carries, the Authorization header's
one accepted form, and what a route's Access does with all of it."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from starlette.requests import Request

from services.common.auth import (
    ANONYMOUS_PRINCIPAL,
    Access,
    Principal,
    Role,
    access_extension,
    bearer_token,
    current_principal,
    current_principal_var,
    mint_token,
    verify_token,
)
from services.common.problems import Problem
from services.common.settings import AuthSettings

SETTINGS = AuthSettings(
    jwt_secret="auth-rules-secret-long-enough-for-hs256-0123456789",
    issuer="bw-rules",
    audience="bw-platform",
)


def signed(**claims: Any) -> str:
    now = int(time.time())
    payload = {
        "sub": "someone",
        "role": "staff",
        "iss": SETTINGS.issuer,
        "aud": SETTINGS.audience,
        "exp": now + 600,
    } | claims
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, SETTINGS.secret(), algorithm="HS256")


def refusal(token: str, settings: AuthSettings = SETTINGS) -> str:
    with pytest.raises(Problem) as caught:
        verify_token(token, settings)
    assert (caught.value.status, caught.value.title) == (401, "Unauthorized")
    assert caught.value.headers["WWW-Authenticate"].startswith('Bearer realm="betterwork"')
    return caught.value.detail


def test_a_principal_carries_subject_role_and_the_optional_claims() -> None:
    principal = verify_token(
        signed(sub="f-user", role="factory", factory_id="fac_1", country="UZ"), SETTINGS
    )
    assert principal == Principal("f-user", "factory", factory_id="fac_1", country="UZ")
    brand = verify_token(signed(role="brand", brand_id="br_1"), SETTINGS)
    assert (brand.brand_id, brand.factory_id, brand.country) == ("br_1", None, None)


@pytest.mark.parametrize(("length", "ok"), [(1, True), (200, True), (201, False)])
def test_a_subject_has_one_to_two_hundred_characters(length: int, ok: bool) -> None:
    token = signed(sub="s" * length)
    if ok:
        assert verify_token(token, SETTINGS).subject == "s" * length
    else:
        assert refusal(token) == "The token's 'sub' claim must be a string of 1-200."


@pytest.mark.parametrize("claim", ["iat", "nbf"])
def test_a_time_claim_of_zero_is_a_time(claim: str) -> None:
    assert verify_token(signed(**{claim: 0}), SETTINGS).subject == "someone"


def test_the_latest_expiry_accepted_is_two_to_the_53rd() -> None:
    assert verify_token(signed(exp=2**53), SETTINGS).role == "staff"
    assert refusal(signed(exp=2**53 + 1)) == "The token's 'exp' claim must be a number of seconds."


@pytest.mark.parametrize("country", ["uz", "UZB", "U1"])
def test_a_country_is_two_capital_letters(country: str) -> None:
    assert refusal(signed(country=country)) == (
        "The token's 'country' claim must be an ISO 3166-1 alpha-2 code."
    )


@pytest.mark.parametrize("role", ["root", None])
def test_a_token_without_a_known_role_is_refused(role: str | None) -> None:
    assert refusal(signed(role=role)) == "The token carries no known role."


def _unsigned(header: dict[str, Any], payload: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part(header)}.{part(payload)}.c2ln"


def test_an_accepted_algorithm_with_no_key_to_check_it_is_refused() -> None:
    settings = AuthSettings(jwt_secret=SETTINGS.jwt_secret, algorithms=["HS256", "RS256"])
    token = _unsigned({"alg": "RS256", "typ": "JWT"}, {"sub": "x"})
    assert refusal(token, settings) == "No key is configured to verify this token."


def test_a_minted_token_is_valid_from_now_for_its_lifetime() -> None:
    before = int(time.time())
    claims = jwt.decode(
        mint_token(SETTINGS, role="admin", ttl_seconds=90, country="UZ", factory_id=None),
        options={"verify_signature": False},
    )
    assert before <= claims["iat"] == claims["nbf"] == claims["exp"] - 90 <= before + 90
    assert (claims["sub"], claims["role"], claims["country"]) == ("admin-dev", "admin", "UZ")
    assert "factory_id" not in claims


def request_with(authorization: str | None) -> Request:
    headers = [] if authorization is None else [(b"authorization", authorization.encode())]
    scope = {"type": "http", "method": "GET", "path": "/", "headers": headers, "app": APP}
    return Request(scope)


class _State:
    auth_settings = SETTINGS


class _App:
    state = _State()


APP = _App()


@pytest.mark.parametrize(
    ("header", "token"),
    [
        (None, None),
        ("", None),
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("BEARER a b", "a b"),
    ],
)
def test_the_bearer_token_is_what_follows_the_scheme(header: str | None, token: str | None) -> None:
    assert bearer_token(request_with(header)) == token


@pytest.mark.parametrize("header", ["Basic abc", "Bearer", "Bearer   ", "Token abc"])
def test_any_other_authorization_is_refused_saying_the_form(header: str) -> None:
    with pytest.raises(Problem) as caught:
        bearer_token(request_with(header))
    assert caught.value.status == 401
    assert caught.value.detail == "Use 'Authorization: Bearer <token>'."


@pytest.mark.parametrize(
    ("header", "subject"),
    [(None, "anonymous"), ("", "anonymous"), ("Bearer {t}", "reader"), ("bearer  {t} ", "reader")],
)
async def test_an_access_reads_the_header_as_bearer_token_does(
    header: str | None, subject: str
) -> None:
    """Access reads the header from the scope itself (every request runs it): the same header
    gives the same caller as ``bearer_token`` would, an empty one counts as none."""
    token = signed(sub="reader")
    request = request_with(None if header is None else header.format(t=token))
    principal = await Access(Role.STAFF, anonymous=True)(request)
    assert principal.subject == subject
    assert (bearer_token(request_with(header and header.format(t=token))) is None) == (
        subject == "anonymous"
    )


@pytest.mark.parametrize("header", ["Basic abc", "Bearer", "Bearer   ", "Token abc"])
async def test_an_access_refuses_any_other_authorization_saying_the_form(header: str) -> None:
    with pytest.raises(Problem) as caught:
        await Access(Role.STAFF, anonymous=True)(request_with(header))
    assert caught.value.status == 401
    assert caught.value.detail == "Use 'Authorization: Bearer <token>'."


async def test_an_access_takes_the_first_authorization_header_as_starlette_does() -> None:
    first, second = signed(sub="first"), signed(sub="second")
    request = request_with(f"Bearer {first}")
    request.scope["headers"].append((b"authorization", f"Bearer {second}".encode()))
    assert request.headers.get("authorization") == f"Bearer {first}"
    assert (await Access(Role.STAFF)(request)).subject == "first"


async def test_a_route_without_a_token_is_401_asking_for_one() -> None:
    with pytest.raises(Problem) as caught:
        await Access(Role.ADMIN)(request_with(None))
    assert caught.value.status == 401
    assert caught.value.detail == "Authentication is required: send a bearer token."
    assert "WWW-Authenticate" in caught.value.headers


async def test_a_public_route_lets_the_anonymous_in() -> None:
    assert await Access(Role.ADMIN, anonymous=True)(request_with(None)) is ANONYMOUS_PRINCIPAL


async def test_a_role_the_route_does_not_admit_is_403_naming_it() -> None:
    with pytest.raises(Problem) as caught:
        await Access(Role.ADMIN, Role.STAFF)(
            request_with(f"Bearer {signed(role='brand', brand_id='b')}")
        )
    assert (caught.value.status, caught.value.title) == (403, "Forbidden")
    assert caught.value.detail == "The role 'brand' may not do this."


async def test_an_admitted_caller_is_remembered_for_the_request() -> None:
    request = request_with(f"Bearer {signed(sub='dilnoza', role='staff')}")
    token = current_principal_var.set(None)
    try:
        principal = await Access(Role.STAFF)(request)
        assert principal.subject == "dilnoza"
        assert request.state.principal == principal
        assert current_principal() == principal
    finally:
        current_principal_var.reset(token)


def test_an_access_shows_its_roles_in_order() -> None:
    assert repr(Access(Role.STAFF, Role.ADMIN)) == "Access(['admin', 'staff'], anonymous=False)"
    assert repr(Access(anonymous=True)) == "Access([], anonymous=True)"


def test_a_token_signed_with_another_key_is_refused_saying_why() -> None:
    forged = jwt.encode(
        jwt.decode(signed(), options={"verify_signature": False}),
        "another-secret-that-is-long-enough-for-hs256-0123456789",
        algorithm="HS256",
    )
    assert refusal(forged) == "The token is not valid: Signature verification failed."


@pytest.mark.parametrize(("role", "claim"), [("factory", "factory_id"), ("brand", "brand_id")])
def test_a_factory_or_brand_token_must_name_its_own(role: str, claim: str) -> None:
    assert refusal(signed(role=role)) == f"A {role} token must name its {claim}."


def test_an_access_is_published_as_its_sorted_roles_and_whether_anonymous() -> None:
    assert access_extension(Access(Role.STAFF, Role.ADMIN, anonymous=True)) == {
        "roles": ["admin", "staff"],
        "anonymous": True,
    }
