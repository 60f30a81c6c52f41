"""Which brands buy from a factory is commercially sensitive: a brand that a factory shares its
data with sees its own buying relationship with that factory, never another brand's, in any
response; the factory itself and programme staff see them all."""

import re
from typing import Any

import httpx
import pytest

from tests.assessment.builders import (
    ADMIN,
    grant,
    new_brand,
    new_factory,
    published_assessment,
    published_catalog,
)
from tests.support import auth_header


@pytest.fixture
async def market(gateway_client: httpx.AsyncClient) -> dict[str, str]:
    """Factory "buyers" sells to brands A, B and C and shares with A and B; factory "other"
    sells to B only and shares with A (A sees it, but is not one of its buyers)."""
    client = gateway_client
    catalog = await published_catalog(client)
    brand_a = await new_brand(client, "Brand A")
    brand_b = await new_brand(client, "Brand B")
    brand_c = await new_brand(client, "Brand C")
    everyone = [brand_a["id"], brand_b["id"], brand_c["id"]]
    buyers = await new_factory(client, name="Buyers", buyer_brand_ids=everyone)
    other = await new_factory(client, name="Other", buyer_brand_ids=[brand_b["id"]])
    consent = await grant(client, buyers["id"], brand_a["id"])
    await grant(client, buyers["id"], brand_b["id"])
    await grant(client, other["id"], brand_a["id"])
    assessment = await published_assessment(client, buyers["id"], catalog["id"])
    return {
        "a": brand_a["id"],
        "b": brand_b["id"],
        "c": brand_c["id"],
        "buyers": buyers["id"],
        "other": other["id"],
        "consent": consent["id"],
        "assessment": assessment["id"],
        "catalog": catalog["id"],
    }


async def factories_seen(
    client: httpx.AsyncClient, headers: dict[str, str], market: dict[str, str]
) -> dict[str, list[str]]:
    """buyer_brand_ids of each factory, as the list shows them; the single read must agree."""
    listed = await client.get("/v1/factories", headers=headers)
    assert listed.status_code == 200, listed.text
    seen = {f["id"]: f["buyer_brand_ids"] for f in listed.json()["items"]}
    for factory_id, brand_ids in seen.items():
        one = await client.get(f"/v1/factories/{factory_id}", headers=headers)
        assert one.json()["buyer_brand_ids"] == brand_ids
    return seen


async def test_a_brand_sees_only_its_own_buying_relationship(
    gateway_client: httpx.AsyncClient, market: dict[str, Any]
) -> None:
    brand_a = auth_header("brand", brand_id=market["a"])
    brand_b = auth_header("brand", brand_id=market["b"])
    assert await factories_seen(gateway_client, brand_a, market) == {
        market["buyers"]: [market["a"]],
        market["other"]: [],
    }
    assert await factories_seen(gateway_client, brand_b, market) == {
        market["buyers"]: [market["b"]],
    }


@pytest.mark.parametrize("role", ["admin", "staff", "factory"])
async def test_the_factory_and_programme_staff_see_every_buyer(
    gateway_client: httpx.AsyncClient, market: dict[str, Any], role: str
) -> None:
    headers = {
        "admin": ADMIN,
        "staff": auth_header("staff"),
        "factory": auth_header("factory", factory_id=market["buyers"]),
    }[role]
    seen = await factories_seen(gateway_client, headers, market)
    assert seen[market["buyers"]] == [market["a"], market["b"], market["c"]]


async def test_no_response_to_a_brand_names_another_brand(
    gateway_client: httpx.AsyncClient, market: dict[str, Any]
) -> None:
    """Every GET of the platform, as brand A, on the objects it may see: brands B and C (both
    buyers of a factory that shares with A, B sharing with it too) appear nowhere."""
    document = (await gateway_client.get("/openapi.json")).json()
    params = {
        "factory_id": market["buyers"],
        "assessment_id": market["assessment"],
        "consent_id": market["consent"],
        "brand_id": market["a"],
        "catalog_id": market["catalog"],
        "question_code": "CL-1-1",
        "year": "2024",
    }
    brand_a = auth_header("brand", brand_id=market["a"])
    answered: list[str] = []
    leaks: list[str] = []
    for path, item in document["paths"].items():
        if "get" not in item:
            continue
        url = re.sub(r"\{(\w+)\}", lambda m: params.get(m.group(1), "x"), path)
        response = await gateway_client.get(url, headers=brand_a)
        if response.status_code == 200:
            answered.append(path)
        if market["b"] in response.text or market["c"] in response.text:
            leaks.append(f"GET {path}: {response.status_code}")
    assert leaks == []
    # The sweep reached the brand's own factory and assessment, not only refusals.
    assert {"/v1/factories", "/v1/factories/{factory_id}"} <= set(answered)
    assert "/v1/assessments/{assessment_id}" in answered
