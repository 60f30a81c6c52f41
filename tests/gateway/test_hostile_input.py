"""Hostile input through the gateway gets a clear 4xx problem and changes nothing; text in
Uzbek (Latin and Cyrillic), Russian and English, and SQL metacharacters, round-trip unchanged."""

import time
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import func, select

from gateway.proxy import route_for
from gateway.settings import DEFAULT_ROUTES, GatewaySettings
from services.assessment.models import OutboxEvent as AssessmentOutbox
from services.common.db import Database
from services.common.pagination import decode_cursor, encode_cursor
from services.reporting.models import OutboxEvent as ReportingOutbox
from services.training.models import OutboxEvent as TrainingOutbox
from tests.gateway.test_access_matrix import World, fill, operations, world  # noqa: F401
from tests.support import TEST_AUTH, auth_header

ADMIN = auth_header("admin")
JSON = {**ADMIN, "content-type": "application/json"}
OUTBOXES = (AssessmentOutbox, TrainingOutbox, ReportingOutbox)
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


# --- Every route of the merged document, walked with hostile input ---------------------------

# Cursors no list ever issues: numbers past any key column, negative, not text or a number,
# text no database stores, and strings that are not cursors at all.
HOSTILE_CURSORS = {
    "huge number": encode_cursor(10**30),
    "past 64 bits": encode_cursor(2**63),
    "negative": encode_cursor(-1),
    "fraction": encode_cursor(1.5),
    "boolean": encode_cursor(True),
    "null": encode_cursor(None),
    "list": encode_cursor([1, 2]),
    "object": encode_cursor({"id": 1}),
    "NUL": encode_cursor("fac_\u0000"),
    "lone surrogate": encode_cursor("fac_\ud800"),
    "not base64 JSON": "not-a-cursor",
    "minus one": "-1",
    "empty": "",
}
HOSTILE_LIMITS = ["0", "-1", "501", "9" * 30, "-" + "9" * 30, "abc", "1.5", "1e3", ""]
HOSTILE_INTEGERS = ["9" * 30, "-" + "9" * 30, "99999999999", "abc", "1.5"]
# Correctly signed tokens whose claims have the wrong type or shape.
ILL_TYPED_CLAIMS = {
    "role is a list": {"role": ["admin"]},
    "sub is a number": {"sub": 42},
    "factory_id is a list": {"role": "factory", "factory_id": ["fac_1", "fac_2"]},
    "brand_id is an object": {"role": "brand", "brand_id": {"id": "brd_1"}},
    "country is a list": {"role": "staff", "country": ["UZ"]},
    "exp is text": {"exp": "9999999999"},
}
AT_THE_GATEWAY = {"role is a list", "sub is a number"}
REQUIRED_QUERY = {"country": "UZ", "on": "2024-06-01"}
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def query_parameters(operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "query"}


def is_integer(parameter: dict[str, Any]) -> bool:
    schema = parameter.get("schema", {})
    return "integer" in {schema.get("type"), *(s.get("type") for s in schema.get("anyOf", []))}


def required_query(operation: dict[str, Any]) -> dict[str, str]:
    return {
        name: REQUIRED_QUERY[name]
        for name, p in query_parameters(operation).items()
        if p.get("required")
    }


def is_problem(response: httpx.Response, *statuses: int) -> bool:
    return response.status_code in statuses and response.headers.get("content-type", "").startswith(
        "application/problem+json"
    )


def signed(claims: dict[str, object]) -> dict[str, str]:
    now = int(time.time())
    payload = {
        "sub": "hostile",
        "role": "admin",
        "iss": TEST_AUTH.issuer,
        "aud": TEST_AUTH.audience,
        "iat": now,
        "exp": now + 600,
        **claims,
    }
    return {"authorization": "Bearer " + jwt.encode(payload, TEST_AUTH.secret(), "HS256")}


