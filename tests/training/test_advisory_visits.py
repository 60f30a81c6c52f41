"""Advisory visits: factory checked over HTTP, own visits only for factories, If-Match."""

from typing import Any

import httpx

from tests.support import auth_header
from tests.training.builders import STAFF, FakeAssessment, assert_problem, feed


def visit(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "factory_id": "fac_A",
        "visit_date": "2024-06-12",
        "advisors": ["Aziza Yusupova", "Bekzod Rahimov"],
        "topics": ["Ish vaqti hisobi", "Охрана труда"],
        "compliance_point_codes": ["WT.2", "OSH.1"],
        "notes": "Komitet bilan uchrashuv; разобрали график сверхурочных.",
    }
    body.update(overrides)
    return body


async def test_log_a_visit_and_correct_it(client: httpx.AsyncClient) -> None:
    created = await client.post("/v1/advisory-visits", json=visit(), headers=STAFF)
    assert created.status_code == 201, created.text
    assert created.json()["notes"] == visit()["notes"]
    url = f"/v1/advisory-visits/{created.json()['id']}"
    assert_problem(await client.patch(url, json={"topics": []}, headers=STAFF), 428)
    fixed = await client.patch(
        url,
        json={"topics": ["OSH"], "visit_date": "2024-06-13"},
        headers={**STAFF, "if-match": created.headers["etag"]},
    )
    assert fixed.status_code == 200 and fixed.json()["visit_date"] == "2024-06-13"
    events = await feed(client)
    assert [e["event_type"] for e in events] == ["advisory_visit.created", "advisory_visit.updated"]
    assert events[1]["payload"] == {
        "id": created.json()["id"],
        "factory_id": "fac_A",
        "country": "UZ",
        "visit_date": "2024-06-13",
        "advisors": ["Aziza Yusupova", "Bekzod Rahimov"],
        "topics": ["OSH"],
        "compliance_point_codes": ["WT.2", "OSH.1"],
    }


async def test_unknown_factory_is_422_and_unreachable_assessment_503(
    client: httpx.AsyncClient, fake_assessment: FakeAssessment
) -> None:
    body = assert_problem(
        await client.post("/v1/advisory-visits", json=visit(factory_id="fac_Z"), headers=STAFF),
        422,
    )
    assert "fac_Z" in body["detail"]
    fake_assessment.down = True
    assert_problem(await client.post("/v1/advisory-visits", json=visit(), headers=STAFF), 503)
    assert (await client.get("/v1/advisory-visits", headers=STAFF)).json()["items"] == []


async def test_factories_see_only_their_visits(client: httpx.AsyncClient) -> None:
    mine = (await client.post("/v1/advisory-visits", json=visit(), headers=STAFF)).json()
    theirs = (
        await client.post("/v1/advisory-visits", json=visit(factory_id="fac_B"), headers=STAFF)
    ).json()
    factory_a = auth_header("factory", factory_id="fac_A")
    listed = await client.get("/v1/advisory-visits", headers=factory_a)
    assert [v["id"] for v in listed.json()["items"]] == [mine["id"]]
    assert_problem(await client.get(f"/v1/advisory-visits/{theirs['id']}", headers=factory_a), 404)
    assert_problem(await client.post("/v1/advisory-visits", json=visit(), headers=factory_a), 403)
    by_date = await client.get(
        "/v1/advisory-visits?factory_id=fac_B&visited_from=2024-06-01", headers=STAFF
    )
    assert [v["id"] for v in by_date.json()["items"]] == [theirs["id"]]
