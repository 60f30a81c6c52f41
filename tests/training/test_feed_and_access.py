"""The change feed carries a snapshot for every write; every route declares its audience."""

from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute

from services.common.auth import Access
from tests.support import auth_header
from tests.training.builders import (
    STAFF,
    FakeAssessment,
    attendee,
    create_course,
    create_session,
    feed,
    finding,
    plan_item,
)

# docs/change-feed.md, training: the fields every snapshot carries (more may be added).
CONTRACT = {
    "course": {"id", "code", "title", "topic", "duration_days", "audience"},
    "training_session": {
        "id",
        "course_id",
        "course_topic",
        "start_date",
        "end_date",
        "delivery",
        "venue",
        "country",
        "factory_ids",
        "participants",
    },
    "advisory_visit": {
        "id",
        "factory_id",
        "country",
        "visit_date",
        "advisors",
        "topics",
        "compliance_point_codes",
    },
    "committee": {"id", "factory_id", "country", "members"},
    "committee_meeting": {
        "id",
        "committee_id",
        "factory_id",
        "country",
        "meeting_date",
        "attendees_total",
        "attendees_women",
    },
    "improvement_plan": {"id", "factory_id", "country", "assessment_id", "items"},
    "seminar": {
        "id",
        "kind",
        "country",
        "event_date",
        "topic",
        "organisations",
        "participants_women",
        "participants_men",
    },
}


async def every_kind_of_write(client: httpx.AsyncClient, fake: FakeAssessment) -> int:
    """Performs one of each write; returns how many writes it made."""
    fake.add_assessment("asm_1", "fac_A", [finding("OSH.1.1", "OSH.1")])
    writes = 0

    async def ok(response: httpx.Response) -> dict[str, Any]:
        nonlocal writes
        assert response.status_code in (200, 201), response.text
        writes += 1
        return dict(response.json()) if isinstance(response.json(), dict) else {}

    course = await create_course(client)
    writes += 1
    await ok(
        await client.patch(
            f"/v1/courses/{course['id']}",
            json={"duration_days": 2},
            headers={**STAFF, "if-match": f'"{course["id"]}.v1"'},
        )
    )
    session = await create_session(client, course["id"])
    await ok(session)
    await ok(
        await client.put(
            f"/v1/training-sessions/{session.json()['id']}/attendance",
            json={"participants": [attendee(i) for i in range(3)]},
            headers={**STAFF, "if-match": session.headers["etag"]},
        )
    )
    visit = {"factory_id": "fac_A", "visit_date": "2024-06-01", "advisors": ["A"]}
    await ok(await client.post("/v1/advisory-visits", json=visit, headers=STAFF))
    committee = await ok(
        await client.post("/v1/committees", json={"factory_id": "fac_A"}, headers=STAFF)
    )
    new_member = {
        "full_name": "M",
        "role": "worker_representative",
        "sex": "female",
        "selection": "elected",
        "joined_on": "2024-01-01",
    }
    await ok(
        await client.post(
            f"/v1/committees/{committee['id']}/members", json=new_member, headers=STAFF
        )
    )
    await ok(
        await client.post(
            f"/v1/committees/{committee['id']}/meetings",
            json={"meeting_date": "2024-05-05"},
            headers=STAFF,
        )
    )
    item = plan_item(action="Fix", owner="HR", due_date="2024-12-01")
    plan = await ok(
        await client.post(
            "/v1/improvement-plans",
            json={"factory_id": "fac_A", "assessment_id": "asm_1", "items": [item]},
            headers=STAFF,
        )
    )
    await ok(
        await client.patch(
            f"/v1/improvement-plans/{plan['id']}/items/{plan['items'][0]['id']}",
            json={"status": "in_progress"},
            headers={**STAFF, "if-match": f'"{plan["items"][0]["id"]}.v1"'},
        )
    )
    seminar = {
        "kind": "industry_seminar",
        "country": "UZ",
        "event_date": "2024-10-01",
        "topic": "OSH",
    }
    await ok(await client.post("/v1/seminars", json=seminar, headers=STAFF))
    return writes


async def test_the_feed_carries_a_contract_snapshot_for_every_write(
    client: httpx.AsyncClient, fake_assessment: FakeAssessment
) -> None:
    writes = await every_kind_of_write(client, fake_assessment)
    events = await feed(client)
    assert len(events) == writes
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    assert {e["aggregate_type"] for e in events} == set(CONTRACT)
    for event in events:
        missing = CONTRACT[event["aggregate_type"]] - set(event["payload"])
        assert not missing, (event["event_type"], missing)
        assert event["payload"]["id"] == event["aggregate_id"]
        assert event["event_type"].startswith(event["aggregate_type"] + ".")
    [upload] = [e for e in events if e["event_type"] == "training_session.updated"]
    assert upload["payload"]["participants"]["total"] == 3
    page = await client.get(
        f"/internal/v1/changes?after={events[2]['id']}&limit=2", headers=auth_header("service")
    )
    assert [e["id"] for e in page.json()["items"]] == [events[3]["id"], events[4]["id"]]
    assert page.json()["has_more"] is True


async def test_the_feed_is_for_services_and_admins_only(client: httpx.AsyncClient) -> None:
    staff = await client.get("/internal/v1/changes", headers=STAFF)
    assert staff.status_code == 403


def test_every_route_declares_who_may_call_it(training_app: FastAPI) -> None:
    undeclared = []
    for route in training_app.routes:
        if not isinstance(route, APIRoute):
            continue
        dependencies = [d.call for d in route.dependant.dependencies]
        if not any(isinstance(call, Access) for call in dependencies):
            undeclared.append(route.path)
    assert undeclared == []


async def test_brands_see_the_course_catalogue_and_nothing_else(
    client: httpx.AsyncClient,
) -> None:
    brand = auth_header("brand", brand_id="b1")
    assert (await client.get("/v1/courses", headers=brand)).status_code == 200
    for path in (
        "/v1/training-sessions",
        "/v1/advisory-visits",
        "/v1/committees",
        "/v1/improvement-plans",
        "/v1/improvement-plans/items",
        "/v1/seminars",
    ):
        assert (await client.get(path, headers=brand)).status_code == 403, path
