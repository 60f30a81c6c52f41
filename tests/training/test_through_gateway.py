"""The issue's "done when", through the gateway with the real assessment service in-process:
a session with 40 attendees uploaded at once, advisory visits and committee meetings logged, and
an improvement plan driven from an assessment's findings to completion."""

from typing import Any

import httpx
from fastapi import FastAPI

from tests.assessment.builders import new_factory, published_assessment, published_catalog
from tests.support import auth_header
from tests.training.builders import STAFF, assert_problem, attendee, create_course, create_session


async def test_training_advisory_and_plan_through_the_gateway(
    gateway_client: httpx.AsyncClient,
    training_app: FastAPI,
    assessment_app: FastAPI,
) -> None:
    training_app.state.assessment_transport = httpx.ASGITransport(app=assessment_app)
    client = gateway_client
    factory_a = await new_factory(client)
    factory_b = await new_factory(client, name="Oʻzbek Ipagi")
    catalog = await published_catalog(client)
    assessment = await published_assessment(client, factory_a["id"], catalog["id"], {"CO-1-1"})

    course = await create_course(client)
    session = await create_session(
        client, course["id"], factory_ids=[factory_a["id"], factory_b["id"]]
    )
    assert session.status_code == 201, session.text
    rows = [attendee(i, factory_a["id"] if i % 3 else factory_b["id"]) for i in range(40)]
    uploaded = await client.put(
        f"/v1/training-sessions/{session.json()['id']}/attendance",
        json={"participants": rows},
        headers={**STAFF, "if-match": session.headers["etag"]},
    )
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json()["participants"]["total"] == 40

    visit = await client.post(
        "/v1/advisory-visits",
        json={
            "factory_id": factory_a["id"],
            "visit_date": "2024-06-20",
            "advisors": ["Aziza Yusupova"],
            "compliance_point_codes": ["CO-1"],
        },
        headers=STAFF,
    )
    assert visit.status_code == 201, visit.text
    committee = await client.post(
        "/v1/committees",
        json={
            "factory_id": factory_a["id"],
            "members": [
                {
                    "full_name": "Malika Tosheva",
                    "role": "worker_representative",
                    "sex": "female",
                    "selection": "elected",
                    "is_chair": True,
                    "joined_on": "2024-03-01",
                }
            ],
        },
        headers=STAFF,
    )
    assert committee.status_code == 201, committee.text
    member_id = committee.json()["members"][0]["id"]
    meeting = await client.post(
        f"/v1/committees/{committee.json()['id']}/meetings",
        json={"meeting_date": "2024-06-25", "attendee_member_ids": [member_id]},
        headers=STAFF,
    )
    assert meeting.status_code == 201, meeting.text

    item: dict[str, Any] = {
        "compliance_point_code": "CO-1",
        "finding_question_code": "CO-1-1",
        "action": "Pay the 2024 minimum wage",
        "owner": "Bosh buxgalter",
        "due_date": "2024-09-30",
    }
    compliant = {**item, "finding_question_code": "CO-1-2"}
    plan_body = {"factory_id": factory_a["id"], "assessment_id": assessment["id"]}
    rejected = await client.post(
        "/v1/improvement-plans", json={**plan_body, "items": [compliant]}, headers=STAFF
    )
    assert "CO-1-2" in assert_problem(rejected, 422)["detail"]
    wrong_factory = await client.post(
        "/v1/improvement-plans", json={**plan_body, "factory_id": factory_b["id"]}, headers=STAFF
    )
    assert assessment["id"] in assert_problem(wrong_factory, 422)["detail"]
    plan = await client.post(
        "/v1/improvement-plans", json={**plan_body, "items": [item]}, headers=STAFF
    )
    assert plan.status_code == 201, plan.text
    [created_item] = plan.json()["items"]
    url = f"/v1/improvement-plans/{plan.json()['id']}/items/{created_item['id']}"
    etag = f'"{created_item["id"]}.v1"'
    factory_token = auth_header("factory", factory_id=factory_a["id"])
    for status, day in (("in_progress", "2024-08-01"), ("completed", "2024-09-15")):
        moved = await client.patch(
            url,
            json={"status": status, "effective_date": day},
            headers={**factory_token, "if-match": etag},
        )
        assert moved.status_code == 200, moved.text
        etag = moved.headers["etag"]
    final = await client.get(f"/v1/improvement-plans/{plan.json()['id']}", headers=factory_token)
    assert final.json()["progress"]["completed"] == 1
    assert final.json()["items"][0]["completed_at"] == "2024-09-15"