async def outbox_sizes(*databases: Database) -> list[int]:
    """Every write appends to its service's outbox; equal sizes mean nothing was written."""
    sizes = []
    for database, model in zip(databases, OUTBOXES, strict=True):
        async with database.sessionmaker() as session:
            sizes.append(
                (await session.execute(select(func.count()).select_from(model))).scalar_one()
            )
    return sizes


async def test_every_integer_parameter_declares_its_bounds(
    gateway_client: httpx.AsyncClient,
) -> None:
    """A number past what a column holds overflows SQLite and PostgreSQL alike (a 500): each
    integer a client sends must be bounded where it is declared, so it fails validation."""
    document = (await gateway_client.get("/openapi.json")).json()
    unbounded = [
        f"{method} {path} {p['name']}"
        for method, path, operation in operations(document)
        for p in operation.get("parameters", [])
        if is_integer(p)
        and not all(
            "maximum" in schema and "minimum" in schema
            for schema in p["schema"].get("anyOf", [p["schema"]])
            if schema.get("type") == "integer"
        )
    ]
    assert unbounded == []


async def test_hostile_cursors_limits_and_numbers_on_every_list_are_4xx_problems(
    gateway_client: httpx.AsyncClient,
    world: World,  # noqa: F811 (the fixture imported above)
) -> None:
    document = (await gateway_client.get("/openapi.json")).json()
    lists = [
        (path, op)
        for method, path, op in operations(document)
        if method == "GET" and "cursor" in query_parameters(op)
    ]
    assert len(lists) >= 15, "the walk found too few lists to be a walk"
    wrong: list[str] = []

    async def expect(path: str, query: dict[str, str], statuses: tuple[int, ...]) -> None:
        response = await gateway_client.get(path, params=query, headers=ADMIN)
        if not is_problem(response, *statuses):
            wrong.append(f"{path}?{query}: {response.status_code} {response.text[:120]}")

    for template, operation in lists:
        path = fill(template, world.params_b)
        base = required_query(operation)
        for cursor in HOSTILE_CURSORS.values():
            await expect(path, {**base, "cursor": cursor}, (400,))
        await expect(path, {**base, "cursor": "x" * 513}, (422,))
        # A cursor of the other list kind (text for a number key, a number for a text key).
        first = await gateway_client.get(path, params={**base, "limit": "1"}, headers=ADMIN)
        assert first.status_code == 200, (path, first.text)
        if first.json()["next_cursor"]:
            issued = decode_cursor(first.json()["next_cursor"])
            confused = encode_cursor("fac_1" if isinstance(issued, int) else 5)
            await expect(path, {**base, "cursor": confused}, (400,))
        # Numbers a key column may or may not hold (int4, int8): an answer, never a 5xx.
        for number in (2**31, 2**62):
            answer = await gateway_client.get(
                path, params={**base, "cursor": encode_cursor(number)}, headers=ADMIN
            )
            if answer.status_code >= 500:
                wrong.append(f"{path} cursor {number}: {answer.status_code}")
        for limit in HOSTILE_LIMITS:
            await expect(path, {**base, "limit": limit}, (422,))
    for method, template, operation in operations(document):
        if method != "GET":
            continue
        for name, parameter in query_parameters(operation).items():
            if is_integer(parameter) and name != "limit":
                for value in HOSTILE_INTEGERS:
                    query = {**required_query(operation), name: value}
                    await expect(fill(template, world.params_b), query, (422,))
        if "{year}" in template:
            for value in HOSTILE_INTEGERS:
                year_path = fill(template, {**world.params_b, "year": value})
                await expect(year_path, required_query(operation), (422,))
    assert wrong == [], "\n".join(wrong)


