"""Bearer-token verification and role checks, shared by the gateway and every service.

The gateway verifies first; each service verifies the same token again, because only the owning
service can enforce object-level rules (a brand sees only factories that share with it).
"""

from __future__ import annotations

import contextvars
import time
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

import jwt
from fastapi import Request

from services.common.problems import Problem
from services.common.settings import AuthSettings


class Role(StrEnum):
    ADMIN = "admin"
    STAFF = "staff"
    FACTORY = "factory"
    BRAND = "brand"
    CONSTITUENT = "constituent"
    SERVICE = "service"


ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Principal:
    subject: str
    role: str
    factory_id: str | None = None
    brand_id: str | None = None
    country: str | None = None

    @property
    def is_anonymous(self) -> bool:
        return self.role == ANONYMOUS


ANONYMOUS_PRINCIPAL = Principal(subject="anonymous", role=ANONYMOUS)


def _unauthorized(detail: str) -> Problem:
    return Problem(
        401,
        detail,
        title="Unauthorized",
        headers={"WWW-Authenticate": 'Bearer realm="betterwork", error="invalid_token"'},
    )


@lru_cache(maxsize=4)
def _jwks_client(url: str) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(url, cache_keys=True)


def _verification_key(token: str, settings: AuthSettings) -> Any:
    header = jwt.get_unverified_header(token)
    algorithm = header.get("alg")
    if algorithm not in settings.algorithms:
        raise _unauthorized(f"Token algorithm {algorithm!r} is not accepted.")
    if algorithm.startswith("HS"):
        return settings.secret()
    if settings.jwt_public_key_file is not None:
        return settings.jwt_public_key_file.read_text()
    if settings.jwks_url:
        return _jwks_client(settings.jwks_url).get_signing_key_from_jwt(token).key
    raise _unauthorized("No key is configured to verify this token.")


_VERIFIED: dict[tuple[int, str], tuple[Principal, float]] = {}
_VERIFIED_MAX = 10_000


def verify_token(token: str, settings: AuthSettings) -> Principal:
    """Verify a bearer token; a token already verified is served from memory until it expires,
    which spares the signature check on every request of a busy client."""
    key = (id(settings), token)
    cached = _VERIFIED.get(key)
    if cached is not None and time.time() < cached[1]:
        return cached[0]
    principal, expires_at = _verify_token(token, settings)
    if len(_VERIFIED) >= _VERIFIED_MAX:
        _VERIFIED.clear()
    _VERIFIED[key] = (principal, expires_at)
    return principal


def _verify_token(token: str, settings: AuthSettings) -> tuple[Principal, float]:
    try:
        key = _verification_key(token, settings)
        claims = jwt.decode(
            token,
            key,
            algorithms=settings.algorithms,
            audience=settings.audience,
            issuer=settings.issuer,
            leeway=settings.leeway_seconds,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise _unauthorized("The token has expired.") from exc
    except jwt.PyJWTError as exc:
        raise _unauthorized(f"The token is not valid: {exc}.") from exc
    role = claims.get("role")
    if role not in {r.value for r in Role}:
        raise _unauthorized("The token carries no known role.")
    principal = Principal(
        subject=str(claims["sub"]),
        role=role,
        factory_id=claims.get("factory_id"),
        brand_id=claims.get("brand_id"),
        country=claims.get("country"),
    )
    if role == Role.FACTORY and not principal.factory_id:
        raise _unauthorized("A factory token must name its factory_id.")
    if role == Role.BRAND and not principal.brand_id:
        raise _unauthorized("A brand token must name its brand_id.")
    return principal, float(claims["exp"])


def mint_token(
    settings: AuthSettings,
    *,
    role: str,
    subject: str | None = None,
    ttl_seconds: int = 3600,
    **claims: Any,
) -> str:
    """Development tokens (HS256 with the configured secret), for `bw token` and tests."""
    now = int(time.time())
    payload: dict[str, Any] = {
        "sub": subject or f"{role}-dev",
        "role": role,
        "iss": settings.issuer,
        "aud": settings.audience,
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
    }
    payload.update({k: v for k, v in claims.items() if v is not None})
    return jwt.encode(payload, settings.secret(), algorithm="HS256")


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("Use 'Authorization: Bearer <token>'.")
    return token.strip()


class Access:
    """A route's declared audience; use as ``Depends(Access(Role.ADMIN, Role.STAFF))``.

    Every route declares one, and a test walks all routes to prove it. Object-level rules
    (which factory, which brand) are checked by the service function on the returned principal.
    """

    def __init__(self, *roles: str, anonymous: bool = False) -> None:
        self.roles = frozenset(str(r) for r in roles)
        self.anonymous = anonymous

    def __repr__(self) -> str:
        return f"Access({sorted(self.roles)}, anonymous={self.anonymous})"

    async def __call__(self, request: Request) -> Principal:
        token = bearer_token(request)
        if token is None:
            if self.anonymous:
                return ANONYMOUS_PRINCIPAL
            raise _unauthorized("Authentication is required: send a bearer token.")
        settings: AuthSettings = request.app.state.auth_settings
        principal = verify_token(token, settings)
        if principal.role not in self.roles:
            raise Problem(
                403,
                f"The role {principal.role!r} may not do this.",
                title="Forbidden",
            )
        request.state.principal = principal
        current_principal_var.set(principal)
        return principal


current_principal_var: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "principal", default=None
)


def current_principal() -> Principal | None:
    """Who is making the current request (None outside requests: CLI, seeds, sync)."""
    return current_principal_var.get()


PUBLIC = Access(*Role, anonymous=True)
ANY_USER = Access(*Role)


def declared_access(dependant: Any) -> Access | None:
    """The Access a route depends on, searching nested dependencies."""
    call = getattr(dependant, "call", None)
    if isinstance(call, Access):
        return call
    for sub in getattr(dependant, "dependencies", []):
        found = declared_access(sub)
        if found is not None:
            return found
    return None


def access_extension(access: Access) -> dict[str, Any]:
    """How a route's audience is published in OpenAPI (``x-access``), for clients and tests."""
    return {"roles": sorted(access.roles), "anonymous": access.anonymous}
