"""Bipartite committees: members with sides, sex and dates; one chair; meetings with attendance."""

from typing import Any

import httpx
import pytest

from tests.support import auth_header
from tests.training.builders import STAFF, assert_problem, feed


def member(name: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "full_name": name,
        "role": "worker_representative",
        "sex": "female",
        "selection": "elected",
        "joined_on": "2024-03-01",
    }
    body.update(overrides)
    return body


@pytest.fixture
async def committee(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.post(
        "/v1/committees",
        json={
            "factory_id": "fac_A",
            "name": "Ikki tomonlama qo'mita",
            "established_on": "2024-03-01",
            "members": [
                member("Malika Tosheva", is_chair=True),
                member("Гульнора Саидова"),
                member(
                    "Rustam Aliev",
                    role="management_representative",
                    sex="male",
                    selection="appointed",
                    position="Bosh muhandis",
                ),
            ],
        },
        headers=STAFF,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_committee_counts_current_members_by_sex_and_side(
    committee: dict[str, Any], client: httpx.AsyncClient
) -> None:
    assert committee["member_counts"] == {
        "total": 3,
        "women": 2,
        "men": 1,
        "worker_representatives": 2,
        "management_representatives": 1,
    }
    assert committee["members"][1]["full_name"] == "Гульнора Саидова"
    duplicate = await client.post("/v1/committees", json={"factory_id": "fac_A"}, headers=STAFF)
    assert_problem(duplicate, 409)
    unknown = await client.post("/v1/committees", json={"factory_id": "fac_Q"}, headers=STAFF)
    assert "fac_Q" in assert_problem(unknown, 422)["detail"]


async def test_a_new_chair_takes_over_and_a_member_who_left_is_not_counted(
    committee: dict[str, Any], client: httpx.AsyncClient
) -> None:
    url = f"/v1/committees/{committee['id']}"
    added = await client.post(
        f"{url}/members", json=member("Sardor Qodirov", sex="male", is_chair=True), headers=STAFF
    )
    assert added.status_code == 201, added.text
    after = (await client.get(url, headers=STAFF)).json()
    assert [m["full_name"] for m in after["members"] if m["is_chair"]] == ["Sardor Qodirov"]
    leaver = committee["members"][1]
    left = await client.patch(
        f"{url}/members/{leaver['id']}",
        json={"left_on": "2024-09-30"},
        headers={**STAFF, "if-match": f'"{leaver["id"]}.v1"'},
    )
    assert left.status_code == 200, left.text
    counts = (await client.get(url, headers=STAFF)).json()["member_counts"]
    assert counts["total"] == 3 and counts["women"] == 1
    committee_events = [e for e in await feed(client) if e["aggregate_type"] == "committee"]
    assert committee_events[-1]["payload"]["members"]["total"] == 3
    assert [e["event_type"] for e in committee_events] == [
        "committee.created",
        "committee.updated",
        "committee.updated",
    ]


async def test_meeting_records_attendance_and_minutes(
    committee: dict[str, Any], client: httpx.AsyncClient
) -> None:
    ids = [m["id"] for m in committee["members"]]
    url = f"/v1/committees/{committee['id']}/meetings"
    minutes = "Ustuvor masalalar: favqulodda chiqishlar; график отпусков."
    meeting = await client.post(
        url,
        json={
            "meeting_date": "2024-04-10",
            "attendee_member_ids": ids,
            "guests_women": 1,
            "minutes_summary": minutes,
        },
        headers=STAFF,
    )
    assert meeting.status_code == 201, meeting.text
    assert meeting.json()["attendees_total"] == 4 and meeting.json()["attendees_women"] == 3
    assert meeting.json()["minutes_summary"] == minutes
    before_joining = await client.post(
        url, json={"meeting_date": "2024-02-01", "attendee_member_ids": ids[:1]}, headers=STAFF
    )
    assert "was not a member" in str(assert_problem(before_joining, 422)["errors"])
    stranger = await client.post(
        url, json={"meeting_date": "2024-05-01", "attendee_member_ids": ["mem_x"]}, headers=STAFF
    )
    assert_problem(stranger, 422)
    listed = await client.get(url, headers=auth_header("factory", factory_id="fac_A"))
    assert [m["id"] for m in listed.json()["items"]] == [meeting.json()["id"]]
    [event] = [e for e in await feed(client) if e["event_type"] == "committee_meeting.created"]
    assert event["payload"] == {
        "id": meeting.json()["id"],
        "committee_id": committee["id"],
        "factory_id": "fac_A",
        "country": "UZ",
        "meeting_date": "2024-04-10",
        "attendees_total": 4,
        "attendees_women": 3,
    }


async def test_other_factories_and_brands_cannot_see_a_committee(
    committee: dict[str, Any], client: httpx.AsyncClient
) -> None:
    url = f"/v1/committees/{committee['id']}"
    assert_problem(await client.get(url, headers=auth_header("factory", factory_id="fac_B")), 404)
    assert_problem(await client.get(url, headers=auth_header("brand", brand_id="b1")), 403)
    renamed = await client.patch(
        url, json={"name": "PICC"}, headers={**STAFF, "if-match": f'"{committee["id"]}.v1"'}
    )
    assert renamed.json()["name"] == "PICC"
