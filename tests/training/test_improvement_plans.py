"""Improvement plans: ids checked against the assessment service, items driven to completion."""

from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from tests.support import auth_header
from tests.training.builders import (
    STAFF,
    FakeAssessment,
    assert_problem,
    feed,
    finding,
    plan_item,
)

FACTORY_A = auth_header("factory", factory_id="fac_A")


@pytest.fixture(autouse=True)
def assessment_with_findings(fake_assessment: FakeAssessment) -> None:
    fake_assessment.add_assessment(
        "asm_1",
        "fac_A",
        [
            finding("OSH.1.1", "OSH.1"),
            finding("OSH.1.2", "OSH.1", non_compliant=False),
            finding("WT.2.1", "WT.2"),
            finding("CON.1.1", "CON.1", non_compliant=None),
        ],
    )
    fake_assessment.add_assessment("asm_B", "fac_B", [finding("OSH.1.1", "OSH.1")])


async def create_plan(client: httpx.AsyncClient, **overrides: Any) -> httpx.Response:
    body: dict[str, Any] = {
        "factory_id": "fac_A",
        "assessment_id": "asm_1",
        "items": [
            plan_item(),
            plan_item(compliance_point_code="WT.2", finding_question_code="WT.2.1"),
        ],
    }
    body.update(overrides)
    return await client.post("/v1/improvement-plans", json=body, headers=STAFF)


async def test_plan_from_findings_driven_to_completion_with_dated_history(
    client: httpx.AsyncClient,
) -> None:
    created = await create_plan(client)
    assert created.status_code == 201, created.text
    plan = created.json()
    assert plan["progress"] == {
        "total": 2,
        "pending": 2,
        "in_progress": 0,
        "completed": 0,
        "overdue": 2,
    }
    first = plan["items"][0]
    assert first["action"].startswith("Ikkinchi qavatdagi")
    url = f"/v1/improvement-plans/{plan['id']}/items/{first['id']}"
    started = await client.patch(
        url,
        json={"status": "in_progress", "effective_date": "2024-07-01", "note": "ordered locks"},
        headers={**STAFF, "if-match": f'"{first["id"]}.v1"'},
    )
    assert started.status_code == 200, started.text
    done = await client.patch(
        url,
        json={"status": "completed", "effective_date": "2024-07-20"},
        headers={**FACTORY_A, "if-match": started.headers["etag"]},
    )
    assert done.status_code == 200, done.text
    finished = done.json()
    assert finished["status"] == "completed" and finished["completed_at"] == "2024-07-20"
    assert finished["overdue"] is False
    assert [(h["status"], h["effective_date"]) for h in finished["history"]] == [
        ("pending", date.today().isoformat()),
        ("in_progress", "2024-07-01"),
        ("completed", "2024-07-20"),
    ]
    assert finished["history"][2]["changed_by"] == "factory-dev"
    after = (await client.get(f"/v1/improvement-plans/{plan['id']}", headers=STAFF)).json()
    assert after["progress"]["completed"] == 1 and after["version"] == 3
    events = [e for e in await feed(client) if e["aggregate_type"] == "improvement_plan"]
    assert [e["event_type"] for e in events] == [
        "improvement_plan.created",
        "improvement_plan.updated",
        "improvement_plan.updated",
    ]
    last_items = {i["id"]: i for i in events[-1]["payload"]["items"]}
    assert last_items[first["id"]]["status"] == "completed"
    assert last_items[first["id"]]["completed_at"] == "2024-07-20"


async def test_overdue_items_are_visible_across_plans(client: httpx.AsyncClient) -> None:
    soon = (date.today() + timedelta(days=30)).isoformat()
    plan = (
        await create_plan(
            client,
            items=[
                plan_item(),
                plan_item(compliance_point_code="WT.2", finding_question_code=None, due_date=soon),
            ],
        )
    ).json()
    late_id = plan["items"][0]["id"]
    overdue = await client.get("/v1/improvement-plans/items?overdue=true", headers=STAFF)
    assert [i["id"] for i in overdue.json()["items"]] == [late_id]
    assert overdue.json()["items"][0]["overdue"] is True
    not_overdue = await client.get(
        f"/v1/improvement-plans/{plan['id']}/items?overdue=false", headers=STAFF
    )
    assert [i["id"] for i in not_overdue.json()["items"]] == [plan["items"][1]["id"]]
    judged_earlier = await client.get(
        "/v1/improvement-plans/items?overdue=true&as_of=2024-08-01", headers=STAFF
    )
    assert judged_earlier.json()["items"] == []
    own = await client.get("/v1/improvement-plans/items?overdue=true", headers=FACTORY_A)
    assert [i["id"] for i in own.json()["items"]] == [late_id]
    other = auth_header("factory", factory_id="fac_B")
    assert (await client.get("/v1/improvement-plans/items", headers=other)).json()["items"] == []


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"factory_id": "fac_ghost"}, "fac_ghost"),
        ({"assessment_id": "asm_ghost"}, "asm_ghost"),
        ({"factory_id": "fac_B"}, "asm_1"),
        ({"items": [plan_item(finding_question_code="OSH.9.9")]}, "OSH.9.9"),
        ({"items": [plan_item(compliance_point_code="FL.1", finding_question_code=None)]}, "FL.1"),
        ({"items": [plan_item(compliance_point_code="WT.2")]}, "belongs to compliance point"),
        ({"items": [plan_item(finding_question_code="OSH.1.2")]}, "found compliant"),
        (
            {"items": [plan_item(compliance_point_code="CON.1", finding_question_code="CON.1.1")]},
            "information-only",
        ),
    ],
)
async def test_unknown_or_mismatched_references_are_422_naming_them(
    client: httpx.AsyncClient, overrides: dict[str, Any], named: str
) -> None:
    body = assert_problem(await create_plan(client, **overrides), 422)
    assert named in body["detail"]
    assert (await client.get("/v1/improvement-plans", headers=STAFF)).json()["items"] == []
    assert await feed(client) == []


