"""Reporting fixtures: fake sources serving generated feeds, and a one-call sync into the app."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from services.reporting.compliance import report, selection, service, trends
from services.reporting.settings import ReportingSettings
from services.reporting.sync.worker import FeedReader, make_readers
from tests.reporting.feedgen import FakeSource, Programme, fake_source_app, generate_programme
from tests.support import TEST_AUTH


def readers_for(
    app: FastAPI, sources: dict[str, FakeSource], page_size: int = 40
) -> list[FeedReader]:
    transports: dict[str, httpx.AsyncBaseTransport] = {
        name: httpx.ASGITransport(app=fake_source_app(source, TEST_AUTH))
        for name, source in sources.items()
    }
    return make_readers(
        app.state.db,
        ReportingSettings(sync_page_size=page_size),
        TEST_AUTH,
        transports,
        sources=list(sources),
    )


async def sync_sources(app: FastAPI, sources: dict[str, FakeSource], page_size: int = 40) -> int:
    applied = 0
    for reader in readers_for(app, sources, page_size):
        async with reader.client:
            applied += await reader.catch_up()
    return applied


async def sync_programme(app: FastAPI, programme: Programme, page_size: int = 40) -> int:
    return await sync_sources(
        app,
        {
            "assessment": FakeSource(programme.assessment),
            "training": FakeSource(programme.training),
        },
        page_size,
    )


@pytest.fixture(scope="session")
def programme() -> Programme:
    return generate_programme(seed=20240, factories=14, cycles=3)


# The reporting statements each process builds once and keeps (SQLAlchemy statements are
# immutable; building one costs more than running it on small data).
STATEMENT_CACHES = (
    selection.selected_assessments,
    selection.latest_per_cycle_and_year,
    service._summary_statement,
    service.grouped_statement,
    report._statement,
    trends._trend_statement,
    trends._both_trends_statement,
)


@pytest.fixture(autouse=True)
def fresh_statement_caches() -> None:
    """Each test builds the statements it runs, so it exercises the code that builds them: a
    statement kept from an earlier test (or, in a mutation run, from before the mutant was
    switched on) would hide a change in that code."""
    for cached in STATEMENT_CACHES:
        cached.cache_clear()
