"""The reporting methodology's filters and fallbacks one by one (issue 15), on a hand-made
programme where each figure can be counted by eye: the country filter, both date bounds (each
inclusive, and the latest assessment inside the window standing for its factory), cycles, a
factory characteristic, a compliance point no catalogue names filed under its own cluster, the
catalogue's order and newest names, and the per-period average withheld from a public caller
when the period's figures are."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.reporting.builders import ProgrammeBuilder
from tests.reporting.conftest import sync_sources
from tests.reporting.feedgen import CLUSTERS, assessment_payload, catalog_questions
from tests.support import auth_header

RATES = "/v1/reports/non-compliance"
STAFF = auth_header("staff")
PUBLIC = auth_header("constituent")


def assessed(
    builder: ProgrammeBuilder,
    factory: str,
    catalog: dict[str, Any],
    day: date,
    *,
    bad: bool,
    cycle: int = 1,
    country: str = "UZ",
    extra_findings: list[dict[str, Any]] | None = None,
) -> None:
    """A published assessment, non-compliant on every finding question if ``bad``."""
    codes = {q["code"] for q in catalog_questions(catalog)} if bad else set()
    payload = assessment_payload(
        f"asm_{factory}_{day.isoformat()}",
        factory,
        catalog,
        cycle=cycle,
        visit_end=day,
        non_compliant=codes,
        country=country,
    )
    payload["findings"] += extra_findings or []
    builder.assessment.add("assessment.published", payload)


def programme() -> ProgrammeBuilder:
    """Five factories in UZ and one in KH. 2023: u1 bad, u2 good. 2024: u1 good (Mar 1, its
    second cycle), u2 bad (Apr 1, second cycle), k1 bad (Apr 1), u3 good (May 1, in Samarqand,
    with a finding on CL-9, a CP no catalogue names), u4 good (Jun 1), u5 bad (Jul 1)."""
    builder = ProgrammeBuilder()
    catalog = builder.catalog()
    for ident in ("u1", "u2", "u4", "u5"):
        builder.factory(ident)
    builder.factory("u3", region="Samarqand")
    builder.factory("k1", country="KH", region="Phnom Penh")
    assessed(builder, "u1", catalog, date(2023, 5, 1), bad=True)
    assessed(builder, "u2", catalog, date(2023, 6, 1), bad=False)
    assessed(builder, "u1", catalog, date(2024, 3, 1), bad=False, cycle=2)
    assessed(builder, "u2", catalog, date(2024, 4, 1), bad=True, cycle=2)
    assessed(builder, "k1", catalog, date(2024, 4, 1), bad=True, country="KH")
    unknown_point = {
        "question_code": "CL-9-1",
        "compliance_point_code": "CL-9",
        "cluster_code": "CL",
        "non_compliant": False,
        "value": None,
    }
    assessed(builder, "u3", catalog, date(2024, 5, 1), bad=False, extra_findings=[unknown_point])
    assessed(builder, "u4", catalog, date(2024, 6, 1), bad=False)
    assessed(builder, "u5", catalog, date(2024, 7, 1), bad=True)
    return builder


@pytest.fixture
async def client(reporting_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    await sync_sources(reporting_app, programme().sources())
    transport = httpx.ASGITransport(app=reporting_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as client:
        yield client


async def clusters(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get(f"{RATES}/clusters", params=params, headers=STAFF)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def child_labour(client: httpx.AsyncClient, **params: Any) -> tuple[int, int, int]:
    """(factories in the summary, factories assessed on CL, non-compliant on CL)."""
    body = await clusters(client, **params)
    [cl] = [i for i in body["items"] if i["cluster_code"] == "CL"]
    return (
        body["summary"]["factories_assessed"],
        cl["factories_assessed"],
        cl["factories_non_compliant"],
    )


async def test_each_factory_counts_once_by_its_latest_assessment(
    client: httpx.AsyncClient,
) -> None:
    assert await child_labour(client) == (6, 6, 3)


@pytest.mark.parametrize(("country", "figures"), [("UZ", (5, 5, 2)), ("KH", (1, 1, 1))])
async def test_a_country_scope_counts_that_country_only(
    client: httpx.AsyncClient, country: str, figures: tuple[int, int, int]
) -> None:
    assert await child_labour(client, country=country) == figures


async def test_the_lower_date_bound_is_inclusive(client: httpx.AsyncClient) -> None:
    # u2 and k1 were assessed on the bound itself; u1's Mar 1 assessment falls outside.
    assert await child_labour(client, date_from="2024-04-01") == (5, 5, 3)
    assert await child_labour(client, date_from="2024-04-02") == (3, 3, 1)


async def test_the_upper_date_bound_is_inclusive_and_the_latest_inside_it_counts(
    client: httpx.AsyncClient,
) -> None:
    # u1: its good Mar 1 assessment on the bound, not its bad 2023 one; u2: its good 2023 one.
    assert await child_labour(client, date_to="2024-03-01") == (2, 2, 0)
    assert await child_labour(client, date_to="2024-02-29") == (2, 2, 1)


async def test_a_cycle_counts_each_factorys_assessment_of_that_cycle(
    client: httpx.AsyncClient,
) -> None:
    assert await child_labour(client, cycle=1) == (6, 6, 3)
    assert await child_labour(client, cycle=2) == (2, 2, 1)


async def test_a_region_counts_its_factories_only(client: httpx.AsyncClient) -> None:
    assert await child_labour(client, region="Samarqand") == (1, 1, 0)


async def test_the_rate_is_non_compliant_factories_over_factories_assessed(
    client: httpx.AsyncClient,
) -> None:
    body = await clusters(client, country="UZ")
    for item in body["items"]:
        assert (item["factories_assessed"], item["factories_non_compliant"]) == (5, 2)
        assert item["non_compliance_rate"] == 0.4 and item["withheld"] is None
    assert body["summary"]["average_share_of_compliance_points_non_compliant"] == 0.4


async def test_clusters_come_in_catalogue_order_with_their_names_and_categories(
    client: httpx.AsyncClient,
) -> None:
    items = (await clusters(client))["items"]
    assert [(i["cluster_code"], i["cluster_name"], i["category"]) for i in items] == CLUSTERS


async def test_a_compliance_point_no_catalogue_names_is_filed_under_its_own_cluster(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(f"{RATES}/compliance-points", headers=STAFF)
    assert response.status_code == 200, response.text
    points = {i["compliance_point_code"]: i for i in response.json()["items"]}
    unknown = points["CL-9"]
    assert (unknown["cluster_code"], unknown["cluster_name"]) == ("CL", "Child Labour")
    assert unknown["compliance_point_name"] == "CL-9"
    assert (unknown["factories_assessed"], unknown["factories_non_compliant"]) == (1, 0)
    assert points["CL-1"]["cluster_code"] == "CL"
    codes = list(points)
    assert codes.index("CL-1") < codes.index("CL-9") < codes.index("DI-1")


async def test_public_trends_withhold_the_average_of_a_year_whose_figures_are_withheld(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(
        f"{RATES}/trends",
        params={"by": "year", "level": "cluster", "country": "UZ"},
        headers=PUBLIC,
    )
    assert response.status_code == 200, response.text
    totals = {i["period"]: i for i in response.json()["items"] if i["code"] == "ALL"}
    assert totals[2023]["factories_assessed"] == 2
    assert totals[2023]["withheld"] is not None
    assert totals[2023]["average_share_of_compliance_points_non_compliant"] is None
    assert totals[2024]["factories_assessed"] == 5
    assert totals[2024]["withheld"] is None
    assert totals[2024]["average_share_of_compliance_points_non_compliant"] == 0.4


async def test_staff_trends_show_every_years_average(client: httpx.AsyncClient) -> None:
    response = await client.get(
        f"{RATES}/trends", params={"by": "year", "level": "cluster"}, headers=STAFF
    )
    assert response.status_code == 200, response.text
    totals = {i["period"]: i for i in response.json()["items"] if i["code"] == "ALL"}
    assert totals[2023]["average_share_of_compliance_points_non_compliant"] == 0.5
    assert totals[2023]["withheld"] is None


async def test_questions_carry_their_text_point_and_cluster_in_catalogue_order(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(f"{RATES}/questions", params={"country": "UZ"}, headers=STAFF)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    # CL-9-1, named by no catalogue, has no known place: it comes last.
    codes = [f"{code}-1-1" for code, _, _ in CLUSTERS] + ["CL-9-1"]
    assert [i["question_code"] for i in items] == codes
    first = items[0]
    assert first["question_text"] == "Ish haqi: savol 1?"
    assert (first["compliance_point_code"], first["cluster_code"]) == ("CL-1", "CL")
    assert first["compliance_point_name"] == "Child Labour / Ish haqi"
    assert (first["factories_assessed"], first["factories_non_compliant"]) == (5, 2)


async def test_a_public_caller_sees_a_published_years_figures_and_not_the_others(
    client: httpx.AsyncClient,
) -> None:
    async def public(path: str, year: int) -> dict[str, Any]:
        response = await client.get(
            f"{RATES}/{path}", params={"country": "UZ", "year": year}, headers=PUBLIC
        )
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    published = await public("clusters", 2024)
    assert published["summary"]["withheld"] is None
    assert published["summary"]["average_share_of_compliance_points_non_compliant"] == 0.4
    assert all(i["withheld"] is None for i in published["items"])
    assert published["items"][0]["non_compliance_rate"] == 0.4
    questions = {i["question_code"]: i for i in (await public("questions", 2024))["items"]}
    assert questions.pop("CL-9-1")["withheld"] is not None  # one factory behind it
    assert all(i["withheld"] is None for i in questions.values())
    points = {
        i["compliance_point_code"]: i for i in (await public("compliance-points", 2024))["items"]
    }
    assert points.pop("CL-9")["withheld"] is not None  # one factory behind it
    assert points and all(i["withheld"] is None for i in points.values())
    assert points["CL-1"]["non_compliance_rate"] == 0.4
    withheld = await public("clusters", 2023)
    assert withheld["summary"]["withheld"] is not None
    assert withheld["summary"]["average_share_of_compliance_points_non_compliant"] is None


async def test_trends_name_each_code_and_put_all_factories_last_in_each_period(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(
        f"{RATES}/trends", params={"by": "year", "level": "cluster"}, headers=STAFF
    )
    items = response.json()["items"]
    for year in (2023, 2024):
        codes = [i["code"] for i in items if i["period"] == year]
        assert codes == [code for code, _, _ in CLUSTERS] + ["ALL"]
    assert {i["name"] for i in items if i["code"] == "CL"} == {"Child Labour"}
    public = await client.get(
        f"{RATES}/trends",
        params={"by": "year", "level": "cluster", "country": "UZ"},
        headers=PUBLIC,
    )
    shown = [i for i in public.json()["items"] if i["period"] == 2024 and i["code"] == "CL"]
    assert shown[0]["withheld"] is None and shown[0]["non_compliance_rate"] == 0.4
