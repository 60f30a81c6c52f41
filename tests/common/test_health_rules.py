"""Health probes, rule by rule (issue 15): liveness answers while the process runs; readiness is
200 only while the database answers, says which check failed and why (the exception's type, not
its text, which may carry a connection string), and carries the service's own checks."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import httpx
from fastapi import FastAPI, Request

from services.common.db import Database
from services.common.health import health_router


class _UnreachableEngine:
    def connect(self) -> Any:
        raise ConnectionRefusedError("postgresql://bw:secret@db/bw refused")


def probe_app(database: object, extra: dict[str, Any] | None = None) -> FastAPI:
    app = FastAPI(title="probe")
    app.include_router(health_router(extra))
    app.state.db = database
    return app


async def get(app: FastAPI, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://probe") as client:
        return await client.get(path)


async def test_liveness_names_the_service_and_needs_no_database() -> None:
    response = await get(probe_app(database=None), "/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "service": "probe"}


async def test_ready_while_the_database_answers(notes_database: Database) -> None:
    response = await get(probe_app(notes_database), "/health/ready")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "service": "probe",
        "checks": {"database": {"status": "ok"}},
    }


async def test_not_ready_without_the_database_and_says_why_without_its_address() -> None:
    unreachable = SimpleNamespace(engine=_UnreachableEngine())
    response = await get(probe_app(unreachable), "/health/ready")
    assert response.status_code == 503
    assert response.json() == {
        "status": "down",
        "service": "probe",
        "checks": {"database": {"status": "down", "detail": "ConnectionRefusedError"}},
    }
    assert "secret" not in response.text


async def test_the_services_own_checks_are_reported_by_name(notes_database: Database) -> None:
    async def feeds(request: Request) -> dict[str, Any]:
        return {"status": "degraded", "service": request.app.title}

    async def queue(_: Request) -> dict[str, Any]:
        return {"status": "ok"}

    app = probe_app(notes_database, {"feeds": feeds, "queue": queue})
    body = (await get(app, "/health/ready")).json()
    assert body["checks"] == {
        "database": {"status": "ok"},
        "feeds": {"status": "degraded", "service": "probe"},
        "queue": {"status": "ok"},
    }
    # A service's own check informs; only the database decides readiness.
    assert body["status"] == "ok"


def test_the_probes_are_listed_under_health_with_what_they_answer() -> None:
    paths = probe_app(database=None).openapi()["paths"]
    live, ready = paths["/health/live"]["get"], paths["/health/ready"]["get"]
    assert live["tags"] == ready["tags"] == ["health"]
    assert live["summary"] == "The process is up"
    assert ready["summary"] == "The service can serve requests"
