"""Builds a service app the same way every time: settings, database, errors, request ids, health."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.routing import APIRoute
from fastapi.telemetry import TelemetryConfig
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.common.auth import (
    QUERY_CHECKED_BY_ACCESS,
    Access,
    access_extension,
    declared_access,
)
from services.common.db import Database
from services.common.etag import NotModifiedMiddleware
from services.common.health import ReadinessCheck, health_router
from services.common.idempotency import IdempotencyFields, IdempotencyMiddleware
from services.common.idempotency_purge import IdempotencyPurger
from services.common.input_guard import InputGuardMiddleware
from services.common.observability import RequestContextMiddleware, configure_logging
from services.common.openapi_contract import declare_contract, operation_id
from services.common.outbox import install_feed_events
from services.common.problems import install_problem_handlers
from services.common.query_guard import reject_unknown_query
from services.common.settings import AuthSettings, ServiceSettings, require_real_secrets

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


# FastAPI's native OpenTelemetry asks for the global providers on every request, reading the
# environment, even with none installed (~35 Python calls a request): off unless the service's
# settings turn it on (``telemetry = True``), as the gateway does.
TELEMETRY_OFF: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's database session (writes: takes the write lock on SQLite)."""
    sessions = request.scope["app"].state.db.session()
    # Closed in ``finally`` (aclosing's work, without its two Python frames on every request):
    # when the route raises, the session closes now, not whenever it is collected.
    try:
        async for session in sessions:
            yield session
    finally:
        await sessions.aclose()


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A read-only session: on SQLite it never waits for writers."""
    sessions = request.scope["app"].state.db.read_session()
    try:
        async for session in sessions:
            yield session
    finally:
        await sessions.aclose()


async def get_read_connection(request: Request) -> AsyncIterator[AsyncConnection]:
    """A read-only Core connection, for a list of rows (``select_rows``): no ORM session."""
    connections = request.scope["app"].state.db.read_connection()
    try:
        async for connection in connections:
            yield connection
    finally:
        await connections.aclose()


def create_service_app(
    *,
    title: str,
    description: str,
    settings: ServiceSettings,
    routers: Sequence[APIRouter],
    auth_settings: AuthSettings | None = None,
    database: Database | None = None,
    readiness_checks: dict[str, ReadinessCheck] | None = None,
    extra_lifespan: Lifespan | None = None,
    idempotency_model: type[IdempotencyFields] | None = None,
    version: str = "0.1.0",
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level, settings.service_name)
        require_real_secrets(app.state.auth_settings)
        if getattr(app.state, "db", None) is None:
            app.state.db = Database(
                settings.resolved_database_url(), settings.resolved_schema(), settings.sql_echo
            )
        purger = None
        if idempotency_model is not None:  # expired records purged in the background
            purger = IdempotencyPurger(
                app.state.db.sessionmaker,
                idempotency_model,
                settings.idempotency_purge_interval_seconds,
            )
            app.state.idempotency_purger = purger
            purger.start()
        try:
            if extra_lifespan is not None:
                async with extra_lifespan(app):
                    yield
            else:
                yield
        finally:
            if purger is not None:
                await purger.stop()
            await app.state.db.dispose()

    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        telemetry=None if settings.telemetry else TELEMETRY_OFF,
    )
    app.state.settings = settings
    app.state.auth_settings = auth_settings or AuthSettings()
    app.state.db = database
    install_problem_handlers(app)
    if idempotency_model is not None:
        app.add_middleware(
            IdempotencyMiddleware,
            model=idempotency_model,
            ttl_seconds=settings.idempotency_ttl_seconds,
        )
    app.add_middleware(NotModifiedMiddleware)  # If-None-Match on reads: 304
    app.add_middleware(InputGuardMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware, service=settings.service_name)
    include_guarded(app, [health_router(readiness_checks), *routers])
    publish_access(app)
    publish_contract(app)
    install_feed_events(app, settings.service_name)  # writes answer Feed-Event: <service>:<id>
    return app


QUERY_GUARD = Depends(reject_unknown_query)


def include_guarded(app: FastAPI, routers: Sequence[APIRouter]) -> None:
    """Include the routers so that every route refuses a query parameter it does not declare
    (a misspelt filter is a 400), checked before any other dependency runs.

    The check is the first dependency of each route, except where a route's first dependency is
    its ``Access`` anyway: there Access checks the query first (services/common/auth.py), the
    same answer at the same point, and the request is spared solving one more dependency (~40
    Python calls with FastAPI 0.165, on every request). A router with any other route keeps
    the dependency for all of them; routes added to the app later get it as the app's own."""
    checked_by_access: dict[int, APIRoute] = {}
    for router in routers:
        routes = _api_routes(router.routes)
        if routes and all(_access_runs_first(route) for route in routes):
            app.include_router(router)
            checked_by_access.update((id(route), route) for route in routes)
        else:
            app.include_router(router, dependencies=[QUERY_GUARD])
    app.router.dependencies.append(QUERY_GUARD)
    setattr(app.state, QUERY_CHECKED_BY_ACCESS, checked_by_access)


def _access_runs_first(route: APIRoute) -> bool:
    dependencies = route.dependant.dependencies
    return bool(dependencies) and isinstance(dependencies[0].call, Access)


def publish_contract(app: FastAPI) -> None:
    """Each operation's document lists the headers and errors its route can give, derived from
    what the route declares (services/common/openapi_contract.py), not one list for all."""
    for route in _api_routes(app.routes):
        # Again on the final route: FastAPI names a route before it knows its response model,
        # and the rule tells a page (``list...``) from one object (``get...``) by that model.
        route.operation_id = route.operation_id or operation_id(route)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            declare_contract(generate(), _api_routes(app.routes))
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


def publish_access(app: FastAPI) -> None:
    """Every route must declare who may call it; publish that as ``x-access`` in OpenAPI.

    A route without an ``Access`` dependency is a bug that fails at startup (and so in every
    test), rather than an endpoint open to anyone by accident.
    """
    for route in _api_routes(app.routes):
        access = declared_access(route.dependant)
        if access is None:
            raise RuntimeError(
                f"{sorted(route.methods or ())} {route.path} declares no Access(...): "
                "say who may call it"
            )
        route.openapi_extra = {**(route.openapi_extra or {}), "x-access": access_extension(access)}


def app_state(request: Request, name: str) -> Any:
    return getattr(request.app.state, name)


def _api_routes(routes: Sequence[Any]) -> list[APIRoute]:
    """API routes, looking inside included routers (FastAPI wraps those lazily)."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif (inner := getattr(route, "original_router", None)) is not None:
            found.extend(_api_routes(inner.routes))
    return found
