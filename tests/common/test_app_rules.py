"""The kernel's app factory, rule by rule (issue 15): every service gets the same stack, set from
its own settings: the database it was given (or the one its settings name), the request-id,
body-size, conditional-read, idempotency and feed-event layers, its readiness checks, a 400 for
an unknown query parameter, operation ids by the house rule, and a lifespan that refuses a
built-in secret, logs in JSON, and releases the database on shutdown."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Request
from opentelemetry import trace
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import app as app_module
from services.common.app import app_state, create_service_app, get_read_session, get_session
from services.common.auth import Access, Role
from services.common.db import Database
from services.common.pagination import Page
from services.common.problems import Problem
from services.common.settings import ENVIRONMENT_VARIABLE, InsecureSettings, ServiceSettings
from tests.common import notes_app
from tests.common.notes_app import Note, NoteIdempotency
from tests.support import TEST_AUTH, auth_header

ADMIN = auth_header("admin")
staff = Access(Role.STAFF, Role.ADMIN)


class Thing(BaseModel):
    id: str


def things() -> APIRouter:
    """Built anew for each app: a route keeps the operation id an earlier app gave it."""
    router = APIRouter(prefix="/v1/things")

    @router.get("")
    async def list_things(_: object = Depends(staff)) -> Page[Thing]:
        return Page(items=[], next_cursor=None)

    @router.post("/{thing_id}/parts")
    async def add_part(
        thing_id: str, first: Thing, second: Thing, _: object = Depends(staff)
    ) -> Thing:
        return first

    return router


reads = APIRouter(prefix="/v1/read")


@reads.get("/notes")
async def count_notes(
    request: Request,
    session: AsyncSession = Depends(get_read_session),
    _: object = Depends(staff),
) -> dict[str, Any]:
    count = (await session.execute(select(func.count()).select_from(Note))).scalar_one()
    return {"count": count, "service": app_state(request, "settings").service_name}


failing = APIRouter(prefix="/v1/failing")


@failing.get("/read")
async def read_then_fail(
    session: AsyncSession = Depends(get_read_session), _: object = Depends(staff)
) -> None:
    await session.execute(select(func.count()).select_from(Note))
    raise Problem(409, "The route fails after reading.")


@failing.post("/write")
async def write_then_fail(
    session: AsyncSession = Depends(get_session), _: object = Depends(staff)
) -> None:
    session.add(Note(id="note_never_kept", text="never kept"))
    await session.flush()
    raise Problem(409, "The route fails after writing.")


def notes(database: Database | None, **overrides: Any) -> FastAPI:
    settings = overrides.pop("settings", ServiceSettings(service_name="notes"))
    options: dict[str, Any] = {
        "title": "notes",
        "description": "kernel test app",
        "settings": settings,
        "routers": [notes_app.router, reads, failing],
        "database": database,
        "auth_settings": TEST_AUTH,
        "idempotency_model": NoteIdempotency,
    }
    return create_service_app(**(options | overrides))


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notes")


def test_the_document_carries_title_description_and_version() -> None:
    info = notes(None).openapi()["info"]
    assert (info["title"], info["description"], info["version"]) == (
        "notes",
        "kernel test app",
        "0.1.0",
    )
    assert notes(None, version="2.3.0").openapi()["info"]["version"] == "2.3.0"


def test_operation_ids_and_body_schemas_are_named_by_the_house_rule() -> None:
    app = create_service_app(
        title="t", description="", settings=ServiceSettings(service_name="t"), routers=[things()]
    )

    @app.post("/v1/thing-kinds")  # added once the app is built: named by the same rule
    async def add_thing_kind(_: object = Depends(staff)) -> None:
        return None

    document = app.openapi()
    assert document["paths"]["/v1/thing-kinds"]["post"]["operationId"] == "createThingKind"
    # A page by its return annotation alone is a list (known only once the route is final).
    assert document["paths"]["/v1/things"]["get"]["operationId"] == "listThings"
    operation = document["paths"]["/v1/things/{thing_id}/parts"]["post"]
    assert operation["operationId"] == "createThingPart"
    assert "Body_createThingPart" in document["components"]["schemas"]
    assert app.openapi() is document  # generated once


async def test_sessions_write_and_read_the_database_given(notes_database: Database) -> None:
    async with client(notes(notes_database)) as http:
        created = await http.post("/v1/notes", json={"text": "a"}, headers=ADMIN)
        counted = await http.get("/v1/read/notes", headers=ADMIN)
    assert created.status_code == 201, created.text
    assert counted.json() == {"count": 1, "service": "notes"}


async def test_a_route_that_fails_gives_its_session_back_before_answering(
    notes_database: Database,
) -> None:
    """The session a failing route held is closed as the request ends (its connection back in
    the pool, its writes rolled back), not whenever the garbage collector gets to it."""
    pool = notes_database.engine.pool
    async with client(notes(notes_database)) as http:
        read = await http.get("/v1/failing/read", headers=ADMIN)
        assert read.status_code == 409 and pool.checkedout() == 0  # type: ignore[attr-defined]
        written = await http.post("/v1/failing/write", headers=ADMIN)
        assert written.status_code == 409 and pool.checkedout() == 0  # type: ignore[attr-defined]
        counted = await http.get("/v1/read/notes", headers=ADMIN)
    assert counted.json()["count"] == 0


async def test_fastapis_telemetry_is_off_unless_the_settings_turn_it_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """FastAPI's native OpenTelemetry looks for the global providers on every request, even
    with none installed: a service does not pay for it unless its settings ask for it."""
    asked: list[str] = []
    real = trace.get_tracer_provider

    def looked_up() -> trace.TracerProvider:
        asked.append("tracer")
        return real()

    monkeypatch.setattr(trace, "get_tracer_provider", looked_up)
    async with client(notes(None)) as http:
        assert (await http.get("/health/live")).status_code == 200
    assert asked == []
    traced = ServiceSettings(service_name="notes", telemetry=True)
    async with client(notes(None, settings=traced)) as http:
        assert (await http.get("/health/live")).status_code == 200
    assert asked


async def test_a_write_answers_its_feed_event_named_after_the_service(
    notes_database: Database,
) -> None:
    async with client(notes(notes_database)) as http:
        created = await http.post("/v1/notes", json={"text": "a"}, headers=ADMIN)
    assert created.headers["feed-event"].startswith("notes:")


async def test_idempotency_keys_are_honoured_for_the_settings_time(
    notes_database: Database,
) -> None:
    settings = ServiceSettings(service_name="notes", idempotency_ttl_seconds=90)
    keyed = {**ADMIN, "idempotency-key": "k-1"}
    async with client(notes(notes_database, settings=settings)) as http:
        first = await http.post("/v1/notes", json={"text": "a"}, headers=keyed)
        again = await http.post("/v1/notes", json={"text": "a"}, headers=keyed)
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    async with notes_database.sessionmaker() as session:
        [record] = (await session.execute(select(NoteIdempotency))).scalars()
    assert abs(record.expires_at - record.created_at - timedelta(seconds=90)) < timedelta(seconds=5)


async def test_without_an_idempotency_table_a_key_is_not_remembered(
    notes_database: Database,
) -> None:
    keyed = {**ADMIN, "idempotency-key": "k-1"}
    async with client(notes(notes_database, idempotency_model=None)) as http:
        first = await http.post("/v1/notes", json={"text": "a"}, headers=keyed)
        second = await http.post("/v1/notes", json={"text": "a"}, headers=keyed)
    assert first.json()["id"] != second.json()["id"]


async def test_bodies_are_limited_to_the_settings_size(notes_database: Database) -> None:
    settings = ServiceSettings(service_name="notes", max_body_bytes=64)
    async with client(notes(notes_database, settings=settings)) as http:
        too_big = await http.post("/v1/notes", json={"text": "x" * 64}, headers=ADMIN)
        fits = await http.post("/v1/notes", json={"text": "x" * 8}, headers=ADMIN)
    assert too_big.status_code == 413 and fits.status_code == 201
    assert too_big.headers["x-request-id"]  # refused inside the request-id layer


async def test_the_access_log_names_the_service(
    notes_database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="bw.access"):
        async with client(notes(notes_database)) as http:
            await http.get("/v1/read/notes", headers=ADMIN)
    [record] = [r for r in caplog.records if r.name == "bw.access"]
    assert record.service == "notes"  # type: ignore[attr-defined]


async def test_readiness_includes_the_services_own_checks(notes_database: Database) -> None:
    async def feeds(_: Request) -> dict[str, str]:
        return {"status": "ok"}

    async with client(notes(notes_database, readiness_checks={"feeds": feeds})) as http:
        checks = (await http.get("/health/ready")).json()["checks"]
    assert set(checks) == {"database", "feeds"}


def test_a_route_without_access_names_itself_in_the_error() -> None:
    router = APIRouter()

    @router.post("/v1/open")
    async def oops() -> None:
        return None

    with pytest.raises(RuntimeError) as refused:
        create_service_app(
            title="t", description="", settings=ServiceSettings(service_name="t"), routers=[router]
        )
    assert str(refused.value) == ("['POST'] /v1/open declares no Access(...): say who may call it")


@pytest.fixture
def root_logging() -> Iterator[None]:
    """The lifespan configures the process's logging: put it back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


