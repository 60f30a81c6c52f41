"""Bearer-token verification and role checks, shared by the gateway and every service.

The gateway verifies first; each service verifies the same token again, because only the owning
service can enforce object-level rules (a brand sees only factories that share with it).
"""

from __future__ import annotations

import contextvars
import re
import time
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

import jwt
from fastapi import Request

from services.common.problems import Problem
from services.common.query_guard import refuse_unknown_query
from services.common.settings import AuthSettings

# ``app.state`` name of the routes (by id) whose Access checks the query (services/common/app.py).
QUERY_CHECKED_BY_ACCESS = "query_checked_by_access"


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


def already_verified(token: str, settings: AuthSettings) -> Principal | None:
    """The principal of a token verified before and not yet expired; None costs no signature
    check, so a caller may rate-limit unknown tokens before paying for one."""
    cached = _VERIFIED.get((id(settings), token))
    if cached is not None and time.time() < cached[1]:
        return cached[0]
    return None


def verify_token(token: str, settings: AuthSettings) -> Principal:
    """Verify a bearer token; a token already verified is served from memory until it expires,
    which spares the signature check on every request of a busy client."""
    known = already_verified(token, settings)
    if known is not None:
        return known
    principal, expires_at = _verify_token(token, settings)
    if len(_VERIFIED) >= _VERIFIED_MAX:
        _VERIFIED.clear()
    _VERIFIED[(id(settings), token)] = (principal, expires_at)
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
    principal = _principal_from(claims)
    if principal.role == Role.FACTORY and not principal.factory_id:
        raise _unauthorized("A factory token must name its factory_id.")
    if principal.role == Role.BRAND and not principal.brand_id:
        raise _unauthorized("A brand token must name its brand_id.")
    return principal, float(claims["exp"])


# Claims a principal is built from, with the longest value the platform stores for each
# (the audit log keeps 200 characters of a subject; ids are at most 40).
_TEXT_CLAIMS = {"sub": 200, "factory_id": 40, "brand_id": 40}
_COUNTRY = re.compile(r"[A-Z]{2}")
_TIME_CLAIMS = ("exp", "iat", "nbf")
_LATEST_NUMERIC_DATE = 2**53  # past it a float (the verified-token cache's clock) loses count
_ROLES = frozenset(r.value for r in Role)


def _principal_from(claims: dict[str, Any]) -> Principal:
    """A signature proves who issued a token, not that its claims are well formed: an issuer's
    bug (a list for ``role``, a number for ``sub``) must be a 401, never a 500 further in."""
    for name, longest in _TEXT_CLAIMS.items():
        value = claims.get(name)
        if name in claims and not (isinstance(value, str) and 0 < len(value) <= longest):
            raise _unauthorized(f"The token's {name!r} claim must be a string of 1-{longest}.")
    for name in _TIME_CLAIMS:
        value = claims.get(name)
        if name in claims and (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not 0 <= value <= _LATEST_NUMERIC_DATE  # also false for NaN
        ):
            raise _unauthorized(f"The token's {name!r} claim must be a number of seconds.")
    country = claims.get("country")
    if "country" in claims and not (isinstance(country, str) and _COUNTRY.fullmatch(country)):
        raise _unauthorized("The token's 'country' claim must be an ISO 3166-1 alpha-2 code.")
    role = claims.get("role")
    if not isinstance(role, str) or role not in _ROLES:
        raise _unauthorized("The token carries no known role.")
    return Principal(
        subject=claims["sub"],
        role=role,
        factory_id=claims.get("factory_id"),
        brand_id=claims.get("brand_id"),
        country=claims.get("country"),
    )


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
    return _bearer(header)


def _authorization(scope: Any) -> str | None:
    """The Authorization header as ``request.headers.get`` reads it (the first one, latin-1),
    None when absent or empty."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            return value.decode("latin-1") or None
    return None


def _bearer(header: str) -> str:
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
        # Every request of every route runs this: the header is read from the scope (no Headers
        # object), and a token verified before is looked up here without two more calls.
        scope = request.scope
        if scope.get("query_string"):
            route = scope.get("route")
            checked = getattr(scope["app"].state, QUERY_CHECKED_BY_ACCESS, None)
            if checked is not None and checked.get(id(route)) is route:
                # The route's first dependency, standing in for the app's unknown-query guard
                # (services/common/app.py): checked before anything else, as the guard was.
                refuse_unknown_query(request, route)
        header = _authorization(scope)
        if header is None:
            if self.anonymous:
                return ANONYMOUS_PRINCIPAL
            raise _unauthorized("Authentication is required: send a bearer token.")
        token = _bearer(header)
        settings: AuthSettings = scope["app"].state.auth_settings
        cached = _VERIFIED.get((id(settings), token))
        if cached is not None and time.time() < cached[1]:
            principal = cached[0]
        else:
            principal = verify_token(token, settings)
        if principal.role not in self.roles:
            raise Problem(
                403,
                f"The role {principal.role!r} may not do this.",
                title="Forbidden",
            )
        # ``request.state.principal``: Request.state wraps this dict.
        scope.setdefault("state", {})["principal"] = principal
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
