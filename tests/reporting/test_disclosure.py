"""The disclosure rule at each door: what callers without factory-level entitlement may ask for,
the refusals (400 problem+json saying what is allowed), and that staff keep free windows.
The proof that the allowed queries never isolate a factory is test_disclosure_proof.py."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.reporting.conftest import sync_programme, sync_sources
from tests.reporting.feedgen import (
    FakeSource,
    FeedLog,
    Programme,
    assessment_payload,
    catalog_payload,
    factory_payload,
    generate_programme,
)
from tests.support import auth_header

RATES = "/v1/reports/non-compliance"
STAFF = auth_header("staff")
OPEN_YEAR = date.today().year


@pytest.fixture(scope="module")
def fourteen_factories() -> Programme:
    """14 factories in UZ over four regions, 2022-2024; this module's own, since other tests
    add events to the session's programme."""
    return generate_programme(seed=20240, factories=14, cycles=3)


@pytest.fixture
async def client(
    reporting_app: FastAPI, fourteen_factories: Programme
) -> AsyncIterator[httpx.AsyncClient]:
    await sync_programme(reporting_app, fourteen_factories)
    transport = httpx.ASGITransport(app=reporting_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as client:
        yield client


def assert_refused(response: httpx.Response, *words: str) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["allowed"], "a refusal says what is allowed"
    for word in words:
        assert word in body["detail"], body["detail"]
    return body


async def test_the_reported_differencing_windows_are_refused_to_the_public_not_to_staff(
    client: httpx.AsyncClient,
) -> None:
    """Issue 10.3: these two answers differed by the one factory assessed in between."""
    windows = [
        {"country": "UZ", "date_from": "2024-01-01", "date_to": "2024-08-28"},
        {"country": "UZ", "date_from": "2024-01-01", "date_to": "2024-07-28"},
    ]
    for params in windows:
        for who in ({}, auth_header("constituent"), auth_header("brand", brand_id="brd_1")):
            refused = await client.get(f"{RATES}/compliance-points", params=params, headers=who)
            assert_refused(refused, "free date windows are for programme staff")
        staff = await client.get(f"{RATES}/compliance-points", params=params, headers=STAFF)
        assert staff.status_code == 200 and staff.json()["minimum_factories"] is None


@pytest.mark.parametrize(
    ("path", "params", "says"),
    [
        ("compliance-points", {"year": "2024"}, "country"),
        ("compliance-points", {"country": "UZ"}, "year=YYYY"),
        ("questions", {"country": "UZ", "year": str(OPEN_YEAR)}, "has not ended"),
        ("clusters", {"country": "UZ", "year": "2024", "cycle": "2"}, "cycles"),
        (
            "clusters",
            {"country": "UZ", "year": "2024", "region": "Toshkent", "ownership": "foreign"},
            "one breakdown at a time",
        ),
        ("trends", {"country": "UZ", "date_to": "2024-06-30"}, "free date windows"),
        ("trends", {"country": "UZ", "by": "cycle"}, "by=year"),
    ],
)
async def test_queries_outside_the_published_ones_are_refused_saying_what_is_allowed(
    client: httpx.AsyncClient, path: str, params: dict[str, str], says: str
) -> None:
    assert_refused(await client.get(f"{RATES}/{path}", params=params), says)
    assert (await client.get(f"{RATES}/{path}", params=params, headers=STAFF)).status_code == 200


async def test_an_unpublished_breakdown_is_refused_naming_the_published_ones(
    client: httpx.AsyncClient,
) -> None:
    """14 factories over four regions: no region holds 5 with a complement of 5 in every atom."""
    params = {"country": "UZ", "year": "2023", "region": "Toshkent"}
    body = assert_refused(await client.get(f"{RATES}/compliance-points", params=params))
    assert "region=Toshkent is not a published breakdown" in body["detail"]
    assert body["allowed"]["published_region"] == []
    staff = await client.get(f"{RATES}/compliance-points", params=params, headers=STAFF)
    assert staff.status_code == 200 and staff.json()["summary"]["factories_assessed"] > 0


async def test_activity_refuses_the_breakdowns_it_used_to_ignore_for_everyone(
    client: httpx.AsyncClient,
) -> None:
    for who in ({}, STAFF):
        for breakdown in ({"region": "Toshkent"}, {"ownership": "foreign"}, {"cycle": "1"}):
            params = {"country": "UZ", "year": "2023", **breakdown}
            body = assert_refused(
                await client.get("/v1/reports/activity", params=params, headers=who)
            )
            assert next(iter(breakdown)) in body["detail"]
    window = {"country": "UZ", "date_from": "2023-02-01", "date_to": "2023-03-31"}
    assert_refused(await client.get("/v1/reports/activity", params=window), "year=YYYY")
    staff = await client.get("/v1/reports/activity", params=window, headers=STAFF)
    public = await client.get("/v1/reports/activity", params={"country": "UZ", "year": "2023"})
    assert staff.status_code == 200 and staff.json()["training"]["sessions"] > 0
    assert public.status_code == 200 and public.json()["training"]["sessions"] == 6


async def test_improvement_plan_progress_of_too_few_factories_is_withheld(
    client: httpx.AsyncClient,
) -> None:
    """The generated programme has one factory with a plan: its progress is its own result."""
    params = {"country": "UZ", "year": "2023"}
    public = (await client.get("/v1/reports/activity", params=params)).json()["improvement_plans"]
    staff = (await client.get("/v1/reports/activity", params=params, headers=STAFF)).json()
    assert public["factories"] == 1 and public["withheld"]["minimum_factories"] == 5
    assert [public[k] for k in ("items", "completed", "overdue", "completion_rate")] == [None] * 4
    assert (
        staff["improvement_plans"]["items"] == 5 and staff["improvement_plans"]["withheld"] is None
    )
    html_params = {"country": "UZ", "format": "html"}  # the year is in the path
    html = (await client.get("/v1/reports/annual/2023", params=html_params)).text
    assert 'Improvement plans: <span class="withheld">Fewer than 5 factories' in html
    assert "None" not in html
    assert "Trends by assessment cycle are not in the public edition" in html


async def test_the_annual_report_of_a_year_not_ended_is_for_staff_only(
    client: httpx.AsyncClient,
) -> None:
    url = f"/v1/reports/annual/{OPEN_YEAR}"
    assert_refused(await client.get(url, params={"country": "UZ"}), "has not ended")
    assert (await client.get(url, params={"country": "UZ"}, headers=STAFF)).status_code == 200


async def test_trends_show_the_public_ended_years_only(client: httpx.AsyncClient) -> None:
    body = (await client.get(f"{RATES}/trends", params={"country": "UZ", "by": "year"})).json()
    assert body["periods"] == [2022, 2023, 2024]
    assert body["minimum_factories"] == 5


async def test_trends_leave_out_the_years_a_breakdown_is_not_published(
    client: httpx.AsyncClient,
) -> None:
    """Not even how many Toshkent factories were assessed: no region is published here."""
    params = {"country": "UZ", "by": "year", "region": "Toshkent"}
    public = (await client.get(f"{RATES}/trends", params=params)).json()
    staff = (await client.get(f"{RATES}/trends", params=params, headers=STAFF)).json()
    assert public["periods"] == [] and public["items"] == []
    assert staff["periods"] == [2022, 2023, 2024]


@pytest.fixture
async def one_factory_country(reporting_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Kazakhstan has one factory, assessed in 2024; Uzbekistan six."""
    feed = FeedLog()
    catalog = feed.add("catalog.published", catalog_payload("cat_1"))
    for n, country in enumerate(["KZ"] + ["UZ"] * 6):
        feed.add("factory.created", factory_payload(f"fac_{n}", country=country, region=f"R{n}"))
        feed.add(
            "assessment.published",
            assessment_payload(
                f"asm_{n}", f"fac_{n}", catalog, country=country, non_compliant={"WT-1-1"}
            ),
        )
    await sync_sources(reporting_app, {"assessment": FakeSource(feed)})
    transport = httpx.ASGITransport(app=reporting_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as client:
        yield client


async def test_a_constituent_gets_nothing_of_a_one_factory_country_in_any_format(
    one_factory_country: httpx.AsyncClient,
) -> None:
    client = one_factory_country
    constituent = auth_header("constituent", country="KZ")
    url = "/v1/reports/annual/2024"
    report = (await client.get(url, params={"country": "KZ"}, headers=constituent)).json()
    rates = [block["cluster"] for block in report["non_compliance"]] + [
        point for block in report["non_compliance"] for point in block["compliance_points"]
    ]
    assert rates and all(r["non_compliance_rate"] is None and r["withheld"] for r in rates)
    assert report["summary"]["average_share_of_compliance_points_non_compliant"] is None
    assert report["highest_non_compliance"] == []
    assert [c["key"] for c in report["factory_profile"]["by_region"]] == ["other"]
    csv_text = (
        await client.get(url, params={"country": "KZ", "format": "csv"}, headers=constituent)
    ).text
    rate_rows = [
        row
        for row in csv.reader(io.StringIO(csv_text))
        if row and row[0] in ("cluster", "compliance_point", "trend_year")
    ]
    assert rate_rows and all(row[6] == "" and row[7] for row in rate_rows)  # rate, reason
    questions = await client.get(
        f"{RATES}/questions", params={"year": "2024", "region": "R0"}, headers=constituent
    )
    assert_refused(questions, "region=R0 is not a published breakdown")
    # Staff still see the one factory's figures: they are entitled to them.
    staff = (await client.get(url, params={"country": "KZ"}, headers=STAFF)).json()
    assert staff["summary"]["average_share_of_compliance_points_non_compliant"] is not None


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("non-compliance/questions", {"country": "UZ", "year": "2023"}),
        ("non-compliance/clusters", {"country": "UZ", "year": "2024", "size_band": "large"}),
        ("non-compliance/trends", {"country": "UZ", "by": "year", "level": "compliance_point"}),
        ("annual/2022", {"country": "UZ"}),
        ("non-compliance/compliance-points", {"country": "UZ", "date_to": "2024-06-30"}),
    ],
)
async def test_every_audience_without_entitlement_gets_the_same_answer_as_the_public(
    client: httpx.AsyncClient, path: str, params: dict[str, str]
) -> None:
    """One rule: a constituent, a factory beyond itself, a brand beyond its consents and a
    service token learn nothing an anonymous caller does not."""

    def comparable(response: httpx.Response) -> Any:
        body = response.json()
        for volatile in ("request_id", "generated_at", "data_as_of"):
            body.pop(volatile, None)
        return response.status_code, body

    public = comparable(await client.get(f"/v1/reports/{path}", params=params))
    for who in (
        auth_header("constituent", country="UZ"),
        auth_header("factory", factory_id="fac_00001"),
        auth_header("brand", brand_id="brd_1"),
        auth_header("service"),
    ):
        assert (
            comparable(await client.get(f"/v1/reports/{path}", params=params, headers=who))
            == public
        )
    assert public[0] in (200, 400)
