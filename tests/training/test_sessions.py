"""Training sessions and attendance lists: bulk upload, row errors, counts, visibility."""

import asyncio
from typing import Any

import httpx
import pytest

from tests.support import auth_header
from tests.training.builders import (
    STAFF,
    FakeAssessment,
    assert_problem,
    attendee,
    create_course,
    create_session,
    feed,
)


@pytest.fixture
async def course(client: httpx.AsyncClient) -> dict[str, Any]:
    return await create_course(client)


@pytest.fixture
async def session(client: httpx.AsyncClient, course: dict[str, Any]) -> httpx.Response:
    response = await create_session(client, course["id"])
    assert response.status_code == 201, response.text
    return response


async def upload(
    client: httpx.AsyncClient, created: httpx.Response, rows: list[dict[str, Any]]
) -> httpx.Response:
    return await client.put(
        f"/v1/training-sessions/{created.json()['id']}/attendance",
        json={"participants": rows},
        headers={**STAFF, "if-match": created.headers["etag"]},
    )


async def test_forty_attendees_uploaded_at_once_are_counted_by_sex_and_role(
    client: httpx.AsyncClient, session: httpx.Response
) -> None:
    rows = [attendee(i, "fac_A" if i < 25 else "fac_B") for i in range(40)]
    rows[3]["completed"] = False
    rows[7].update(attended=False, completed=False)
    response = await upload(client, session, rows)
    assert response.status_code == 200, response.text
    counts = response.json()["participants"]
    attended = [r for r in rows if r["attended"]]
    assert counts["registered"] == 40 and counts["total"] == 39
    assert counts["completed"] == 38
    assert counts["by_sex"] == {
        "female": sum(r["sex"] == "female" for r in attended),
        "male": sum(r["sex"] == "male" for r in attended),
    }
    for role in ("worker", "supervisor", "manager", "worker_representative"):
        assert counts["by_role"][role] == sum(r["role"] == role for r in attended)
    assert counts["by_factory"] == {"fac_A": 24, "fac_B": 15}
    assert response.headers["etag"] == f'"{session.json()["id"]}.v2"'

    by_endpoint = await client.get(
        f"/v1/training-sessions/{session.json()['id']}/participant-counts", headers=STAFF
    )
    assert by_endpoint.json() == counts
    listed = await client.get(
        f"/v1/training-sessions/{session.json()['id']}/attendance?limit=30", headers=STAFF
    )
    page = listed.json()
    assert [p["row_number"] for p in page["items"]] == list(range(1, 31))
    assert page["items"][0]["full_name"] == "Ishtirokchi 0"
    rest = await client.get(
        f"/v1/training-sessions/{session.json()['id']}/attendance",
        params={"cursor": page["next_cursor"]},
        headers=STAFF,
    )
    assert [p["row_number"] for p in rest.json()["items"]] == list(range(31, 41))


async def test_a_bad_row_rejects_the_whole_list_naming_row_numbers(
    client: httpx.AsyncClient, session: httpx.Response
) -> None:
    good = await upload(client, session, [attendee(i) for i in range(5)])
    rows = [attendee(i) for i in range(40)]
    rows[2]["sex"] = "unknown"
    rows[9]["factory_id"] = "fac_C"
    rows[30] = {**rows[30], "completed": True, "attended": False}
    stale_free = await client.put(
        f"/v1/training-sessions/{session.json()['id']}/attendance",
        json={"participants": rows},
        headers={**STAFF, "if-match": good.headers["etag"]},
    )
    body = assert_problem(stale_free, 422)
    assert sorted({e["row"] for e in body["errors"]}) == [3, 10, 31]
    assert "rows 3, 10, 31" in body["detail"]
    assert any("fac_C" in e["message"] for e in body["errors"] if e["row"] == 10)
    counts = await client.get(
        f"/v1/training-sessions/{session.json()['id']}/participant-counts", headers=STAFF
    )
    assert counts.json()["registered"] == 5


async def test_attendance_upload_needs_if_match(
    client: httpx.AsyncClient, session: httpx.Response
) -> None:
    url = f"/v1/training-sessions/{session.json()['id']}/attendance"
    rows = {"participants": [attendee(1)]}
    assert_problem(await client.put(url, json=rows, headers=STAFF), 428)
    await upload(client, session, [attendee(1)])
    assert_problem(await upload(client, session, [attendee(2)]), 412)


async def test_unknown_factory_or_course_is_rejected_and_nothing_stored(
    client: httpx.AsyncClient, course: dict[str, Any]
) -> None:
    response = await create_session(client, course["id"], factory_ids=["fac_A", "fac_nowhere"])
    body = assert_problem(response, 422)
    assert "fac_nowhere" in body["detail"]
    assert body["errors"][0]["location"] == "/body/factory_ids"
    assert_problem(await create_session(client, "crs_missing"), 422)
    listed = await client.get("/v1/training-sessions", headers=STAFF)
    assert listed.json()["items"] == []
    assert [e["event_type"] for e in await feed(client)] == ["course.created"]


