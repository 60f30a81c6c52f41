"""Liveness and readiness: ``/health/live`` answers while the process runs; ``/health/ready``
only when the database answers too (and whatever extra checks the service adds)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from services.common.auth import PUBLIC

ReadinessCheck = Callable[[Request], Awaitable[dict[str, Any]]]


def health_router(extra_checks: dict[str, ReadinessCheck] | None = None) -> APIRouter:
    router = APIRouter(prefix="/health", tags=["health"])

    @router.get("/live", summary="The process is up", dependencies=[Depends(PUBLIC)])
    async def live(request: Request) -> dict[str, str]:
        return {"status": "ok", "service": request.app.title}

    @router.get("/ready", summary="The service can serve requests", dependencies=[Depends(PUBLIC)])
    async def ready(request: Request) -> JSONResponse:
        checks: dict[str, Any] = {}
        healthy = True
        try:
            async with request.app.state.db.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            checks["database"] = {"status": "ok"}
        except Exception as exc:
            healthy = False
            checks["database"] = {"status": "down", "detail": type(exc).__name__}
        for name, check in (extra_checks or {}).items():
            checks[name] = await check(request)
        body = {
            "status": "ok" if healthy else "down",
            "service": request.app.title,
            "checks": checks,
        }
        return JSONResponse(body, status_code=200 if healthy else 503)

    return router
