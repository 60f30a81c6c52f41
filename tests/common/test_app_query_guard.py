"""The kernel's unknown-query rule (services/common/app.py include_guarded, query_guard.py): a
query parameter a route does not declare is a 400 on every route, refused before any other
dependency runs, whether the guard is a dependency of its own or checked by the route's
Access."""

from __future__ import annotations

import sys
from types import FrameType

import pytest
from fastapi import APIRouter, Depends, FastAPI

from services.common import query_guard
from services.common.app import create_service_app
from services.common.problems import Problem
from services.common.settings import ServiceSettings
from tests.common.test_app_rules import ADMIN, client, notes, staff, things
from tests.support import TEST_AUTH


async def test_an_unknown_query_parameter_is_a_400_on_every_route() -> None:
    async with client(notes(None)) as http:
        assert (await http.get("/health/live?statuss=ok")).status_code == 400
        assert (await http.get("/health/live")).status_code == 200


def mixed() -> APIRouter:
    """One route whose Access comes first, one whose cursor is worked out before its Access."""
    router = APIRouter(prefix="/v1/mixed")

    @router.get("/access-first")
    async def read_mixed(_: object = Depends(staff), limit: int = 10) -> dict[str, int]:
        return {"limit": limit}

    @router.get("/cursor-first")
    async def list_mixed(
        cursor: str | None = Depends(cursor_of), _: object = Depends(staff)
    ) -> dict[str, str | None]:
        return {"cursor": cursor}

    return router


async def cursor_of(cursor: str | None = None) -> str | None:
    if cursor == "bad":
        raise Problem(400, "Not a cursor this list issued.", kind="invalid-cursor")
    return cursor


def guarded_app() -> FastAPI:
    app = create_service_app(
        title="t",
        description="",
        settings=ServiceSettings(service_name="t"),
        routers=[things(), mixed()],
        auth_settings=TEST_AUTH,
    )

    @app.get("/v1/late")  # added once the app is built: guarded as the app's own route
    async def read_late(
        cursor: str | None = Depends(cursor_of), _: object = Depends(staff)
    ) -> dict[str, str | None]:
        return {"cursor": cursor}

    return app


UNKNOWN = "https://betterwork.example.org/problems/unknown-query-parameter"


@pytest.mark.parametrize(
    ("method", "url", "token", "body", "answer"),
    [
        ("GET", "/v1/things?zz=1", False, None, (400, UNKNOWN)),  # before the missing token
        ("GET", "/v1/things", True, None, (200, None)),
        ("GET", "/v1/mixed/access-first?zz=1", False, None, (400, UNKNOWN)),
        ("GET", "/v1/mixed/access-first?limit=x&zz=1", True, None, (400, UNKNOWN)),
        ("GET", "/v1/mixed/access-first?limit=3", True, None, (200, None)),
        ("GET", "/v1/mixed/cursor-first?cursor=bad&zz=1", True, None, (400, UNKNOWN)),
        ("GET", "/v1/mixed/cursor-first?cursor=bad", True, None, (400, "invalid-cursor")),
        ("GET", "/v1/mixed/cursor-first?zz=1", False, None, (400, UNKNOWN)),
        ("GET", "/v1/late?cursor=bad&zz=1", True, None, (400, UNKNOWN)),
        ("GET", "/v1/late?cursor=bad", True, None, (400, "invalid-cursor")),
        ("GET", "/health/live?zz=1", False, None, (400, UNKNOWN)),
        # The body is read before any dependency runs: malformed JSON is said first, as ever.
        ("POST", "/v1/things/t1/parts?zz=1", True, b"{bad", (400, "malformed-json")),
        ("POST", "/v1/things/t1/parts?zz=1", False, b'{"first": {"id": "a"}}', (400, UNKNOWN)),
    ],
)
async def test_an_unknown_query_parameter_is_refused_before_any_dependency_of_any_route(
    method: str, url: str, token: bool, body: bytes | None, answer: tuple[int, str | None]
) -> None:
    headers = {"content-type": "application/json"} | (ADMIN if token else {})
    async with client(guarded_app()) as http:
        got = await http.request(method, url, headers=headers, content=body)
    status, kind = answer
    assert got.status_code == status, got.text
    if kind is not None:
        assert got.json()["type"] in (kind, f"https://betterwork.example.org/problems/{kind}")


async def test_a_route_whose_access_comes_first_has_access_check_its_query() -> None:
    """Solving one more dependency costs ~40 Python calls a request: where every route of a
    router has its Access run first anyway, Access checks the query and the guard dependency
    is not solved; a router with any other route keeps the guard for all of its routes."""
    guard = query_guard.reject_unknown_query.__code__
    app = guarded_app()
    guard_runs: list[str] = []

    def profile(frame: FrameType, event: str, arg: object) -> None:
        if event == "call" and frame.f_code is guard:
            guard_runs.append(frame.f_code.co_name)

    async with client(app) as http:
        for url, runs in [
            ("/v1/things?zz=1", 0),
            ("/v1/mixed/access-first?zz=1", 1),  # its router's other route needs the guard
            ("/v1/mixed/cursor-first?zz=1", 1),
            ("/v1/late?zz=1", 1),
        ]:
            guard_runs.clear()
            sys.setprofile(profile)
            try:
                refused = await http.get(url, headers=ADMIN)
            finally:
                sys.setprofile(None)
            assert refused.json()["type"] == UNKNOWN
            assert len(guard_runs) == runs, url
