"""Hostile input through the gateway gets a clear 4xx problem and changes nothing; text in
Uzbek (Latin and Cyrillic), Russian and English, and SQL metacharacters, round-trip unchanged."""

import httpx
import pytest

from tests.support import auth_header

ADMIN = auth_header("admin")
JSON = {**ADMIN, "content-type": "application/json"}
MIXED_NAMES = [
    "Fargʻona Toʻqimachilik",  # Uzbek Latin with the modifier letter turned comma
    "Фарғона Тўқимачилик",  # Uzbek Cyrillic (ғ ў қ)
    "Текстильная фабрика «Шёлк»",  # Russian with guillemets
    "Robert'); DROP TABLE factory;--",
    '100% cotton_ltd \\ "quoted"',
]


async def factory_count(client: httpx.AsyncClient) -> int:
    return len((await client.get("/v1/factories?limit=500", headers=ADMIN)).json()["items"])


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b'{"name": "x", "country": ', 400),  # truncated JSON
        (b"[" * 50_000 + b"]" * 50_000, 400),  # nesting deeper than any parser should follow
        (b'{"name": 12, "country": ["UZ"]}', 422),  # wrong types
        (b'{"name": "x", "country": "UZ", "is_admin": true}', 422),  # unknown field
        (b"\xff\xfe not utf-8", 400),
    ],
)
async def test_bad_bodies_get_a_problem_and_change_nothing(
    gateway_client: httpx.AsyncClient, body: bytes, status: int
) -> None:
    before = await factory_count(gateway_client)
    response = await gateway_client.post("/v1/factories", content=body, headers=JSON)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await factory_count(gateway_client) == before


async def test_wrong_content_type_is_refused(gateway_client: httpx.AsyncClient) -> None:
    response = await gateway_client.post(
        "/v1/factories",
        content=b'{"name": "x", "country": "UZ"}',
        headers={**ADMIN, "content-type": "text/plain"},
    )
    assert 400 <= response.status_code < 500
    assert await factory_count(gateway_client) == 0


@pytest.mark.parametrize(
    "query", ["limit=100000", "limit=0", "limit=-1", "limit=abc", "cursor=not-a-cursor"]
)
async def test_bad_pagination_is_a_4xx(gateway_client: httpx.AsyncClient, query: str) -> None:
    response = await gateway_client.get(f"/v1/factories?{query}", headers=ADMIN)
    assert response.status_code in (400, 422), response.text


async def test_text_round_trips_unchanged_and_searches_match_literally(
    gateway_client: httpx.AsyncClient,
) -> None:
    ids = {}
    for name in MIXED_NAMES:
        created = await gateway_client.post(
            "/v1/factories", json={"name": name, "country": "UZ"}, headers=ADMIN
        )
        assert created.status_code == 201, created.text
        ids[name] = created.json()["id"]
    for name, factory_id in ids.items():
        read = await gateway_client.get(f"/v1/factories/{factory_id}", headers=ADMIN)
        assert read.json()["name"] == name
    # LIKE wildcards in a prefix search are literal characters, not patterns.
    percent = await gateway_client.get("/v1/factories", params={"name_prefix": "%"}, headers=ADMIN)
    under = await gateway_client.get("/v1/factories", params={"name_prefix": "_"}, headers=ADMIN)
    cyrillic = await gateway_client.get(
        "/v1/factories", params={"name_prefix": MIXED_NAMES[1][:5]}, headers=ADMIN
    )
    assert percent.json()["items"] == [] and under.json()["items"] == []
    assert [f["name"] for f in cyrillic.json()["items"]] == [MIXED_NAMES[1]]
    assert await factory_count(gateway_client) == len(MIXED_NAMES)
