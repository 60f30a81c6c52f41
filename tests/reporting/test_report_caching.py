"""What reporting keeps between requests follows the read model: catalogue labels are read
again as soon as the sync has applied a newer catalogue, and a database emptied and filled
again up to the very same feed position (id and time) is not taken for the one before."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.reporting.models import metadata as reporting_metadata
from tests.reporting.builders import ProgrammeBuilder
from tests.reporting.conftest import sync_sources
from tests.support import auth_header, empty_tables

POINTS = "/v1/reports/non-compliance/compliance-points"
QUESTIONS = "/v1/reports/non-compliance/questions"
STAFF = auth_header("staff")
YEAR = {"country": "UZ", "year": "2024"}
DAY = date(2024, 5, 2)


def renamed(catalog: dict[str, Any], ident: str, suffix: str, published_at: str) -> dict[str, Any]:
    """The same codes under new names: a newer version of the catalogue."""
    clusters = [
        {
            **c,
            "name": c["name"] + suffix,
            "compliance_points": [
                {
                    **p,
                    "name": p["name"] + suffix,
                    "questions": [
                        {**q, "text": (q["text"] or "") + suffix} for q in p["questions"]
                    ],
                }
                for p in c["compliance_points"]
            ],
        }
        for c in catalog["clusters"]
    ]
    return {**catalog, "id": ident, "published_at": published_at, "clusters": clusters}


def assessed_programme(builder: ProgrammeBuilder, catalog_suffix: str = "") -> dict[str, Any]:
    """One catalogue (names ending in ``catalog_suffix``) and two factories assessed in 2024."""
    catalog = builder.catalog()
    if catalog_suffix:
        catalog = renamed(catalog, "cat_1", catalog_suffix, catalog["published_at"])
        builder.assessment.events[-1]["payload"] = catalog
    builder.factory("f1")
    builder.factory("f2")
    builder.assessed("f1", catalog, DAY)
    builder.assessed("f2", catalog, DAY, findings=False)
    return catalog


async def names(client: httpx.AsyncClient) -> tuple[set[str], set[str]]:
    points = await client.get(POINTS, params=YEAR, headers=STAFF)
    questions = await client.get(QUESTIONS, params=YEAR, headers=STAFF)
    assert points.status_code == questions.status_code == 200, points.text + questions.text
    return (
        {i["compliance_point_name"] for i in points.json()["items"]},
        {i["question_text"] for i in questions.json()["items"]},
    )


@pytest.fixture
async def client(reporting_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=reporting_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as client:
        yield client


async def test_labels_follow_a_newer_catalogue_the_sync_applies(
    reporting_app: FastAPI, client: httpx.AsyncClient
) -> None:
    builder = ProgrammeBuilder()
    catalog = assessed_programme(builder)
    await sync_sources(reporting_app, builder.sources())
    points, questions = await names(client)
    assert points and not any(n.endswith(" v2") for n in points)

    newer = renamed(catalog, "cat_2", " v2", "2024-06-01T00:00:00+00:00")
    builder.assessment.add("catalog.published", newer)
    await sync_sources(reporting_app, builder.sources())
    points, questions = await names(client)
    assert points and all(n.endswith(" v2") for n in points)
    assert questions and all(t.endswith(" v2") for t in questions)


async def test_a_database_refilled_to_the_same_feed_position_is_read_again(
    reporting_app: FastAPI, client: httpx.AsyncClient
) -> None:
    first = ProgrammeBuilder()
    assessed_programme(first)
    await sync_sources(reporting_app, first.sources())
    before, _ = await names(client)

    # The same number of events at the same times (the feeds' clocks start alike), other names.
    await empty_tables(reporting_app.state.db, reporting_metadata)
    second = ProgrammeBuilder()
    assessed_programme(second, catalog_suffix=" (2nd)")
    assert [e["id"] for e in second.assessment.events] == [e["id"] for e in first.assessment.events]
    assert second.assessment.clock == first.assessment.clock
    await sync_sources(reporting_app, second.sources())
    after, _ = await names(client)
    assert before and not any(n.endswith(" (2nd)") for n in before)
    assert after and all(n.endswith(" (2nd)") for n in after)
