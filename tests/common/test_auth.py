"""Token verification refuses forged, expired, early, wrong-issuer, wrong-audience and unsigned
tokens; Access enforces the declared roles."""

import time

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from services.common.auth import Principal, verify_token
from services.common.problems import Problem
from services.common.settings import AuthSettings
from tests.support import TEST_AUTH, auth_header, token


def claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    base: dict[str, object] = {
        "sub": "user-1",
        "role": "staff",
        "iss": TEST_AUTH.issuer,
        "aud": TEST_AUTH.audience,
        "iat": now,
        "nbf": now,
        "exp": now + 300,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(payload: dict[str, object], secret: str | None = None) -> str:
    return jwt.encode(payload, secret or TEST_AUTH.secret(), algorithm="HS256")


def test_valid_token_yields_principal() -> None:
    principal = verify_token(token("brand", brand_id="brd_1"), TEST_AUTH)
    assert principal == Principal(subject="brand-dev", role="brand", brand_id="brd_1")


@pytest.mark.parametrize(
    ("description", "bad_token"),
    [
        ("forged signature", lambda: sign(claims(), "another-secret-another-secret-0123456789")),
        ("expired", lambda: sign(claims(exp=int(time.time()) - 3600))),
        ("not yet valid", lambda: sign(claims(nbf=int(time.time()) + 3600))),
        ("wrong audience", lambda: sign(claims(aud="someone-else"))),
        ("wrong issuer", lambda: sign(claims(iss="evil"))),
        ("no expiry", lambda: sign(claims(exp=None))),
        ("unknown role", lambda: sign(claims(role="superuser"))),
        ("brand without brand_id", lambda: sign(claims(role="brand"))),
        ("factory without factory_id", lambda: sign(claims(role="factory"))),
        ("alg none", lambda: jwt.encode(claims(role="admin"), None, algorithm="none")),
        ("garbage", lambda: "not.a.token"),
    ],
)
def test_bad_tokens_are_refused(description: str, bad_token) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Problem) as caught:
        verify_token(bad_token(), TEST_AUTH)
    assert caught.value.status == 401, description
    assert "Bearer" in caught.value.headers["WWW-Authenticate"]


ILL_TYPED_CLAIMS = [
    {"role": ["admin"]},
    {"role": {"admin": True}},
    {"role": None, "sub": "no-role"},
    {"sub": 42},
    {"sub": ["user-1"]},
    {"sub": ""},
    {"sub": "x" * 201},  # longer than the audit log keeps
    {"role": "factory", "factory_id": ["fac_1", "fac_2"]},
    {"role": "factory", "factory_id": 7},
    {"role": "brand", "brand_id": {"id": "brd_1"}},
    {"role": "brand", "brand_id": "b" * 41},
    {"country": ["UZ"]},
    {"country": "Uzbekistan"},
    {"country": 860},
    {"exp": "9999999999"},
    {"exp": True},
    {"exp": 10**400},  # past any float
    {"iat": [1]},
    {"nbf": {"at": 1}},
]


@pytest.mark.parametrize("overrides", ILL_TYPED_CLAIMS, ids=lambda o: repr(o)[:40])
def test_ill_typed_claims_are_a_401_not_a_crash(overrides: dict[str, object]) -> None:
    """A correctly signed token from a buggy issuer: refused, never a 500 further in."""
    payload = {**claims(), **overrides}
    with pytest.raises(Problem) as caught:
        verify_token(sign(payload), TEST_AUTH)
    assert caught.value.status == 401


async def test_a_list_role_through_a_service_is_a_401_problem(
    assessment_client: httpx.AsyncClient,
) -> None:
    bearer = sign(claims(role=["admin", "staff"]))
    response = await assessment_client.get(
        "/v1/factories", headers={"authorization": f"Bearer {bearer}"}
    )
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


def test_rs256_token_verified_with_configured_public_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key_file = tmp_path / "idp.pem"
    key_file.write_bytes(public_pem)
    settings = AuthSettings(
        algorithms=["RS256"], jwt_public_key_file=key_file, issuer="bw-test", audience="bw-platform"
    )
    good = jwt.encode(claims(role="service", sub="sync-worker"), private_key, algorithm="RS256")
    assert verify_token(good, settings).subject == "sync-worker"
    # A token signed HS256 is refused when only RS256 is accepted (no algorithm confusion).
    with pytest.raises(Problem):
        verify_token(sign(claims(role="admin")), settings)


async def test_missing_token_is_401_with_challenge(assessment_client: httpx.AsyncClient) -> None:
    response = await assessment_client.get("/v1/factories")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_role_not_allowed_is_403(assessment_client: httpx.AsyncClient) -> None:
    response = await assessment_client.post(
        "/v1/factories", json={"name": "X", "country": "UZ"}, headers=auth_header("constituent")
    )
    assert response.status_code == 403


async def test_non_bearer_scheme_is_401(assessment_client: httpx.AsyncClient) -> None:
    response = await assessment_client.get(
        "/v1/factories", headers={"authorization": "Basic dXNlcjpwYXNz"}
    )
    assert response.status_code == 401


def test_rs256_token_verified_through_a_jwks_url() -> None:
    """What an ILO/IFC identity provider would do: publish its keys at a JWKS URL."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from jwt.algorithms import RSAAlgorithm

    signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    stranger_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(signing_key.public_key()))
    jwks = json.dumps({"keys": [{**jwk, "kid": "idp-1", "use": "sig", "alg": "RS256"}]}).encode()

    class Keys(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(jwks)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Keys)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings = AuthSettings(
            algorithms=["RS256"],
            jwks_url=f"http://127.0.0.1:{server.server_port}/jwks.json",
            issuer="bw-test",
            audience="bw-platform",
        )
        payload = claims(role="service", sub="ilo-reporting-system")
        good = jwt.encode(payload, signing_key, algorithm="RS256", headers={"kid": "idp-1"})
        forged = jwt.encode(payload, stranger_key, algorithm="RS256", headers={"kid": "idp-1"})
        assert verify_token(good, settings).subject == "ilo-reporting-system"
        with pytest.raises(Problem) as caught:
            verify_token(forged, settings)
        assert caught.value.status == 401
    finally:
        server.shutdown()
