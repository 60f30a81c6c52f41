"""The floor app measures what a list must do: it has to answer the list's first page, and
no more openly than the list does."""

from __future__ import annotations

import httpx
import pytest

from bench.floor_app import DRIVER_FLOOR_PATH, FLOOR_PATH, create_app
from services.assessment.settings import AssessmentSettings
from services.common.db import Database
from tests.assessment.builders import ADMIN, new_factory
from tests.support import TEST_AUTH, auth_header


@pytest.fixture
async def floor_client(
    assessment_client: httpx.AsyncClient, assessment_database: Database
) -> httpx.AsyncClient:
    app = create_app(AssessmentSettings(), assessment_database, TEST_AUTH)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://floor") as client:
        yield client


async def test_floor_answers_the_same_rows_as_the_lists_first_page(
    assessment_client: httpx.AsyncClient, floor_client: httpx.AsyncClient
) -> None:
    for number in range(22):
        await new_factory(assessment_client, name=f"Factory {number:02d}")
    listed = await assessment_client.get("/v1/factories?limit=20", headers=ADMIN)
    floor = await floor_client.get(FLOOR_PATH, headers=ADMIN)
    assert floor.status_code == 200
    assert [f["id"] for f in floor.json()["items"]] == [f["id"] for f in listed.json()["items"]]
    assert len(floor.json()["items"]) == 20


async def test_floor_shows_a_caller_only_what_the_list_shows_it(
    assessment_client: httpx.AsyncClient, floor_client: httpx.AsyncClient
) -> None:
    own = await new_factory(assessment_client, name="Own")
    await new_factory(assessment_client, name="Another")
    brand = auth_header("brand", brand_id="brd_nobody")
    for headers, expected in (
        (auth_header("factory", factory_id=own["id"]), [own["id"]]),
        (brand, []),
    ):
        listed = await assessment_client.get("/v1/factories", headers=headers)
        floor = await floor_client.get(FLOOR_PATH, headers=headers)
        assert [f["id"] for f in floor.json()["items"]] == expected
        assert [f["id"] for f in listed.json()["items"]] == expected


async def test_floor_refuses_a_request_without_a_token(floor_client: httpx.AsyncClient) -> None:
    response = await floor_client.get(FLOOR_PATH)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


async def test_driver_floor_answers_the_lists_first_page_to_an_administrator_only(
    assessment_client: httpx.AsyncClient, floor_client: httpx.AsyncClient
) -> None:
    for number in range(22):
        await new_factory(assessment_client, name=f"Factory {number:02d}", export_markets=["EU"])
    listed = (await assessment_client.get("/v1/factories?limit=20", headers=ADMIN)).json()
    floor = await floor_client.get(DRIVER_FLOOR_PATH, headers=ADMIN)
    assert floor.status_code == 200
    items = floor.json()["items"]
    assert [f["id"] for f in items] == [f["id"] for f in listed["items"]]
    assert items[0]["export_markets"] == ["EU"]
    staff = await floor_client.get(DRIVER_FLOOR_PATH, headers=auth_header("staff"))
    assert staff.status_code == 403
