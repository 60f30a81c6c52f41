"""A rates answer in one statement (compliance/report.py) equals the separate statements the
annual report still runs (summary, cluster/CP/question rates), for every audience, and costs one
SELECT once the catalogue labels are kept."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.problems import Problem
from services.reporting.compliance import report, service
from services.reporting.scope import Audience, ReportScope
from tests.reporting.conftest import sync_programme
from tests.reporting.feedgen import Programme
from tests.support import auth_header

SEPARATE: dict[report.Level[Any], Any] = {
    report.CLUSTERS: service.cluster_rates,
    report.POINTS: service.compliance_point_rates,
    report.QUESTIONS: service.question_rates,
}
YEAR_2023 = ReportScope(date_from=date(2023, 1, 1), date_to=date(2023, 12, 31))
SCOPES = [
    ReportScope(),
    YEAR_2023,
    ReportScope(cycle=2),
    ReportScope(country="UZ", region="Toshkent"),
    ReportScope(ownership="foreign", date_to=date(2023, 6, 30)),
    ReportScope(size_band="large"),
    ReportScope(date_from=date(1999, 1, 1), date_to=date(1999, 12, 31)),  # nobody assessed
]
STAFF = Audience(minimum_factories=None)


@pytest.fixture
async def session(reporting_app: FastAPI, programme: Programme) -> AsyncIterator[AsyncSession]:
    await sync_programme(reporting_app, programme)
    async for session in reporting_app.state.db.read_session():
        yield session


async def separately(
    session: AsyncSession, scope: ReportScope, audience: Audience, level: report.Level[Any]
) -> tuple[Any, Any]:
    labels = await service.catalog_labels(session, scope.country)
    summary = await service.summary(session, scope, audience)
    return summary, await SEPARATE[level](session, scope, audience, labels)


async def outcome(call: Any) -> Any:
    """The answer, or the refusal (status and detail) when the disclosure rule refuses."""
    try:
        return await call
    except Problem as problem:
        return ("refused", problem.status, problem.detail)


@pytest.mark.parametrize("scope", SCOPES, ids=repr)
async def test_one_statement_equals_the_separate_ones_for_staff(
    session: AsyncSession, scope: ReportScope
) -> None:
    for level in SEPARATE:
        summary, items = await report.rate_report(session, scope, STAFF, level)
        assert (summary, items) == await separately(session, scope, STAFF, level)
        assert all(i.withheld is None for i in items)
        if scope.date_from == date(1999, 1, 1):
            assert summary.factories_assessed == 0 and items == []
        else:
            assert summary.factories_assessed > 0 and items


PUBLIC_SCOPES = [
    YEAR_2023,
    ReportScope(country="UZ", date_from=date(2023, 1, 1), date_to=date(2023, 12, 31)),
    ReportScope(region="Toshkent", date_from=date(2023, 1, 1), date_to=date(2023, 12, 31)),
    ReportScope(size_band="large", date_from=date(2024, 1, 1), date_to=date(2024, 12, 31)),
]


async def test_one_statement_equals_the_separate_ones_under_disclosure_control(
    session: AsyncSession,
) -> None:
    outcomes = []
    for minimum in (3, 10):
        audience = Audience(minimum_factories=minimum, today=date(2026, 1, 1))
        for scope in PUBLIC_SCOPES:
            for level in SEPARATE:
                one = await outcome(report.rate_report(session, scope, audience, level))
                assert one == await outcome(separately(session, scope, audience, level))
                outcomes.append(one)
    # The comparison covered refusals, withheld figures and shown ones.
    refused = [o for o in outcomes if o[0] == "refused"]
    items = [i for o in outcomes if o[0] != "refused" for i in o[1]]
    assert refused and any(i.withheld for i in items) and any(not i.withheld for i in items)


async def test_compliance_point_rates_cost_one_select_once_the_labels_are_kept(
    reporting_app: FastAPI, programme: Programme
) -> None:
    await sync_programme(reporting_app, programme)
    selects: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    engine = reporting_app.state.db.engine.sync_engine
    transport = httpx.ASGITransport(app=reporting_app)
    url = "/v1/reports/non-compliance/compliance-points"
    async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as client:
        first = await client.get(url, params={"year": 2023}, headers=auth_header("staff"))
        event.listen(engine, "before_cursor_execute", count)
        try:
            second = await client.get(url, params={"year": 2023}, headers=auth_header("staff"))
        finally:
            event.remove(engine, "before_cursor_execute", count)
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json() and first.json()["items"]
    assert len(selects) == 1, selects
