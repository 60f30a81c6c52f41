"""Reporting's readiness check on its feeds, for ``/health/ready``."""

from contextlib import asynccontextmanager
from typing import Any

from fastapi import Request

from services.common.app import get_read_session
from services.reporting.freshness import service


async def feeds_readiness(request: Request) -> dict[str, Any]:
    """For /health/ready: reports stay servable while a source is down, so this only informs.
    A readiness check is called with the request, not resolved as a dependency, so it takes the
    kernel's read-session dependency by hand as a context manager: the session is closed when
    the check returns or raises, not left to the garbage collector in a half-run generator."""
    async with asynccontextmanager(get_read_session)(request) as session:
        result = await service.freshness(session)
    return {
        "status": "ok" if all(f.status == "ok" for f in result.feeds) else "degraded",
        "feeds": {f.source: f.model_dump(mode="json") for f in result.feeds},
    }
