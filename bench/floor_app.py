"""The stack's floor for a 20-row list, served beside the platform by ``bench_requests``.

The same kernel as the assessment service (``create_service_app``: its middleware, access
log, problem handlers, ``/health/live``) on the same database, with one route that does only
what any list must: check the bearer token (``Reader``, as every list does), take a pooled
connection, run one 21-row ``SELECT`` of the factories the caller may see (the list's own row
filter), and write the rows as JSON. No query parameters, no ORM session, no response model.
Whatever a real list costs above this is the platform's own; what this costs above
``/health/live`` is FastAPI's, SQLAlchemy's and the driver's, which no change to the services
can take away.

A second route, ``/floor/factories/driver``, does the same for an administrator (who sees every
factory, so no row filter) with the database driver's own calls instead of SQLAlchemy's
execution: the SQL written out, one trip to aiosqlite's thread (as the services' driver
makes) or one asyncpg ``fetch``, rows turned into JSON by hand. It shows what leaving
SQLAlchemy on a list's path would buy, and is not a way the services read.

Only ``bench_requests`` starts it (uvicorn ``bench.floor_app:create_app --factory``), never
the platform.
"""

from __future__ import annotations

import sqlite3
from typing import Annotated, Any

import pydantic_core
from fastapi import APIRouter, Depends, FastAPI, Request, Response

from services.assessment.access import Reader, factory_filter
from services.assessment.models import Factory
from services.assessment.settings import AssessmentSettings
from services.common.app import create_service_app
from services.common.auth import Access, Principal, Role
from services.common.db import Database
from services.common.pagination import select_rows
from services.common.settings import AuthSettings

FLOOR_PATH = "/floor/factories"
PAGE = 20  # the list's page in bench_requests (limit=20)
# One more row than the page tells a list whether there is a next page.
_PAGE_AND_ONE = PAGE + 1

router = APIRouter()
Administrator = Annotated[Principal, Depends(Access(Role.ADMIN))]


@router.get(FLOOR_PATH)
async def first_factories(request: Request, caller: Reader) -> Response:
    first_rows = (
        select_rows(Factory).where(factory_filter(caller)).order_by(Factory.id).limit(_PAGE_AND_ONE)
    )
    async with request.app.state.db.read_engine.connect() as connection:
        rows = (await connection.execute(first_rows)).all()
    page = {"items": [row._asdict() for row in rows[:PAGE]], "next_cursor": None}
    return Response(pydantic_core.to_json(page), media_type="application/json")


DRIVER_FLOOR_PATH = FLOOR_PATH + "/driver"
_JSON_COLUMNS = ("export_markets", "buyer_brand_ids")
_COLUMNS = [column.name for column in Factory.__table__.columns]  # type: ignore[attr-defined]
_DRIVER_SQL = f"SELECT {', '.join(_COLUMNS)} FROM factory ORDER BY id LIMIT {_PAGE_AND_ONE}"


@router.get(DRIVER_FLOOR_PATH)
async def first_factories_by_driver(request: Request, caller: Administrator) -> Response:
    database: Database = request.app.state.db
    async with database.read_engine.connect() as connection:
        pooled = await connection.get_raw_connection()
        driver = pooled.driver_connection
        if database.is_sqlite:
            rows = await driver._execute(_sqlite_rows, driver._conn)  # one trip to its thread
        else:
            rows = await driver.fetch(_DRIVER_SQL)
    items = []
    for row in rows[:PAGE]:
        item = dict(zip(_COLUMNS, row, strict=True))
        for name in _JSON_COLUMNS:  # text from SQLite; asyncpg decodes them (SQLAlchemy's codec)
            if isinstance(item[name], str):
                item[name] = pydantic_core.from_json(item[name])
        items.append(item)
    page = {"items": items, "next_cursor": None}
    return Response(pydantic_core.to_json(page), media_type="application/json")


def _sqlite_rows(connection: sqlite3.Connection) -> list[Any]:
    return connection.execute(_DRIVER_SQL).fetchall()


def create_app(
    settings: AssessmentSettings | None = None,
    database: Database | None = None,
    auth_settings: AuthSettings | None = None,
) -> FastAPI:
    return create_service_app(
        title="floor",
        description=__doc__ or "",
        settings=settings or AssessmentSettings(),
        database=database,
        auth_settings=auth_settings,
        routers=[router],
    )
