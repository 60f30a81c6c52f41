"""The live annual report reads its sections on two connections at once
(services/reporting/shared_snapshot.py). It must be the very report one session gives, and a
write committed while the connections open their snapshots must never leave it half before and
half after the write: PostgreSQL shares one snapshot exactly; SQLite notices the commit and
reads everything on one connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.common.db import Database
from services.reporting import shared_snapshot
from services.reporting.annual import service
from services.reporting.scope import Audience
from tests.reporting.conftest import sync_programme
from tests.reporting.feedgen import (
    Programme,
    assessment_payload,
    catalog_questions,
    generate_programme,
)
from tests.support import auth_header

YEAR = 2024
STAFF = Audience(minimum_factories=None)
PUBLIC = Audience(minimum_factories=3, today=date(2026, 1, 15))


def comparable(report: Any) -> dict[str, Any]:
    """The report's JSON without the moment it was generated."""
    content: dict[str, Any] = report.model_dump(mode="json")
    content.pop("generated_at")
    return content


async def one_session_report(database: Database, audience: Audience = STAFF) -> dict[str, Any]:
    async for session in database.read_session():
        return comparable(await service.build_annual_report(session, YEAR, "UZ", audience))
    raise AssertionError("no session")


@pytest.fixture
def sessions_used(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many sessions each concurrent report was handed (2: concurrent, 1: fallback)."""
    used: list[int] = []
    original = shared_snapshot.shared_snapshot

    @asynccontextmanager
    async def counting(database: Database, sessions: int) -> AsyncIterator[list[AsyncSession]]:
        async with original(database, sessions) as handed:
            used.append(len(handed))
            yield handed

    monkeypatch.setattr(service, "shared_snapshot", counting)
    return used


@pytest.mark.parametrize("audience", [STAFF, PUBLIC], ids=["staff", "public"])
async def test_the_concurrent_report_is_the_one_session_report(
    reporting_app: FastAPI, programme: Programme, sessions_used: list[int], audience: Audience
) -> None:
    await sync_programme(reporting_app, programme)
    database: Database = reporting_app.state.db
    expected = await one_session_report(database, audience)
    report = await service.read_annual_report(database, YEAR, "UZ", audience)
    assert sessions_used == [2]  # it did read on two connections
    assert comparable(report) == expected
    assert expected["summary"]["factories_assessed"] > 0
    assert expected["highest_non_compliance"] and expected["trends"]["by_year"]


async def test_the_endpoint_serves_the_one_session_report(
    reporting_app: FastAPI, programme: Programme, sessions_used: list[int]
) -> None:
    await sync_programme(reporting_app, programme)
    transport = httpx.ASGITransport(app=reporting_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as client:
        response = await client.get(
            f"/v1/reports/annual/{YEAR}", params={"country": "UZ"}, headers=auth_header("staff")
        )
    assert response.status_code == 200, response.text
    served = response.json()
    served.pop("generated_at")
    assert sessions_used == [2]
    assert served == await one_session_report(reporting_app.state.db)


# --- a write between the snapshots -----------------------------------------------------------

OpenOther = Callable[[AsyncConnection, str | None], Awaitable[None]]


def worse_assessment(programme: Programme) -> None:
    """A later 2024 assessment of one factory, non-compliant on every question: it changes the
    question rates (the second connection's) and the summary (the first's) alike."""
    catalog = programme.catalog
    codes = {q["code"] for q in catalog_questions(catalog) if q["kind"] == "finding"}
    payload = assessment_payload(
        "asm_late_2024",
        "fac_00000",
        catalog,
        cycle=3,
        visit_end=date(YEAR, 12, 20),
        non_compliant=codes,
    )
    programme.assessment.add("assessment.published", payload)


def write_between_snapshots(
    monkeypatch: pytest.MonkeyPatch,
    app: FastAPI,
    programme: Programme,
    open_other: OpenOther | None = None,
) -> list[bool]:
    """Commit the later assessment where it would split the report: on SQLite right after the
    second connection has opened its snapshot (the first opens its own after it); on PostgreSQL
    after the first has exported its snapshot and before the second adopts it."""
    original = open_other or shared_snapshot.open_other
    written: list[bool] = []
    after_open = app.state.db.is_sqlite

    async def write() -> None:
        worse_assessment(programme)
        await sync_programme(app, programme)
        written.append(True)

    async def opening_with_a_write(connection: AsyncConnection, exported: str | None) -> None:
        if not after_open:
            await write()
        await original(connection, exported)
        if after_open:
            await write()

    monkeypatch.setattr(shared_snapshot, "open_other", opening_with_a_write)
    return written


@pytest.fixture
async def synced(reporting_app: FastAPI) -> Programme:
    fresh = generate_programme(seed=20240, factories=14, cycles=3)
    await sync_programme(reporting_app, fresh)
    return fresh


async def test_a_write_between_the_snapshots_never_splits_the_report(
    reporting_app: FastAPI,
    synced: Programme,
    sessions_used: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    database: Database = reporting_app.state.db
    before = await one_session_report(database)
    written = write_between_snapshots(monkeypatch, reporting_app, synced)

    report = comparable(await service.read_annual_report(database, YEAR, "UZ", STAFF))

    after = await one_session_report(database)
    assert written == [True] and before != after
    assert before["summary"] != after["summary"]
    assert before["highest_non_compliance"] != after["highest_non_compliance"]
    if database.is_sqlite:  # the commit was noticed: everything read on the newer snapshot
        assert sessions_used == [1]
        assert report == after
    else:  # both read the exported snapshot, from before the write
        assert sessions_used == [2]
        assert report == before


async def test_without_the_guarantee_the_same_write_splits_the_report(
    reporting_app: FastAPI,
    synced: Programme,
    sessions_used: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The control of the test above: with SQLite's check blinded (a read that does not move
    with commits) or PostgreSQL's snapshot not adopted, the report mixes both states."""
    database: Database = reporting_app.state.db
    before = await one_session_report(database)
    if database.is_sqlite:
        monkeypatch.setattr(shared_snapshot, "_DATA_VERSION", "SELECT count(*) FROM feed_cursor")
        write_between_snapshots(monkeypatch, reporting_app, synced)
    else:

        async def not_adopted(connection: AsyncConnection, exported: str | None) -> None:
            return None

        write_between_snapshots(monkeypatch, reporting_app, synced, not_adopted)

    report = comparable(await service.read_annual_report(database, YEAR, "UZ", STAFF))

    after = await one_session_report(database)
    assert sessions_used == [2]
    assert report not in (before, after)
    # The first connection (summary) and the second (question rates) read different states.
    first, second = (after, before) if database.is_sqlite else (before, after)
    assert report["summary"] == first["summary"]
    assert report["highest_non_compliance"] == second["highest_non_compliance"]


async def test_sessions_without_a_write_share_one_snapshot(reporting_app: FastAPI) -> None:
    database: Database = reporting_app.state.db
    async with shared_snapshot.shared_snapshot(database, 3) as sessions:
        assert len(sessions) == 3


async def test_reports_take_no_more_extra_connections_than_the_bound(
    reporting_app: FastAPI, programme: Programme, sessions_used: list[int]
) -> None:
    """A report holds its first connection while it takes a second: past the bound it reads on
    the first alone (the same report), so reports cannot empty the pool waiting on each other."""
    await sync_programme(reporting_app, programme)
    database: Database = reporting_app.state.db
    expected = await one_session_report(database)
    assert shared_snapshot.EXTRA_CONNECTIONS == 2
    async with (
        shared_snapshot.shared_snapshot(database, 2) as first,
        shared_snapshot.shared_snapshot(database, 2) as second,
    ):
        assert (len(first), len(second)) == (2, 2)
        report = await service.read_annual_report(database, YEAR, "UZ", STAFF)
    assert comparable(report) == expected
    # Inside: no spare connection, one session; after: the bound is free again.
    await service.read_annual_report(database, YEAR, "UZ", STAFF)
    assert sessions_used == [1, 2]


# --- running the groups ----------------------------------------------------------------------


async def test_when_one_group_fails_the_others_stop_before_the_error_goes_on() -> None:
    stopped = asyncio.Event()

    async def slow() -> int:
        try:
            await asyncio.sleep(30)
        finally:
            stopped.set()
        return 1

    async def failing() -> int:
        await asyncio.sleep(0)
        raise LookupError("a section failed")

    with pytest.raises(LookupError):
        await shared_snapshot.together([slow(), failing()])
    assert stopped.is_set()