async def test_session_shape_rules(client: httpx.AsyncClient, course: dict[str, Any]) -> None:
    in_two = await create_session(client, course["id"], delivery="in_factory")
    assert_problem(in_two, 422)
    backwards = await create_session(client, course["id"], end_date="2024-05-01")
    assert_problem(backwards, 422)
    online = await create_session(client, course["id"], delivery="online", venue=None)
    assert online.status_code == 201


async def test_assessment_down_means_503_and_no_session(
    client: httpx.AsyncClient, course: dict[str, Any], fake_assessment: FakeAssessment
) -> None:
    fake_assessment.down = True
    body = assert_problem(await create_session(client, course["id"]), 503)
    assert body["title"] == "Assessment service unavailable"
    assert (await client.get("/v1/training-sessions", headers=STAFF)).json()["items"] == []


async def test_removing_a_factory_with_participants_is_a_conflict(
    client: httpx.AsyncClient, session: httpx.Response
) -> None:
    uploaded = await upload(client, session, [attendee(1, "fac_B")])
    response = await client.patch(
        f"/v1/training-sessions/{session.json()['id']}",
        json={"factory_ids": ["fac_A"], "delivery": "in_factory"},
        headers={**STAFF, "if-match": uploaded.headers["etag"]},
    )
    body = assert_problem(response, 409)
    assert "fac_B" in body["detail"]
    moved = await client.patch(
        f"/v1/training-sessions/{session.json()['id']}",
        json={"factory_ids": ["fac_B"], "delivery": "in_factory", "venue": "Samarqand"},
        headers={**STAFF, "if-match": uploaded.headers["etag"]},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["factory_ids"] == ["fac_B"] and moved.json()["venue"] == "Samarqand"


async def test_a_factory_sees_its_own_sessions_and_participants_only(
    client: httpx.AsyncClient, course: dict[str, Any], session: httpx.Response
) -> None:
    await upload(client, session, [attendee(i, "fac_A" if i < 3 else "fac_B") for i in range(10)])
    other = await create_session(client, course["id"], factory_ids=["fac_C"], delivery="in_factory")
    factory_a = auth_header("factory", factory_id="fac_A")
    listed = await client.get("/v1/training-sessions", headers=factory_a)
    [only] = listed.json()["items"]
    assert only["id"] == session.json()["id"]
    assert only["factory_ids"] == ["fac_A"]
    assert only["participants"]["registered"] == 3
    rows = await client.get(f"/v1/training-sessions/{only['id']}/attendance", headers=factory_a)
    assert {p["factory_id"] for p in rows.json()["items"]} == {"fac_A"}
    hidden = await client.get(f"/v1/training-sessions/{other.json()['id']}", headers=factory_a)
    assert_problem(hidden, 404)
    asked_for_other = await client.get("/v1/training-sessions?factory_id=fac_C", headers=factory_a)
    assert asked_for_other.json()["items"] == []
    brand = auth_header("brand", brand_id="b1")
    assert_problem(await client.get("/v1/training-sessions", headers=brand), 403)


async def test_filters_by_factory_course_and_dates(
    client: httpx.AsyncClient, course: dict[str, Any], session: httpx.Response
) -> None:
    later = await create_session(
        client,
        course["id"],
        start_date="2024-09-02",
        end_date="2024-09-03",
        factory_ids=["fac_C"],
        delivery="in_factory",
    )
    by_factory = await client.get("/v1/training-sessions?factory_id=fac_C", headers=STAFF)
    assert [s["id"] for s in by_factory.json()["items"]] == [later.json()["id"]]
    by_date = await client.get("/v1/training-sessions?start_to=2024-06-30", headers=STAFF)
    assert [s["id"] for s in by_date.json()["items"]] == [session.json()["id"]]
    by_course = await client.get(f"/v1/training-sessions?course_id={course['id']}", headers=STAFF)
    assert len(by_course.json()["items"]) == 2


async def test_concurrent_uploads_from_one_etag_store_exactly_one_list(
    client: httpx.AsyncClient, session: httpx.Response
) -> None:
    lists = [[attendee(i, sex="female")] * (n + 1) for n, i in enumerate(range(6))]
    responses = await asyncio.gather(*(upload(client, session, rows) for rows in lists))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 412, 412, 412, 412, 412]
    [winner] = [r for r in responses if r.status_code == 200]
    counts = await client.get(
        f"/v1/training-sessions/{session.json()['id']}/participant-counts", headers=STAFF
    )
    assert counts.json() == winner.json()["participants"]
    updates = [e for e in await feed(client) if e["event_type"] == "training_session.updated"]
    assert len(updates) == 1
