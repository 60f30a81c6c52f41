"""Who sees which figures: small cells are withheld from callers without factory-level
entitlement, with the reason; admin and staff see every figure; country-bound tokens see their
country only. The differencing rules themselves are in test_disclosure*.py."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.reporting.conftest import sync_sources
from tests.reporting.feedgen import (
    FakeSource,
    FeedLog,
    assessment_payload,
    catalog_payload,
    factory_payload,
)
from tests.support import auth_header

CP_PATH = "/v1/reports/non-compliance/compliance-points"
PUBLISHED = {"country": "UZ", "year": "2024"}  # the assessments below are from May 2024


@pytest.fixture
async def three_factories(reporting_app: FastAPI) -> FastAPI:
    """Three factories in UZ: below the default public minimum of 5."""
    feed = FeedLog()
    catalog = feed.add("catalog.published", catalog_payload("cat_1"))
    for n in range(3):
        feed.add("factory.created", factory_payload(f"fac_{n}"))
        feed.add(
            "assessment.published",
            assessment_payload(f"asm_{n}", f"fac_{n}", catalog, non_compliant={"WT-1-1"}),
        )
    await sync_sources(reporting_app, {"assessment": FakeSource(feed)})
    return reporting_app


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://reporting")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        auth_header("factory", factory_id="fac_0"),
        auth_header("brand", brand_id="brd_1"),
        auth_header("constituent"),
        auth_header("service"),
    ],
    ids=["anonymous", "factory", "brand", "constituent", "service"],
)
async def test_callers_without_factory_entitlement_get_small_cells_withheld_with_the_reason(
    three_factories: FastAPI, headers: dict[str, str]
) -> None:
    async with client_for(three_factories) as client:
        response = await client.get(CP_PATH, params=PUBLISHED, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["minimum_factories"] == 5
    wt = next(i for i in body["items"] if i["compliance_point_code"] == "WT-1")
    assert wt["non_compliance_rate"] is None and wt["factories_non_compliant"] is None
    assert wt["withheld"]["minimum_factories"] == 5
    assert "Fewer than 5 factories" in wt["withheld"]["reason"]
    assert body["summary"]["average_share_of_compliance_points_non_compliant"] is None
    assert all(i["non_compliance_rate"] is None for i in body["items"])


@pytest.mark.parametrize("role", ["admin", "staff"])
async def test_programme_roles_see_every_figure(three_factories: FastAPI, role: str) -> None:
    async with client_for(three_factories) as client:
        response = await client.get(CP_PATH, headers=auth_header(role))
    body = response.json()
    assert body["minimum_factories"] is None
    wt = next(i for i in body["items"] if i["compliance_point_code"] == "WT-1")
    assert (wt["factories_assessed"], wt["factories_non_compliant"]) == (3, 3)
    assert wt["non_compliance_rate"] == 1.0 and wt["withheld"] is None


@pytest.mark.parametrize("role", ["constituent", "staff"])
async def test_a_token_bound_to_a_country_sees_only_that_country(
    three_factories: FastAPI, role: str
) -> None:
    async with client_for(three_factories) as client:
        other = await client.get(CP_PATH, params=PUBLISHED, headers=auth_header(role, country="KH"))
        own = await client.get(
            CP_PATH, params={"year": "2024"}, headers=auth_header(role, country="UZ")
        )
    assert other.status_code == 403
    assert other.headers["content-type"].startswith("application/problem+json")
    assert own.status_code == 200 and own.json()["scope"]["country"] == "UZ"
    assert own.json()["summary"]["factories_assessed"] == 3


async def test_the_minimum_is_configurable(three_factories: FastAPI) -> None:
    three_factories.state.settings.min_cell_size = 3
    try:
        async with client_for(three_factories) as client:
            body = (await client.get(CP_PATH, params=PUBLISHED)).json()
    finally:
        three_factories.state.settings.min_cell_size = 5
    wt = next(i for i in body["items"] if i["compliance_point_code"] == "WT-1")
    assert wt["non_compliance_rate"] == 1.0 and body["minimum_factories"] == 3


@pytest.mark.parametrize(
    "params",
    [
        {"year": "2024", "date_from": "2024-01-01"},
        {"date_from": "2024-05-01", "date_to": "2024-01-01"},
        {"size_band": "huge"},
        {"country": "uzb"},
    ],
)
async def test_bad_filters_are_problems(three_factories: FastAPI, params: dict[str, str]) -> None:
    async with client_for(three_factories) as client:
        response = await client.get(CP_PATH, params=params, headers=auth_header("staff"))
    assert response.status_code in (400, 422)
    assert response.headers["content-type"].startswith("application/problem+json")
