"""The unknown-query guard's rules one by one (issue 15): a route's declared query names come from
its own parameters, its dependencies' and a query parameter model's fields, each by alias; a
name outside them is a 400 naming every unknown name and every allowed one; the allowed set is
worked out once per route, and never handed to another route. No database: a bare app with the
kernel's guard and problem handlers, built afresh for each test (a cached set made by an earlier
test, or before mutmut switched a mutant on, would hide the code that works it out).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Query
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from services.common.problems import install_problem_handlers
from services.common.query_guard import declared_query_names, reject_unknown_query

NOT_A_PARAMETER = "Not a parameter of this operation."
Route = Callable[[str], APIRoute]


class Filters(BaseModel):
    """A query parameter model: one field by its name, one by its alias."""

    country: str | None = None
    name_prefix: str | None = Field(None, alias="name-prefix")


def page(limit: int = 10, cursor: str | None = None) -> int:
    return limit


def guarded_app() -> FastAPI:
    app = FastAPI(dependencies=[Depends(reject_unknown_query)])
    install_problem_handlers(app)

    @app.get("/plain")
    async def plain(
        status: str | None = None,
        region: str | None = Query(None, alias="Region"),
        limit: int = Depends(page),
    ) -> dict[str, Any]:
        return {"status": status, "region": region, "limit": limit}

    @app.get("/model")
    async def model(
        *, status: str | None = None, filters: Annotated[Filters, Query()]
    ) -> dict[str, Any]:
        return {"status": status, "filters": filters.model_dump()}

    @app.get("/only-model")
    async def only_model(filters: Annotated[Filters, Query()]) -> dict[str, Any]:
        return filters.model_dump()

    @app.get("/bare")
    async def bare() -> dict[str, Any]:
        return {}

    return app


@pytest.fixture
def app() -> FastAPI:
    return guarded_app()


@pytest.fixture
def route(app: FastAPI) -> Route:
    return lambda path: next(r for r in app.routes if isinstance(r, APIRoute) and r.path == path)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://guarded") as client:
        yield client


def test_declared_names_are_the_routes_and_its_dependencies_by_alias(route: Route) -> None:
    assert declared_query_names(route("/plain")) == {"status", "Region", "limit", "cursor"}


def test_a_query_model_declares_its_fields_by_alias_next_to_the_routes_own(route: Route) -> None:
    assert declared_query_names(route("/model")) == {"status", "country", "name-prefix"}
    assert declared_query_names(route("/only-model")) == {"country", "name-prefix"}


def test_a_route_without_query_parameters_declares_none(route: Route) -> None:
    assert declared_query_names(route("/bare")) == frozenset()


def test_the_allowed_set_is_worked_out_once_per_route(route: Route) -> None:
    first = declared_query_names(route("/plain"))
    assert declared_query_names(route("/plain")) is first


def test_a_new_route_never_gets_a_freed_routes_names() -> None:
    """Routes built and dropped one after another (as tests build apps) are freed, and Python
    reuses a freed route's id for a new one (about a third of the time here): the new route
    must still get its own names."""
    stale = []
    for i in range(300):

        async def endpoint(value: str | None = Query(None, alias=f"p{i}")) -> None: ...

        names = declared_query_names(APIRoute("/x", endpoint))
        if names != {f"p{i}"}:
            stale.append(names)
    assert stale == []


@pytest.mark.parametrize(
    "url",
    [
        "/plain?status=open&Region=Fergana&limit=5&cursor=x",
        "/model?status=open&country=UZ&name-prefix=An",
        "/only-model?country=UZ",
        "/bare",
        "/plain",
    ],
)
async def test_declared_names_are_accepted(client: httpx.AsyncClient, url: str) -> None:
    response = await client.get(url)
    assert response.status_code == 200, response.text


async def test_declared_values_reach_the_route(client: httpx.AsyncClient) -> None:
    response = await client.get("/plain", params={"Region": "Fergana", "limit": "5"})
    assert response.json() == {"status": None, "region": "Fergana", "limit": 5}


async def test_unknown_names_are_a_400_naming_each_and_the_allowed_ones(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/plain", params={"zeta": "1", "status": "open", "alpha": "2"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"].endswith("/unknown-query-parameter")
    assert body["detail"] == (
        "Unknown query parameter(s): alpha, zeta. "
        "This operation takes: Region, cursor, limit, status."
    )
    assert body["errors"] == [
        {"location": "/query/alpha", "message": NOT_A_PARAMETER},
        {"location": "/query/zeta", "message": NOT_A_PARAMETER},
    ]
    assert body["allowed"] == ["Region", "cursor", "limit", "status"]


async def test_a_name_matches_its_alias_exactly(client: httpx.AsyncClient) -> None:
    """``region`` is not ``Region``, and a model field's name is not its alias."""
    response = await client.get("/plain", params={"region": "Fergana"})
    assert response.status_code == 400
    assert response.json()["allowed"] == ["Region", "cursor", "limit", "status"]
    model = await client.get("/model", params={"name_prefix": "An"})
    assert model.status_code == 400
    unknown = {"location": "/query/name_prefix", "message": NOT_A_PARAMETER}
    assert model.json()["errors"] == [unknown]


async def test_a_route_without_query_parameters_says_it_takes_none(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/bare", params={"x": "1"})
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "Unknown query parameter(s): x. This operation takes: none."
    assert body["allowed"] == []
