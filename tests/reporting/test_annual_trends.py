"""The annual report's trends come from one pass over the history for both kinds (by cycle and
by year): they must be exactly the trends endpoint's answers for the same history, and the
naive reference's counts, also where a factory's latest assessment of a cycle is not its latest
of the year (two cycles in one year, one cycle over two years)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.reporting.builders import ProgrammeBuilder
from tests.reporting.conftest import sync_programme, sync_sources
from tests.reporting.feedgen import Programme, assessment_payload, catalog_questions
from tests.reporting.reference import counts, reference
from tests.support import auth_header

STAFF = auth_header("staff")
YEAR = 2024


@pytest.fixture
async def client(reporting_app: FastAPI, programme: Programme) -> AsyncIterator[httpx.AsyncClient]:
    await sync_programme(reporting_app, programme)
    transport = httpx.ASGITransport(app=reporting_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as client:
        yield client


async def annual_trends(client: httpx.AsyncClient) -> dict[str, list[dict[str, Any]]]:
    url = f"/v1/reports/annual/{YEAR}"
    response = await client.get(url, params={"country": "UZ"}, headers=STAFF)
    assert response.status_code == 200, response.text
    return response.json()["trends"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("by", ["cycle", "year"])
async def test_the_annual_reports_trends_are_the_trends_endpoints(
    client: httpx.AsyncClient, by: str
) -> None:
    endpoint = await client.get(
        "/v1/reports/non-compliance/trends",
        params={"by": by, "level": "cluster", "country": "UZ", "date_to": f"{YEAR}-12-31"},
        headers=STAFF,
    )
    assert endpoint.status_code == 200, endpoint.text
    items = endpoint.json()["items"]
    assert len({i["period"] for i in items}) > 1
    assert (await annual_trends(client))[f"by_{by}"] == items


@pytest.mark.parametrize("by", ["cycle", "year"])
async def test_the_annual_reports_trends_match_the_naive_reference(
    client: httpx.AsyncClient, programme: Programme, by: str
) -> None:
    expected = reference(programme, period=by, country="UZ", date_to=date(YEAR, 12, 31))
    got: dict[int, dict[str, tuple[int, int]]] = defaultdict(dict)
    factories: dict[int, int] = {}
    for item in (await annual_trends(client))[f"by_{by}"]:
        if item["code"] == "ALL":
            factories[item["period"]] = item["factories_assessed"]
        else:
            pair = (item["factories_assessed"], item["factories_non_compliant"])
            got[item["period"]][item["code"]] = pair
    assert dict(got) == {p: counts(b, "clusters") for p, b in expected.items()}
    assert factories == {p: b["factories"] for p, b in expected.items()}


def cycles_apart_from_years() -> ProgrammeBuilder:
    """f1: cycle 1 (bad) and cycle 2 (good) both in 2023; f2: cycle 1 in 2022 (good) and again
    in 2023 (bad); f3: cycle 1 in 2022 (bad), cycle 2 in 2024 (good)."""
    builder = ProgrammeBuilder()
    catalog = builder.catalog()
    bad = {q["code"] for q in catalog_questions(catalog)}
    for factory in ("f1", "f2", "f3"):
        builder.factory(factory)
    for factory, cycle, day, findings in [
        ("f2", 1, date(2022, 5, 1), set()),
        ("f3", 1, date(2022, 6, 1), bad),
        ("f1", 1, date(2023, 2, 1), bad),
        ("f2", 1, date(2023, 5, 1), bad),
        ("f1", 2, date(2023, 11, 1), set()),
        ("f3", 2, date(2024, 3, 1), set()),
    ]:
        payload = assessment_payload(
            f"asm_{factory}_{day}",
            factory,
            catalog,
            cycle=cycle,
            visit_end=day,
            non_compliant=findings,
        )
        builder.assessment.add("assessment.published", payload)
    return builder


async def test_cycles_and_years_that_pick_different_assessments(
    reporting_app: FastAPI,
) -> None:
    await sync_sources(reporting_app, cycles_apart_from_years().sources())
    transport = httpx.ASGITransport(app=reporting_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as client:
        report = await annual_trends(client)
        for by in ("cycle", "year"):
            endpoint = await client.get(
                "/v1/reports/non-compliance/trends",
                params={"by": by, "level": "cluster", "country": "UZ", "date_to": f"{YEAR}-12-31"},
                headers=STAFF,
            )
            assert report[f"by_{by}"] == endpoint.json()["items"]
    child_labour = {
        by: {
            i["period"]: (i["factories_assessed"], i["factories_non_compliant"])
            for i in report[f"by_{by}"]
            if i["code"] == "CL"
        }
        for by in ("cycle", "year")
    }
    # Cycle 1: f1 bad (Feb 2023), f2 bad (its later cycle-1 visit), f3 bad; cycle 2: f1, f3 good.
    assert child_labour["cycle"] == {1: (3, 3), 2: (2, 0)}
    # 2022: f2 good, f3 bad; 2023: f1 good (Nov), f2 bad; 2024: f3 good.
    assert child_labour["year"] == {2022: (2, 1), 2023: (2, 1), 2024: (1, 0)}