async def test_the_lifespan_opens_the_settings_database_and_releases_it(
    tmp_path: Path, root_logging: None, caplog: pytest.LogCaptureFixture
) -> None:
    settings = ServiceSettings(service_name="notes", var_dir=tmp_path, log_level="warning")
    entered: list[str] = []

    @asynccontextmanager
    async def extra(app: FastAPI) -> AsyncIterator[None]:
        entered.append("in")
        yield
        entered.append("out")

    app = notes(None, settings=settings, extra_lifespan=extra)
    async with app.router.lifespan_context(app):
        database = app.state.db
        assert isinstance(database, Database)
        assert str(database.engine.url).endswith(str(tmp_path / "notes.db"))
        assert entered == ["in"]
        assert logging.getLogger().level == logging.WARNING
        async with client(app) as http:
            assert (await http.get("/health/ready")).status_code == 200
        assert database.engine.pool.checkedin() >= 1  # type: ignore[attr-defined]  # kept for reuse
    assert entered == ["in", "out"]
    assert database.engine.pool.checkedin() == 0  # type: ignore[attr-defined]  # disposed


@pytest.mark.parametrize("echo", [True, False])
async def test_the_lifespan_opens_the_database_the_settings_name_and_says_so(
    echo: bool,
    monkeypatch: pytest.MonkeyPatch,
    root_logging: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    opened: list[tuple[Any, ...]] = []

    class Recorded:
        def __init__(self, *args: Any) -> None:
            opened.append(args)

        async def dispose(self) -> None:
            opened.append(("disposed",))

    monkeypatch.setattr(app_module, "Database", Recorded)
    settings = ServiceSettings(
        service_name="notes",
        database_url="postgresql+asyncpg://bw@db.example/bw",
        db_schema="notes_eu",
        sql_echo=echo,
    )
    app = notes(None, settings=settings, idempotency_model=None)
    async with app.router.lifespan_context(app):
        assert opened == [("postgresql+asyncpg://bw@db.example/bw", "notes_eu", echo)]
    assert opened[-1] == ("disposed",)
    [started] = [r for r in caplog.records if r.getMessage() == "started"]
    assert started.service == "notes"  # type: ignore[attr-defined]


async def test_the_lifespan_purges_keys_at_the_settings_interval(
    notes_database: Database, root_logging: None
) -> None:
    settings = ServiceSettings(service_name="notes", idempotency_purge_interval_seconds=42.0)
    app = notes(notes_database, settings=settings)
    async with app.router.lifespan_context(app):
        assert app.state.idempotency_purger.interval == 42.0
        assert app.state.idempotency_purger.running
    assert not app.state.idempotency_purger.running


async def test_the_lifespan_keeps_the_database_given_and_disposes_it(
    notes_database: Database, monkeypatch: pytest.MonkeyPatch, root_logging: None
) -> None:
    disposed: list[bool] = []

    async def dispose() -> None:
        disposed.append(True)

    monkeypatch.setattr(notes_database, "dispose", dispose)
    app = notes(notes_database)
    async with app.router.lifespan_context(app):
        assert app.state.db is notes_database
    assert disposed == [True]


async def test_the_lifespan_refuses_the_builtin_secret_outside_development(
    monkeypatch: pytest.MonkeyPatch, root_logging: None
) -> None:
    monkeypatch.delenv(ENVIRONMENT_VARIABLE, raising=False)
    app = notes(None, auth_settings=None)
    with pytest.raises(InsecureSettings):
        async with app.router.lifespan_context(app):
            pass
