"""Factories: registration, multilingual round-trip, search, If-Match updates, feed events."""

import httpx

from tests.assessment.builders import ADMIN, assert_problem, feed, new_brand, new_factory
from tests.support import auth_header


async def test_register_round_trips_uzbek_and_russian_text(
    assessment_client: httpx.AsyncClient,
) -> None:
    factory = await new_factory(
        assessment_client,
        name="Farg'ona Tikuv",
        name_uz="Фарғона Тикув",
        name_ru="Ферганская швейная фабрика",
        address="Марғилон ш., Ипак йўли кўчаси 12",
        workforce={"total": 420, "women": 350, "men": 70, "migrants": 0},
        export_markets=["DE", "RU"],
        participation_start="2024-03-01",
    )
    read = await assessment_client.get(f"/v1/factories/{factory['id']}", headers=ADMIN)
    body = read.json()
    assert body["name"] == "Farg'ona Tikuv"
    assert body["name_uz"] == "Фарғона Тикув"
    assert body["name_ru"] == "Ферганская швейная фабрика"
    assert body["address"] == "Марғилон ш., Ипак йўли кўчаси 12"
    assert body["workforce"] == {"total": 420, "women": 350, "men": 70, "migrants": 0}
    assert read.headers["etag"] == f'"{factory["id"]}.v1"'


async def test_workforce_parts_cannot_exceed_total(assessment_client: httpx.AsyncClient) -> None:
    response = await assessment_client.post(
        "/v1/factories",
        json={"name": "X", "country": "UZ", "workforce": {"total": 10, "women": 8, "men": 5}},
        headers=ADMIN,
    )
    assert_problem(response, 422)
    listed = await assessment_client.get("/v1/factories", headers=ADMIN)
    assert listed.json()["items"] == []


async def test_unknown_buyer_brand_is_rejected(assessment_client: httpx.AsyncClient) -> None:
    response = await assessment_client.post(
        "/v1/factories",
        json={"name": "X", "country": "UZ", "buyer_brand_ids": ["brd_nope"]},
        headers=ADMIN,
    )
    assert "brd_nope" in assert_problem(response, 422)["detail"]


async def test_search_by_country_region_status_and_name_prefix(
    assessment_client: httpx.AsyncClient,
) -> None:
    await new_factory(assessment_client, name="Andijan Denim", region="Andijan")
    await new_factory(assessment_client, name="Andijon Trikotaj", region="Andijan")
    await new_factory(
        assessment_client, name="Bukhara Silk", region="Bukhara", participation_status="applicant"
    )
    await new_factory(assessment_client, name="Dhaka Knit", country="BD", region="Dhaka")

    async def names(**params: str) -> list[str]:
        response = await assessment_client.get("/v1/factories", params=params, headers=ADMIN)
        assert response.status_code == 200, response.text
        return sorted(item["name"] for item in response.json()["items"])

    assert await names(country="BD") == ["Dhaka Knit"]
    assert await names(region="Andijan") == ["Andijan Denim", "Andijon Trikotaj"]
    assert await names(status="applicant") == ["Bukhara Silk"]
    assert await names(name_prefix="andij") == ["Andijan Denim", "Andijon Trikotaj"]
    assert await names(name_prefix="Andija") == ["Andijan Denim"]


async def test_pagination_walks_every_factory_once(assessment_client: httpx.AsyncClient) -> None:
    made = {(await new_factory(assessment_client, name=f"F{i}"))["id"] for i in range(5)}
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await assessment_client.get("/v1/factories", params=params, headers=ADMIN)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(made)


async def test_patch_needs_if_match_and_bumps_the_etag(
    assessment_client: httpx.AsyncClient,
) -> None:
    factory = await new_factory(assessment_client)
    url = f"/v1/factories/{factory['id']}"
    assert_problem(await assessment_client.patch(url, json={"region": "X"}, headers=ADMIN), 428)
    ok = await assessment_client.patch(
        url, json={"region": "Namangan"}, headers={**ADMIN, "if-match": f'"{factory["id"]}.v1"'}
    )
    assert ok.status_code == 200 and ok.json()["region"] == "Namangan"
    assert ok.headers["etag"] == f'"{factory["id"]}.v2"'
    stale = await assessment_client.patch(
        url, json={"region": "Fergana"}, headers={**ADMIN, "if-match": f'"{factory["id"]}.v1"'}
    )
    assert_problem(stale, 412)
    assert (await assessment_client.get(url, headers=ADMIN)).json()["region"] == "Namangan"


async def test_patch_rejects_country_change_and_null_name(
    assessment_client: httpx.AsyncClient,
) -> None:
    factory = await new_factory(assessment_client)
    headers = {**ADMIN, "if-match": "*"}
    url = f"/v1/factories/{factory['id']}"
    assert_problem(await assessment_client.patch(url, json={"country": "BD"}, headers=headers), 422)
    assert_problem(await assessment_client.patch(url, json={"name": None}, headers=headers), 422)
    assert (await assessment_client.get(url, headers=ADMIN)).json()["version"] == 1


async def test_writes_appear_in_the_feed_as_snapshots(
    assessment_client: httpx.AsyncClient,
) -> None:
    brand = await new_brand(assessment_client)
    factory = await new_factory(assessment_client, workforce={"total": 100, "women": 80, "men": 20})
    await assessment_client.patch(
        f"/v1/factories/{factory['id']}",
        json={"buyer_brand_ids": [brand["id"]], "participation_status": "suspended"},
        headers={**ADMIN, "if-match": "*"},
    )
    events = [e for e in await feed(assessment_client) if e["aggregate_type"] == "factory"]
    assert [e["event_type"] for e in events] == ["factory.created", "factory.updated"]
    created, updated = (e["payload"] for e in events)
    assert created["workforce_women"] == 80 and created["participation_status"] == "active"
    assert updated["participation_status"] == "suspended"
    assert updated["buyer_brand_ids"] == [brand["id"]]
    for field in ("id", "name", "country", "region", "sector", "ownership", "export_markets"):
        assert field in updated


async def test_staff_limited_to_a_country_cannot_see_or_register_elsewhere(
    assessment_client: httpx.AsyncClient,
) -> None:
    uz = await new_factory(assessment_client)
    bd = await new_factory(assessment_client, name="Dhaka Knit", country="BD")
    staff_uz = auth_header("staff", country="UZ")
    listed = await assessment_client.get("/v1/factories", headers=staff_uz)
    assert [f["id"] for f in listed.json()["items"]] == [uz["id"]]
    assert_problem(await assessment_client.get(f"/v1/factories/{bd['id']}", headers=staff_uz), 404)
    refused = await assessment_client.post(
        "/v1/factories", json={"name": "Y", "country": "BD"}, headers=staff_uz
    )
    assert_problem(refused, 403)