async def test_ill_typed_token_claims_are_a_401_on_every_route_at_the_gateway_and_services(
    gateway_client: httpx.AsyncClient,
    assessment_client: httpx.AsyncClient,
    training_client: httpx.AsyncClient,
    reporting_client: httpx.AsyncClient,
) -> None:
    document = (await gateway_client.get("/openapi.json")).json()
    services = {
        "assessment": assessment_client,
        "training": training_client,
        "reporting": reporting_client,
    }
    ids = defaultdict(lambda: "x_hostile", year="2024")
    wrong: list[str] = []
    for method, template, operation in operations(document):
        path = fill(template, ids)
        owner = route_for(template, DEFAULT_ROUTES)
        assert owner is not None, template
        for name, claims in ILL_TYPED_CLAIMS.items():
            # Both doors share one verifier: every variant at the service, two at the gateway.
            doors = [(owner, services[owner])]
            if name in AT_THE_GATEWAY:
                doors.append(("gateway", gateway_client))
            for door, client in doors:
                response = await client.request(
                    method,
                    path,
                    params=required_query(operation),
                    json={} if method in WRITES else None,
                    headers=signed(claims),
                )
                if not is_problem(response, 401):
                    wrong.append(f"{door} {method} {template} ({name}): {response.status_code}")
    assert wrong == [], "\n".join(wrong)


async def test_an_oversized_chunked_body_on_every_writing_route_is_a_413_that_changes_nothing(
    gateway_client: httpx.AsyncClient,
    world: World,  # noqa: F811 (the fixture imported above)
    assessment_database: Database,
    training_database: Database,
    reporting_database: Database,
) -> None:
    document = (await gateway_client.get("/openapi.json")).json()
    databases = (assessment_database, training_database, reporting_database)
    before = await outbox_sizes(*databases)
    bogus = defaultdict(lambda: "x_hostile", year="2024")
    wrong: list[str] = []
    for method, template, operation in operations(document):
        if method not in WRITES:
            continue
        takes_body = "requestBody" in operation
        # Bodiless writes would act on real objects; they only need to survive the body.
        path = fill(template, world.params_b if takes_body else bogus)
        for extra in ({}, {"idempotency-key": f"hostile-{method}-{template}"}):
            response = await gateway_client.request(
                method,
                path,
                # Bodiless ones miss their required query too, so nothing can be created.
                params=required_query(operation) if takes_body else {},
                content=oversized_body(),
                headers={**JSON, "if-match": '"stale"', **extra},
            )
            expected = (413,) if takes_body else tuple(range(400, 500))
            if not is_problem(response, *expected):
                wrong.append(f"{method} {template} {extra}: {response.status_code}")
    assert wrong == [], "\n".join(wrong)
    assert await outbox_sizes(*databases) == before


async def oversized_body() -> AsyncIterator[bytes]:
    """No Content-Length: the 5 MiB limit can only trip while the body streams."""
    chunk = b" " * (256 * 1024)
    for _ in range(GatewaySettings().max_body_bytes // len(chunk) + 1):
        yield chunk


OVERLONG = "Z" * 300  # longer than any id, code or name column of the platform


async def test_an_overlong_path_parameter_on_every_route_is_a_4xx_problem(
    gateway_client: httpx.AsyncClient,
    world: World,  # noqa: F811 (the fixture imported above)
) -> None:
    """Each text path parameter of every route, in turn, far longer than anything stored, the
    others naming real objects; with an admin token, If-Match: * and an empty JSON body (valid
    for some routes), so a request gets as far into a route as such a request can. A value a
    route passes on to a model or a column unchecked was a 500 (a finding's question code)."""
    document = (await gateway_client.get("/openapi.json")).json()
    wrong: list[str] = []
    walked = 0
    for method, template, operation in operations(document):
        texts = [
            p["name"]
            for p in operation.get("parameters", [])
            if p["in"] == "path" and not is_integer(p)
        ]
        for name in texts:
            walked += 1
            path = fill(template, {**world.params_b, name: OVERLONG})
            body = {} if method in {"POST", "PUT", "PATCH"} else None
            response = await gateway_client.request(
                method,
                path,
                params=required_query(operation),
                json=body,
                headers={**ADMIN, "if-match": "*"},
            )
            if not (
                400 <= response.status_code < 500 and is_problem(response, response.status_code)
            ):
                wrong.append(
                    f"{method} {template} {name}: {response.status_code} {response.text[:120]}"
                )
    assert walked >= 50, "the walk found too few path parameters to be a walk"
    assert wrong == [], "\n".join(wrong)