async def test_assessment_service_down_is_503_and_nothing_is_stored(
    client: httpx.AsyncClient, fake_assessment: FakeAssessment
) -> None:
    fake_assessment.down = True
    body = assert_problem(await create_plan(client), 503)
    assert "nothing was stored" in body["detail"]
    assert (await client.get("/v1/improvement-plans", headers=STAFF)).json()["items"] == []
    assert await feed(client) == []
    fake_assessment.down = False
    plan = (await create_plan(client, items=[])).json()
    fake_assessment.down = True
    added = await client.post(
        f"/v1/improvement-plans/{plan['id']}/items", json={"items": [plan_item()]}, headers=STAFF
    )
    assert_problem(added, 503)
    assert (await client.get(f"/v1/improvement-plans/{plan['id']}", headers=STAFF)).json()[
        "items"
    ] == []


async def test_the_assessment_service_answering_500_is_also_503(
    client: httpx.AsyncClient, training_app: Any
) -> None:
    training_app.state.assessment_transport = httpx.MockTransport(
        lambda request: httpx.Response(500, json={"status": 500})
    )
    assert_problem(await create_plan(client), 503)


async def test_items_added_later_are_checked_against_the_plans_assessment(
    client: httpx.AsyncClient,
) -> None:
    plan = (await create_plan(client, items=[])).json()
    url = f"/v1/improvement-plans/{plan['id']}/items"
    unknown = await client.post(
        url, json={"items": [plan_item(finding_question_code="X.1")]}, headers=STAFF
    )
    assert "X.1" in assert_problem(unknown, 422)["detail"]
    added = await client.post(url, json={"items": [plan_item()]}, headers=STAFF)
    assert added.status_code == 201, added.text
    assert [i["finding_question_code"] for i in added.json()] == ["OSH.1.1"]
    again = await create_plan(client, items=[])
    assert_problem(again, 409)


async def test_status_rules_and_who_may_change_what(client: httpx.AsyncClient) -> None:
    plan = (await create_plan(client)).json()
    first = plan["items"][0]
    url = f"/v1/improvement-plans/{plan['id']}/items/{first['id']}"
    etag = {"if-match": f'"{first["id"]}.v1"'}
    future = (date.today() + timedelta(days=3)).isoformat()
    assert_problem(
        await client.patch(
            url, json={"status": "completed", "effective_date": future}, headers={**STAFF, **etag}
        ),
        422,
    )
    assert_problem(
        await client.patch(url, json={"owner": "Someone else"}, headers={**FACTORY_A, **etag}), 403
    )
    other_factory = auth_header("factory", factory_id="fac_B")
    assert_problem(
        await client.patch(url, json={"status": "in_progress"}, headers={**other_factory, **etag}),
        404,
    )
    done = await client.patch(url, json={"status": "completed"}, headers={**STAFF, **etag})
    assert done.status_code == 200
    back = await client.patch(
        url, json={"status": "pending"}, headers={**STAFF, "if-match": done.headers["etag"]}
    )
    assert_problem(back, 409)
    assert_problem(
        await client.patch(url, json={"status": "in_progress"}, headers={**STAFF, **etag}), 412
    )
    reopened = await client.patch(
        url, json={"status": "in_progress"}, headers={**STAFF, "if-match": done.headers["etag"]}
    )
    assert reopened.json()["completed_at"] is None


async def test_factories_see_their_own_plans_and_brands_none(client: httpx.AsyncClient) -> None:
    plan = (await create_plan(client)).json()
    assert (
        await client.get(f"/v1/improvement-plans/{plan['id']}", headers=FACTORY_A)
    ).status_code == 200
    other = auth_header("factory", factory_id="fac_B")
    assert_problem(await client.get(f"/v1/improvement-plans/{plan['id']}", headers=other), 404)
    assert (await client.get("/v1/improvement-plans", headers=other)).json()["items"] == []
    brand = auth_header("brand", brand_id="b1")
    assert_problem(await client.get("/v1/improvement-plans", headers=brand), 403)
    assert_problem(
        await create_plan(client)
        if False
        else await client.post(
            "/v1/improvement-plans",
            json={"factory_id": "fac_A", "assessment_id": "asm_1"},
            headers=FACTORY_A,
        ),
        403,
    )
