"""The gateway: the platform's one public door. It authenticates, limits, routes to the owning
service and serves one merged OpenAPI document."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.telemetry import TelemetryConfig
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.client_address import ClientAddressMiddleware, TrustedProxies, parse_networks
from gateway.cors import CORSMiddleware
from gateway.docs import install_docs
from gateway.openapi import OpenAPICache
from gateway.proxy import Buffered, forward, route_for
from gateway.ratelimit import Limiter, make_limiter
from gateway.replicas import HealthChecker, Upstream, build_upstream
from gateway.settings import GatewaySettings
from gateway.upstream_http import Http1Transport
from services.common.auth import Principal, already_verified, bearer_token, verify_token
from services.common.input_guard import InputGuardMiddleware
from services.common.observability import RequestContextMiddleware, configure_logging
from services.common.problems import Problem, install_problem_handlers, problem_response
from services.common.settings import AuthSettings, require_real_secrets

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"strict-transport-security", b"max-age=31536000"),
]
TELEMETRY_OFF: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
SECURITY_NAMES = frozenset(name for name, _ in SECURITY_HEADERS)


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers if name.lower() in SECURITY_NAMES}
                if present:
                    headers += [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                else:
                    headers += SECURITY_HEADERS
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(
    settings: GatewaySettings | None = None,
    auth_settings: AuthSettings | None = None,
    transports: dict[str, httpx.AsyncBaseTransport] | None = None,
) -> FastAPI:
    """``transports`` replaces the network for tests: keyed by a replica's URL, or by a service
    name for all of that service's replicas; anything not named goes over real HTTP."""
    settings = settings or GatewaySettings()
    auth_settings = auth_settings or AuthSettings()
    transports = transports or {}

    def make_upstreams() -> dict[str, Upstream]:
        def transport_for(name: str, url: str) -> httpx.AsyncBaseTransport:
            return transports.get(url) or transports.get(name) or Http1Transport()

        return {
            name: build_upstream(
                name,
                urls,
                lambda url, name=name: transport_for(name, url),  # type: ignore[misc]
                failure_threshold=settings.breaker_failure_threshold,
                reset_seconds=settings.breaker_reset_seconds,
                connect_timeout=settings.connect_timeout_seconds,
                max_concurrency=settings.upstream_max_concurrency,
                queue_timeout=settings.queue_timeout_seconds,
            )
            for name, urls in settings.replica_urls().items()
        }

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level, "gateway")
        require_real_secrets(auth_settings)
        checker = HealthChecker(
            list(app.state.upstreams.values()),
            settings.health_check_path,
            settings.health_check_interval_seconds,
            settings.health_check_timeout_seconds,
        )
        checker.start()
        try:
            yield
        finally:
            await checker.stop()
            for upstream in app.state.upstreams.values():
                await upstream.aclose()
            await app.state.limiter.aclose()

    app = FastAPI(
        title="gateway",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        # FastAPI's OpenTelemetry asks for the global providers on every request, even with
        # none installed; the gateway's record is its access log unless told otherwise.
        telemetry=None if settings.telemetry else TELEMETRY_OFF,
    )
    app.state.settings = settings
    app.state.auth_settings = auth_settings
    app.state.upstreams = make_upstreams()
    app.state.openapi = OpenAPICache(settings.openapi_cache_seconds)
    app.state.limiter = make_limiter(
        settings.redis_url,
        settings.rate_limit_per_minute,
        settings.rate_limit_burst,
        settings.redis_key_prefix,
    )
    install_problem_handlers(app)
    # Innermost first.
    app.add_middleware(ProxyDispatch, settings=settings, auth_settings=auth_settings)
    app.add_middleware(InputGuardMiddleware, max_bytes=settings.max_body_bytes, scan_text=False)
    app.add_middleware(RequestContextMiddleware, service="gateway")
    app.add_middleware(SecurityHeadersMiddleware)
    # Outside the rest: preflights are answered before anything is proxied, and every answer
    # (a 401 or 429 too) carries the CORS headers a browser needs to let a script read it.
    # With no origin allowed it still answers preflights itself (403), never the services.
    app.add_middleware(CORSMiddleware, origins=settings.allowed_origins())
    # Outermost: every layer inside (limits, logs, the forwarded header) sees one client address.
    app.add_middleware(
        ClientAddressMiddleware, trusted=TrustedProxies(parse_networks(settings.trusted_proxies))
    )

    @app.get("/health/live", include_in_schema=False)
    async def live() -> dict[str, str]:
        return {"status": "ok", "service": "gateway"}

    @app.get("/health/ready", include_in_schema=False)
    async def ready() -> JSONResponse:
        checks: dict[str, Any] = {}
        for name, upstream in app.state.upstreams.items():
            replicas = [await _replica_ready(r.client) for r in upstream.replicas]
            # A service is ready while any replica is; the replicas are listed when several.
            up = any(check["status"] == "ok" for check in replicas)
            checks[name] = {"status": "ok" if up else "down"}
            if len(replicas) > 1:
                checks[name]["replicas"] = {
                    str(r.base_url): c for r, c in zip(upstream.replicas, replicas, strict=True)
                }
            elif replicas[0].get("detail"):
                checks[name]["detail"] = replicas[0]["detail"]
        healthy = all(check["status"] == "ok" for check in checks.values())
        return JSONResponse(
            {"status": "ok" if healthy else "degraded", "service": "gateway", "checks": checks},
            status_code=200 if healthy else 503,
        )

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi() -> JSONResponse:
        clients = {name: u.client for name, u in app.state.upstreams.items()}
        document = await app.state.openapi.get(clients, settings.routes)
        return JSONResponse(document)

    install_docs(app)

    return app


