"""Who sees what: factories see their own, brands only what is shared with them (and only
published assessments), and revoking consent cuts access at once. Hidden means 404."""

import httpx
import pytest

from tests.assessment.builders import (
    ADMIN,
    assert_problem,
    created,
    feed,
    grant,
    new_assessment,
    new_brand,
    new_factory,
    published_assessment,
    published_catalog,
    walk,
)
from tests.support import auth_header


@pytest.fixture
async def world(assessment_client: httpx.AsyncClient) -> dict[str, str]:
    """Two factories, each with a published assessment; factory A shares with brand A only; A
    also has an assessment still in progress."""
    catalog = await published_catalog(assessment_client)
    fa = await new_factory(assessment_client, name="Factory A")
    fb = await new_factory(assessment_client, name="Factory B")
    ba = await new_brand(assessment_client, "Brand A")
    bb = await new_brand(assessment_client, "Brand B")
    consent = await grant(assessment_client, fa["id"], ba["id"])
    pa = await published_assessment(assessment_client, fa["id"], catalog["id"])
    pb = await published_assessment(assessment_client, fb["id"], catalog["id"])
    open_a = await created(await new_assessment(assessment_client, fa["id"], catalog["id"]))
    await walk(assessment_client, open_a["id"], "in_progress")
    return {
        "fa": fa["id"],
        "fb": fb["id"],
        "ba": ba["id"],
        "bb": bb["id"],
        "consent": consent["id"],
        "pa": pa["id"],
        "pb": pb["id"],
        "open_a": open_a["id"],
    }


async def ids(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> set[str]:
    response = await client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


async def test_brand_sees_only_consenting_factories_and_their_published_assessments(
    assessment_client: httpx.AsyncClient, world: dict[str, str]
) -> None:
    brand_a = auth_header("brand", brand_id=world["ba"])
    assert await ids(assessment_client, "/v1/factories", brand_a) == {world["fa"]}
    assert await ids(assessment_client, "/v1/assessments", brand_a) == {world["pa"]}
    ok = await assessment_client.get(f"/v1/assessments/{world['pa']}/results", headers=brand_a)
    assert ok.status_code == 200
    for url in (
        f"/v1/factories/{world['fb']}",
        f"/v1/assessments/{world['pb']}",
        f"/v1/assessments/{world['pb']}/findings",
        f"/v1/assessments/{world['open_a']}",
    ):
        assert_problem(await assessment_client.get(url, headers=brand_a), 404)


async def test_brand_without_consent_gets_404_like_a_missing_factory(
    assessment_client: httpx.AsyncClient, world: dict[str, str]
) -> None:
    brand_b = auth_header("brand", brand_id=world["bb"])
    hidden = await assessment_client.get(f"/v1/factories/{world['fa']}", headers=brand_b)
    missing = await assessment_client.get("/v1/factories/fac_missing", headers=brand_b)
    assert_problem(hidden, 404)
    assert_problem(missing, 404)
    assert hidden.json()["title"] == missing.json()["title"]
    assert await ids(assessment_client, "/v1/assessments", brand_b) == set()


async def test_revoking_consent_cuts_access_immediately_and_keeps_history(
    assessment_client: httpx.AsyncClient, world: dict[str, str]
) -> None:
    brand_a = auth_header("brand", brand_id=world["ba"])
    factory_a = auth_header("factory", factory_id=world["fa"])
    url = f"/v1/assessments/{world['pa']}"
    assert (await assessment_client.get(url, headers=brand_a)).status_code == 200
    revoked = await assessment_client.post(
        f"/v1/factories/{world['fa']}/consents/{world['consent']}/revoke", headers=factory_a
    )
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    assert_problem(await assessment_client.get(url, headers=brand_a), 404)
    assert await ids(assessment_client, "/v1/factories", brand_a) == set()
    again = await assessment_client.post(
        f"/v1/factories/{world['fa']}/consents/{world['consent']}/revoke", headers=factory_a
    )
    assert_problem(again, 409)
    history = await assessment_client.get(
        f"/v1/factories/{world['fa']}/consents", headers=factory_a
    )
    [row] = history.json()["items"]
    assert row["revoked_at"] is not None and row["revoked_by"] == "factory-dev"
    events = [e["event_type"] for e in await feed(assessment_client)]
    assert events.count("consent.granted") == 1 and events.count("consent.revoked") == 1
    regranted = await grant(assessment_client, world["fa"], world["ba"])
    assert regranted["id"] != world["consent"]
    assert (await assessment_client.get(url, headers=brand_a)).status_code == 200


async def test_a_second_active_grant_for_the_same_brand_conflicts(
    assessment_client: httpx.AsyncClient, world: dict[str, str]
) -> None:
    response = await assessment_client.post(
        f"/v1/factories/{world['fa']}/consents", json={"brand_id": world["ba"]}, headers=ADMIN
    )
    assert assert_problem(response, 409)["consent_id"] == world["consent"]


async def test_factory_sees_only_itself_and_its_assessments_once_shown_to_it(
    assessment_client: httpx.AsyncClient, world: dict[str, str]
) -> None:
    factory_a = auth_header("factory", factory_id=world["fa"])
    assert await ids(assessment_client, "/v1/factories", factory_a) == {world["fa"]}
    # The in-progress (possibly unannounced) visit stays hidden; the published one is visible.
    assert await ids(assessment_client, "/v1/assessments", factory_a) == {world["pa"]}
    assert_problem(
        await assessment_client.get(f"/v1/factories/{world['fb']}", headers=factory_a), 404
    )
    assert_problem(
        await assessment_client.get(f"/v1/assessments/{world['pb']}", headers=factory_a), 404
    )


async def test_factory_manages_only_its_own_consents(
    assessment_client: httpx.AsyncClient, world: dict[str, str]
) -> None:
    factory_b = auth_header("factory", factory_id=world["fb"])
    foreign = await assessment_client.post(
        f"/v1/factories/{world['fa']}/consents/{world['consent']}/revoke", headers=factory_b
    )
    assert_problem(foreign, 404)
    own = await assessment_client.post(
        f"/v1/factories/{world['fb']}/consents", json={"brand_id": world["bb"]}, headers=factory_b
    )
    assert own.status_code == 201 and own.json()["granted_by"] == "factory-dev"


async def test_roles_that_may_not_write_get_403(
    assessment_client: httpx.AsyncClient, world: dict[str, str]
) -> None:
    for role, claims in (
        ("brand", {"brand_id": world["ba"]}),
        ("factory", {"factory_id": world["fa"]}),
        ("constituent", {}),
    ):
        headers = auth_header(role, **claims)
        assert_problem(
            await assessment_client.post(
                "/v1/factories", json={"name": "X", "country": "UZ"}, headers=headers
            ),
            403,
        )
        assert_problem(
            await assessment_client.put(
                f"/v1/assessments/{world['open_a']}/findings",
                json={"findings": []},
                headers=headers,
            ),
            403,
        )
    assert_problem(await assessment_client.get("/v1/factories"), 401)


async def test_constituent_sees_no_factory(
    assessment_client: httpx.AsyncClient, world: dict[str, str]
) -> None:
    constituent = auth_header("constituent")
    assert_problem(await assessment_client.get("/v1/factories", headers=constituent), 403)
