"""Rates come in the catalogue's order, not in the order of their codes (issue 15): a
catalogue that lists its compliance points and questions against the alphabet puts them so in
every answer, so a report reads like the assessment tool it was made with."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.reporting.builders import ProgrammeBuilder
from tests.reporting.conftest import sync_sources
from tests.reporting.feedgen import CLUSTERS, catalog_payload
from tests.support import auth_header

RATES = "/v1/reports/non-compliance"
STAFF = auth_header("staff")


def against_the_alphabet() -> dict[str, Any]:
    """Each cluster's CPs listed last code first, and each CP's finding questions likewise."""
    catalog = catalog_payload("cat_reversed", points_per_cluster=2, questions_per_point=3)
    for cluster in catalog["clusters"]:
        cluster["compliance_points"].reverse()
        for point in cluster["compliance_points"]:
            findings, information = point["questions"][:-1], point["questions"][-1:]
            point["questions"] = [*reversed(findings), *information]
    return catalog


@pytest.fixture
async def client(reporting_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    builder = ProgrammeBuilder()
    catalog = builder.assessment.add("catalog.published", against_the_alphabet())
    for n in range(3):
        builder.factory(f"f{n}")
        builder.assessed(f"f{n}", catalog, date(2024, 3, 1 + n), findings=n != 1)
    await sync_sources(reporting_app, builder.sources())
    transport = httpx.ASGITransport(app=reporting_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as client:
        yield client


async def items(client: httpx.AsyncClient, level: str) -> list[dict[str, Any]]:
    response = await client.get(f"{RATES}/{level}", headers=STAFF)
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


async def test_compliance_points_come_in_the_catalogues_order(client: httpx.AsyncClient) -> None:
    codes = [i["compliance_point_code"] for i in await items(client, "compliance-points")]
    assert codes == [f"{cluster}-{p}" for cluster, _, _ in CLUSTERS for p in (2, 1)]


async def test_questions_come_in_the_catalogues_order(client: httpx.AsyncClient) -> None:
    answer = await items(client, "questions")
    expected = [f"{c}-{p}-{q}" for c, _, _ in CLUSTERS for p in (2, 1) for q in (2, 1)]
    assert [i["question_code"] for i in answer] == expected
    assert {(i["factories_assessed"], i["factories_non_compliant"]) for i in answer} == {(3, 2)}
