"""Fixtures: each service migrated once per run (SQLite, or PostgreSQL when TEST_DATABASE_URL is
set) and copied once per pytest process (xdist worker), emptied before each test that uses it,
served in-process through httpx's ASGITransport."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from gateway.app import create_app as create_gateway
from gateway.settings import GatewaySettings
from services.assessment.app import create_app as create_assessment
from services.assessment.models import metadata as assessment_metadata
from services.assessment.settings import AssessmentSettings
from services.common.app import _api_routes
from services.common.db import Database
from services.reporting.app import create_app as create_reporting
from services.reporting.models import metadata as reporting_metadata
from services.reporting.settings import ReportingSettings
from services.training.app import create_app as create_training
from services.training.models import metadata as training_metadata
from services.training.settings import TrainingSettings
from tests.database_templates import drop_run_databases, remove_run_dir, run_id
from tests.support import (
    TEST_AUTH,
    TEST_DATABASE_URL,
    drop_schema,
    drop_worker_database,
    empty_tables,
    migrated_database,
)


def pytest_configure(config: pytest.Config) -> None:
    run_id()  # fixed in the environment before xdist starts the workers, who inherit it


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that start processes are the longest: start them first, so that under xdist they
    overlap with the many short ones instead of running alone at the end. (`make test` hands
    xdist whole modules in this order: a module-scoped platform is started once per run.)"""
    items.sort(key=lambda item: item.get_closest_marker("processes") is None)


def pytest_sessionfinish(session: pytest.Session) -> None:
    asyncio.run(drop_worker_database())


def pytest_unconfigure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return  # an xdist worker: the controller cleans up the run once every worker is done
    if TEST_DATABASE_URL:
        asyncio.run(drop_run_databases(TEST_DATABASE_URL))
    remove_run_dir()


@pytest.fixture(scope="session")
def db_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("db")


async def _session_database(service: str, db_dir: Path) -> AsyncIterator[Database]:
    database = await migrated_database(service, db_dir)
    yield database
    await database.dispose()
    await drop_schema(database.url, database.schema)


@pytest.fixture(scope="session")
async def assessment_database(db_dir: Path) -> AsyncIterator[Database]:
    async for database in _session_database("assessment", db_dir):
        yield database


@pytest.fixture(scope="session")
async def training_database(db_dir: Path) -> AsyncIterator[Database]:
    async for database in _session_database("training", db_dir):
        yield database


@pytest.fixture(scope="session")
async def reporting_database(db_dir: Path) -> AsyncIterator[Database]:
    async for database in _session_database("reporting", db_dir):
        yield database


_documents: dict[str, dict[str, Any]] = {}


def _document_key(app: FastAPI) -> str:
    """What a service's OpenAPI document is made of: its settings and every route's path,
    methods, endpoint and response model. Two apps alike in all of it publish the same one."""
    routes = [
        (
            sorted(route.methods or ()),
            route.path,
            route.endpoint.__module__,
            route.endpoint.__qualname__,
            repr(route.response_model),
            route.include_in_schema,
        )
        for route in _api_routes(app.routes)
    ]
    settings = app.state.settings.model_dump_json()
    return json.dumps([app.title, app.version, app.description, settings, routes], default=repr)


def _document_once_per_process(app: FastAPI) -> FastAPI:
    """Generating a service's document costs about a second of CPU, and every test builds its
    apps anew: the first app alike generates it (the code under test), the others get a copy
    of it, so no test sees another's changes."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            key = _document_key(app)
            if key in _documents:
                app.openapi_schema = copy.deepcopy(_documents[key])
            else:
                _documents[key] = copy.deepcopy(generate())
        return generate()

    app.openapi = openapi  # type: ignore[method-assign]
    return app


@pytest.fixture
async def assessment_app(assessment_database: Database) -> FastAPI:
    await empty_tables(assessment_database, assessment_metadata)
    app = create_assessment(AssessmentSettings(), assessment_database, TEST_AUTH)
    return _document_once_per_process(app)


@pytest.fixture
async def training_app(training_database: Database) -> FastAPI:
    await empty_tables(training_database, training_metadata)
    app = create_training(TrainingSettings(), training_database, TEST_AUTH)
    return _document_once_per_process(app)


@pytest.fixture
async def reporting_app(reporting_database: Database) -> FastAPI:
    await empty_tables(reporting_database, reporting_metadata)
    app = create_reporting(ReportingSettings(), reporting_database, TEST_AUTH)
    return _document_once_per_process(app)


def _client(app: FastAPI, name: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}")


@pytest.fixture
async def assessment_client(assessment_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(assessment_app, "assessment") as client:
        yield client


@pytest.fixture
async def training_client(training_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(training_app, "training") as client:
        yield client


@pytest.fixture
async def reporting_client(reporting_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(reporting_app, "reporting") as client:
        yield client


@pytest.fixture
async def gateway_app(
    assessment_app: FastAPI, training_app: FastAPI, reporting_app: FastAPI
) -> AsyncIterator[FastAPI]:
    """The gateway in front of the three services, all in-process."""
    # Training checks factories and findings with the assessment service: in-process too.
    training_app.state.assessment_transport = httpx.ASGITransport(app=assessment_app)
    app = create_gateway(
        GatewaySettings(rate_limit_per_minute=100_000, rate_limit_burst=100_000),
        TEST_AUTH,
        transports={
            "assessment": httpx.ASGITransport(app=assessment_app),
            "training": httpx.ASGITransport(app=training_app),
            "reporting": httpx.ASGITransport(app=reporting_app),
        },
    )
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def gateway_client(gateway_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(gateway_app, "gateway") as client:
        yield client
