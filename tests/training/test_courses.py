"""The course catalogue: titles in three languages, unique codes, optimistic updates."""

import httpx

from tests.support import auth_header
from tests.training.builders import STAFF, assert_problem, create_course, feed


async def test_titles_in_uzbek_latin_cyrillic_and_russian_round_trip(
    client: httpx.AsyncClient,
) -> None:
    title = {
        "en": "Workplace cooperation",
        "uz": "Ish joyidagi hamkorlik — Иш жойидаги ҳамкорлик",
        "ru": "Сотрудничество на рабочем месте",
    }
    created = await create_course(client, code="WPC", title=title, topic="workplace_cooperation")
    fetched = await client.get(
        f"/v1/courses/{created['id']}", headers=auth_header("brand", brand_id="b1")
    )
    assert fetched.status_code == 200
    assert fetched.json()["title"] == title
    assert fetched.headers["etag"] == f'"{created["id"]}.v1"'


async def test_duplicate_code_is_409_and_unknown_topic_is_422(client: httpx.AsyncClient) -> None:
    await create_course(client)
    again = await client.post(
        "/v1/courses",
        json={"code": "SST", "title": {"en": "Again"}, "topic": "osh"},
        headers=STAFF,
    )
    assert_problem(again, 409)
    bad = await client.post(
        "/v1/courses",
        json={"code": "X1", "title": {"en": "X"}, "topic": "knitting"},
        headers=STAFF,
    )
    body = assert_problem(bad, 422)
    assert any(e["location"] == "/body/topic" for e in body["errors"])
    listed = await client.get("/v1/courses", headers=STAFF)
    assert [c["code"] for c in listed.json()["items"]] == ["SST"]


async def test_update_needs_the_current_etag(client: httpx.AsyncClient) -> None:
    course = await create_course(client)
    url = f"/v1/courses/{course['id']}"
    assert_problem(await client.patch(url, json={"duration_days": 2}, headers=STAFF), 428)
    stale = {**STAFF, "if-match": f'"{course["id"]}.v0"'}
    assert_problem(await client.patch(url, json={"duration_days": 2}, headers=stale), 412)
    current = {**STAFF, "if-match": f'"{course["id"]}.v1"'}
    updated = await client.patch(url, json={"duration_days": 2, "topic": "osh"}, headers=current)
    assert updated.status_code == 200, updated.text
    assert updated.json()["duration_days"] == 2 and updated.json()["topic"] == "osh"
    assert updated.headers["etag"] == f'"{course["id"]}.v2"'
    cleared = {**STAFF, "if-match": updated.headers["etag"]}
    assert_problem(await client.patch(url, json={"title": None}, headers=cleared), 422)


async def test_only_staff_and_admin_write_the_catalogue(client: httpx.AsyncClient) -> None:
    body = {"code": "OSH1", "title": {"en": "OSH"}, "topic": "osh"}
    for role, claims in [("factory", {"factory_id": "fac_A"}), ("brand", {"brand_id": "b1"})]:
        response = await client.post("/v1/courses", json=body, headers=auth_header(role, **claims))
        assert_problem(response, 403)
    assert_problem(await client.post("/v1/courses", json=body), 401)
    assert (
        await client.post("/v1/courses", json=body, headers=auth_header("admin"))
    ).status_code == 201


async def test_the_feed_carries_the_english_title_and_all_three(
    client: httpx.AsyncClient,
) -> None:
    course = await create_course(client)
    [event] = await feed(client)
    assert event["payload"]["title"] == "Supervisory Skills Training"
    assert event["payload"]["titles"] == course["title"]
    assert event["payload"]["audience"] == ["supervisor"]
