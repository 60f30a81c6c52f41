"""Country scope in the training service: every row records its factory's country (asked of the
assessment service when it is created), and a country-limited token lists, reads and writes only
its own country's rows; another country's answer 404, before If-Match is looked at."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from services.training.assessment_client import StaticReferences
from services.training.backfill import backfill_in_background, fill_missing_countries
from services.training.models import (
    AdvisoryVisit,
    Committee,
    ImprovementItem,
    ImprovementPlan,
    TrainingSession,
)
from tests.training.builders import (
    STAFF,
    STAFF_KH,
    STAFF_UZ,
    FakeAssessment,
    assert_problem,
    create_course,
    create_session,
    finding,
    plan_item,
)

COLLECTIONS = (
    "/v1/training-sessions",
    "/v1/advisory-visits",
    "/v1/committees",
    "/v1/improvement-plans",
    "/v1/improvement-plans/items",
)


async def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return dict(response.json())


async def activity_of(client: httpx.AsyncClient, factory_id: str, course_id: str) -> dict[str, Any]:
    """One of each factory-owned object of ``factory_id``, created by programme-wide staff."""
    session = await created(
        await create_session(
            client, course_id, factory_ids=[factory_id], delivery="in_factory", venue=None
        )
    )
    visit = await created(
        await client.post(
            "/v1/advisory-visits",
            json={"factory_id": factory_id, "visit_date": "2024-06-01", "advisors": ["A"]},
            headers=STAFF,
        )
    )
    committee = await created(
        await client.post("/v1/committees", json={"factory_id": factory_id}, headers=STAFF)
    )
    item = plan_item(action="Fix", owner="HR", due_date="2024-12-01")
    plan = await created(
        await client.post(
            "/v1/improvement-plans",
            json={"factory_id": factory_id, "assessment_id": f"asm_{factory_id}", "items": [item]},
            headers=STAFF,
        )
    )
    return {"session": session, "visit": visit, "committee": committee, "plan": plan}


@pytest.fixture
async def two_countries(
    client: httpx.AsyncClient, fake_assessment: FakeAssessment
) -> dict[str, dict[str, Any]]:
    for factory_id in ("fac_A", "fac_K"):
        fake_assessment.add_assessment(
            f"asm_{factory_id}", factory_id, [finding("OSH.1.1", "OSH.1")]
        )
    course = await create_course(client)
    return {
        "UZ": await activity_of(client, "fac_A", course["id"]),
        "KH": await activity_of(client, "fac_K", course["id"]),
    }


async def listed_ids(client: httpx.AsyncClient, headers: dict[str, str]) -> set[str]:
    ids: set[str] = set()
    for path in COLLECTIONS:
        response = await client.get(path, headers=headers)
        assert response.status_code == 200, response.text
        ids |= {row["id"] for row in response.json()["items"]}
    return ids


def ids_of(activity: dict[str, Any]) -> set[str]:
    return {row["id"] for row in activity.values()} | {i["id"] for i in activity["plan"]["items"]}


async def test_rows_record_their_factorys_country(
    two_countries: dict[str, dict[str, Any]],
) -> None:
    for country, activity in two_countries.items():
        assert {row["country"] for row in activity.values()} == {country}
        assert {i["country"] for i in activity["plan"]["items"]} == {country}


async def test_scoped_staff_list_only_their_countrys_rows(
    client: httpx.AsyncClient, two_countries: dict[str, dict[str, Any]]
) -> None:
    uz, kh = ids_of(two_countries["UZ"]), ids_of(two_countries["KH"])
    assert await listed_ids(client, STAFF_KH) == kh
    assert await listed_ids(client, STAFF_UZ) == uz
    assert await listed_ids(client, STAFF) == uz | kh
    by_factory = await client.get("/v1/advisory-visits?factory_id=fac_A", headers=STAFF_KH)
    assert by_factory.json()["items"] == []


async def test_another_countrys_rows_are_404_for_reads_and_writes_whatever_the_etag(
    client: httpx.AsyncClient, two_countries: dict[str, dict[str, Any]]
) -> None:
    uz = two_countries["UZ"]
    plan, item = uz["plan"], uz["plan"]["items"][0]
    committee = uz["committee"]
    reads = [
        f"/v1/training-sessions/{uz['session']['id']}",
        f"/v1/training-sessions/{uz['session']['id']}/attendance",
        f"/v1/training-sessions/{uz['session']['id']}/participant-counts",
        f"/v1/advisory-visits/{uz['visit']['id']}",
        f"/v1/committees/{committee['id']}",
        f"/v1/committees/{committee['id']}/meetings",
        f"/v1/improvement-plans/{plan['id']}",
        f"/v1/improvement-plans/{plan['id']}/items",
    ]
    for path in reads:
        assert_problem(await client.get(path, headers=STAFF_KH), 404)
    writes = [
        ("PATCH", f"/v1/training-sessions/{uz['session']['id']}", {"venue": "x"}),
        ("PUT", f"/v1/training-sessions/{uz['session']['id']}/attendance", {"participants": []}),
        ("PATCH", f"/v1/advisory-visits/{uz['visit']['id']}", {"notes": "x"}),
        ("PATCH", f"/v1/committees/{committee['id']}", {"name": "x"}),
        ("POST", f"/v1/committees/{committee['id']}/meetings", {"meeting_date": "2024-05-05"}),
        ("PATCH", f"/v1/improvement-plans/{plan['id']}/items/{item['id']}", {"owner": "x"}),
    ]
    for method, path, body in writes:
        for if_match in ("*", '"stale.v1"', None):
            headers = {**STAFF_KH, **({"if-match": if_match} if if_match else {})}
            response = await client.request(method, path, json=body, headers=headers)
            assert_problem(response, 404)
            assert "etag" not in response.headers, (method, path)
    unchanged = await client.get(f"/v1/advisory-visits/{uz['visit']['id']}", headers=STAFF_UZ)
    assert unchanged.json()["notes"] is None and unchanged.json()["version"] == 1


async def test_scoped_staff_write_their_own_countrys_rows(
    client: httpx.AsyncClient, two_countries: dict[str, dict[str, Any]]
) -> None:
    visit = two_countries["UZ"]["visit"]
    changed = await client.patch(
        f"/v1/advisory-visits/{visit['id']}",
        json={"notes": "Kuzatuv"},
        headers={**STAFF_UZ, "if-match": f'"{visit["id"]}.v1"'},
    )
    assert changed.status_code == 200 and changed.json()["notes"] == "Kuzatuv"
    mine = await client.post(
        "/v1/advisory-visits",
        json={"factory_id": "fac_K", "visit_date": "2024-07-01", "advisors": ["B"]},
        headers=STAFF_KH,
    )
    assert mine.status_code == 201 and mine.json()["country"] == "KH"


async def test_another_countrys_factory_is_an_unknown_reference(
    client: httpx.AsyncClient,
) -> None:
    visit = {"factory_id": "fac_A", "visit_date": "2024-06-01", "advisors": ["A"]}
    refused = await client.post("/v1/advisory-visits", json=visit, headers=STAFF_KH)
    assert assert_problem(refused, 422)["errors"][0]["value"] == "fac_A"
    committee = await client.post("/v1/committees", json={"factory_id": "fac_A"}, headers=STAFF_KH)
    assert_problem(committee, 422)
    assert (await client.get("/v1/advisory-visits", headers=STAFF)).json()["items"] == []


async def test_a_session_belongs_to_one_country_and_moves_with_its_factories(
    client: httpx.AsyncClient,
) -> None:
    course = await create_course(client)
    mixed = await create_session(client, course["id"], factory_ids=["fac_A", "fac_K"])
    assert_problem(mixed, 422)
    session = await created(await create_session(client, course["id"]))
    assert session["country"] == "UZ"
    moved = await client.patch(
        f"/v1/training-sessions/{session['id']}",
        json={"factory_ids": ["fac_K"], "delivery": "in_factory"},
        headers={**STAFF, "if-match": f'"{session["id"]}.v1"'},
    )
    assert moved.status_code == 200 and moved.json()["country"] == "KH", moved.text
    assert_problem(
        await client.get(f"/v1/training-sessions/{session['id']}", headers=STAFF_UZ), 404
    )


async def forget_countries(training_app: FastAPI) -> None:
    """Rows as they were before the migration that added ``country``, without a backfill."""
    tables = (TrainingSession, AdvisoryVisit, Committee, ImprovementPlan, ImprovementItem)
    async with training_app.state.db.sessionmaker() as session:
        for table in tables:
            await session.execute(update(table).values(country=None))
        await session.commit()


async def test_rows_from_before_countries_are_hidden_from_scoped_staff_until_backfilled(
    client: httpx.AsyncClient,
    training_app: FastAPI,
    two_countries: dict[str, dict[str, Any]],
) -> None:
    database = training_app.state.db
    await forget_countries(training_app)
    uz, kh = ids_of(two_countries["UZ"]), ids_of(two_countries["KH"])
    assert await listed_ids(client, STAFF_UZ) == set()
    assert await listed_ids(client, STAFF) == uz | kh
    references = StaticReferences({"fac_A": "UZ", "fac_K": "KH"})
    async with database.sessionmaker() as session:
        assert await fill_missing_countries(session, references) == len(uz | kh)
    assert await listed_ids(client, STAFF_UZ) == uz
    assert await listed_ids(client, STAFF_KH) == kh
    async with database.sessionmaker() as session:
        assert await fill_missing_countries(session, references) == 0


async def test_the_service_backfills_countries_from_the_assessment_service_when_it_starts(
    client: httpx.AsyncClient,
    training_app: FastAPI,
    two_countries: dict[str, dict[str, Any]],
) -> None:
    await forget_countries(training_app)
    async with backfill_in_background(training_app):
        await training_app.state.country_backfill
    assert await listed_ids(client, STAFF_KH) == ids_of(two_countries["KH"])
    assert await listed_ids(client, STAFF_UZ) == ids_of(two_countries["UZ"])