async def _replica_ready(client: httpx.AsyncClient) -> dict[str, Any]:
    try:
        answer = await client.get("/health/ready", timeout=2.0)
    except httpx.HTTPError as exc:
        return {"status": "down", "detail": type(exc).__name__}
    return {"status": "ok" if answer.status_code == 200 else "down"}


class ProxyDispatch:
    """Requests for a routed prefix go straight to the proxy, skipping FastAPI's router and
    dependency machinery: on the hot path that is a third of the gateway's CPU per request."""

    def __init__(
        self, app: ASGIApp, settings: GatewaySettings, auth_settings: AuthSettings
    ) -> None:
        self.app = app
        self.settings = settings
        self.auth_settings = auth_settings
        self.log = logging.getLogger("bw.gateway")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        service = (
            route_for(scope["path"], self.settings.routes) if scope["type"] == "http" else None
        )
        if service is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        response: Response | Buffered
        try:
            response = await self.proxy(request, service)
        except Problem as exc:
            response = problem_response(
                request,
                exc.status,
                exc.detail,
                title=exc.title,
                type_=exc.type,
                headers=exc.headers,
                **exc.extra,
            )
        except HTTPException as exc:  # the input guard's 413/422, raised while streaming the body
            response = problem_response(request, exc.status_code, str(exc.detail))
        except Exception:
            self.log.exception("proxy error", extra={"path": scope["path"]})
            response = problem_response(request, 500, "The gateway failed; it has been logged.")
        await response(scope, receive, send)

    async def proxy(self, request: Request, service: str) -> Response | Buffered:
        app_state = request.app.state
        principal = await self._authenticate_within_limits(request, app_state.limiter)
        identity = (
            {"x-bw-subject": principal.subject, "x-bw-role": principal.role} if principal else {}
        )
        return await forward(
            request,
            app_state.upstreams[service],
            identity=identity,
            read_timeout=self.settings.timeout_for(request.scope["path"]),
            retries=self.settings.retries,
            retry_backoff=self.settings.retry_backoff_seconds,
        )

    async def _authenticate_within_limits(
        self, request: Request, limiter: Limiter
    ) -> Principal | None:
        """Anonymous requests and tokens not yet verified are charged to the client address
        before any signature check, so a flood of bad tokens meets 429 like anonymous traffic
        and, once limited, costs nothing; a known token is charged to its subject."""
        address = f"ip:{_client_ip(request)}"
        try:
            token = bearer_token(request)
        except Problem:
            await _take(limiter, address)  # a malformed Authorization header costs the address too
            raise
        if token is None:
            await _take(limiter, address)
            return None
        principal = already_verified(token, self.auth_settings)
        if principal is None:
            await _take(limiter, address)
            principal = verify_token(token, self.auth_settings)
        await _take(limiter, f"sub:{principal.subject}")
        return principal


async def _take(limiter: Limiter, caller: str) -> None:
    retry_after = await limiter.take(caller)
    if retry_after:
        raise Problem(
            429, "Too many requests; slow down.", headers={"Retry-After": str(int(retry_after))}
        )


def _client_ip(request: Request) -> str:
    """The socket peer, or the address a trusted proxy vouched for (ClientAddressMiddleware)."""
    return request.client.host if request.client else "unknown"
