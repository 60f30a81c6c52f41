"""Industry seminars, PAC meetings and stakeholder events."""

import httpx

from tests.support import auth_header
from tests.training.builders import STAFF, STAFF_KH, assert_problem, feed

PAC = {
    "kind": "pac_meeting",
    "country": "UZ",
    "event_date": "2024-11-20",
    "topic": "Loyiha maslahat qo'mitasi yig'ilishi — заседание ПКС",
    "organisations": [
        "Kambag'allikni qisqartirish va bandlik vazirligi",
        "Oʻzbekiston Kasaba uyushmalari federatsiyasi",
        "Конфедерация работодателей Узбекистана",
    ],
    "participants_women": 7,
    "participants_men": 11,
}


async def test_pac_meeting_is_recorded_and_read_by_constituents(client: httpx.AsyncClient) -> None:
    created = await client.post("/v1/seminars", json=PAC, headers=STAFF)
    assert created.status_code == 201, created.text
    constituent = auth_header("constituent")
    listed = await client.get("/v1/seminars?kind=pac_meeting", headers=constituent)
    [only] = listed.json()["items"]
    assert only["organisations"] == PAC["organisations"] and only["topic"] == PAC["topic"]
    assert_problem(
        await client.get("/v1/seminars", headers=auth_header("factory", factory_id="f")), 403
    )
    assert_problem(await client.post("/v1/seminars", json=PAC, headers=constituent), 403)
    fixed = await client.patch(
        f"/v1/seminars/{only['id']}",
        json={"participants_men": 12},
        headers={**STAFF, "if-match": created.headers["etag"]},
    )
    assert fixed.json()["participants_men"] == 12
    events = await feed(client)
    assert events[-1]["event_type"] == "seminar.updated"
    assert events[-1]["payload"] == {
        "id": only["id"],
        "kind": "pac_meeting",
        "country": "UZ",
        "event_date": "2024-11-20",
        "topic": PAC["topic"],
        "organisations": PAC["organisations"],
        "participants_women": 7,
        "participants_men": 12,
    }


async def test_negative_counts_and_unknown_kinds_are_rejected(client: httpx.AsyncClient) -> None:
    assert_problem(
        await client.post("/v1/seminars", json={**PAC, "participants_women": -1}, headers=STAFF),
        422,
    )
    assert_problem(
        await client.post("/v1/seminars", json={**PAC, "kind": "party"}, headers=STAFF), 422
    )
    in_range = await client.get(
        "/v1/seminars?held_from=2024-01-01&held_to=2024-12-31", headers=STAFF
    )
    assert in_range.json()["items"] == []


async def test_a_seminar_belongs_to_a_country_and_scoped_callers_see_only_their_own(
    client: httpx.AsyncClient,
) -> None:
    staff_kh, constituent_kh = STAFF_KH, auth_header("constituent", country="KH")
    uz = (await client.post("/v1/seminars", json=PAC, headers=STAFF)).json()
    kh = await client.post("/v1/seminars", json={**PAC, "country": None}, headers=staff_kh)
    assert kh.status_code == 201 and kh.json()["country"] == "KH"
    assert_problem(await client.post("/v1/seminars", json=PAC, headers=staff_kh), 403)
    unplaced = {k: v for k, v in PAC.items() if k != "country"}
    assert_problem(await client.post("/v1/seminars", json=unplaced, headers=STAFF), 422)
    for caller in (staff_kh, constituent_kh):
        listed = await client.get("/v1/seminars", headers=caller)
        assert [s["id"] for s in listed.json()["items"]] == [kh.json()["id"]]
        assert_problem(await client.get(f"/v1/seminars/{uz['id']}", headers=caller), 404)
    for if_match in ("*", '"stale"'):
        hidden = await client.patch(
            f"/v1/seminars/{uz['id']}",
            json={"topic": "moved", "country": "KH"},
            headers={**staff_kh, "if-match": if_match},
        )
        assert_problem(hidden, 404)
        assert "etag" not in hidden.headers and f"{uz['id']}.v" not in hidden.text
    unchanged = await client.get(f"/v1/seminars/{uz['id']}", headers=STAFF)
    assert unchanged.json()["topic"] == PAC["topic"] and unchanged.json()["version"] == 1
    both = await client.get("/v1/seminars", headers=STAFF)
    assert {s["country"] for s in both.json()["items"]} == {"UZ", "KH"}
