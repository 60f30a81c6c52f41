"""The access matrix for country-limited staff, walked over every operation of the merged OpenAPI.

The demo is Better Work Uzbekistan; beside it a Cambodian factory with its CAT, a published
assessment and training activity. A ``staff`` token with ``country=KH`` must get 404 for every
Uzbek object on every route of every service, reads and writes alike, with If-Match "*" and with
a stale ETag (so nothing is revealed, not even the current ETag, and nothing changes), and must
never see an Uzbek id in any list; a ``staff`` token with ``country=UZ`` reads and writes them
(a stale ETag gets it 412: it got past the scope to the precondition) and never sees Cambodia's.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.assessment.builders import catalog_doc, new_factory, published_assessment
from tests.assessment.builders import published_catalog as publish_catalog
from tests.gateway.test_access_matrix import World, fill, operations, world  # noqa: F401
from tests.support import auth_header
from tests.training.builders import attendee

ADMIN = auth_header("admin")
STAFF_KH = auth_header("staff", country="KH")
STAFF_UZ = auth_header("staff", country="UZ")
STALE = '"stale.v0"'
# Path parameters that name an object of one country programme (courses and brands are shared).
COUNTRY_OWNED = {
    "factory_id",
    "consent_id",
    "assessment_id",
    "catalog_id",
    "session_id",
    "visit_id",
    "committee_id",
    "member_id",
    "plan_id",
    "item_id",
    "seminar_id",
    "publication_id",
}
# Path parameters that name something of no one country: shared catalogue entries, a year, a
# question code, and webhooks (a subscriber's own, not a country's: staff have no webhook routes).
NOT_COUNTRY_OWNED = {"course_id", "brand_id", "question_code", "name", "year"} | {
    "webhook_id",
    "delivery_id",
}
PUBLICATIONS = "/v1/reports/annual/2024/publications"
# Collections whose every id belongs to one country: the ids each country must keep to itself.
COLLECTIONS = (
    "/v1/factories",
    "/v1/assessments",
    "/v1/catalogs",
    "/v1/training-sessions",
    "/v1/advisory-visits",
    "/v1/committees",
    "/v1/improvement-plans",
    "/v1/improvement-plans/items",
    "/v1/seminars",
    PUBLICATIONS,
)
PLAN_ITEM = {
    "compliance_point_code": "CO-1",
    "finding_question_code": "CO-1-1",
    "action": "Fix",
    "owner": "HR",
    "due_date": "2024-12-01",
}
# Query parameters a route requires.
QUERIES = {"/v1/catalogs/{catalog_id}/thresholds/{name}": {"on": "2024-06-01"}}
MEMBER = {
    "full_name": "Sophea Chan",
    "role": "worker_representative",
    "sex": "female",
    "selection": "elected",
    "joined_on": "2024-01-10",
}


def valid_body(method: str, path: str, brand_id: str) -> dict[str, Any] | None:
    """A body the route accepts, so a refusal is the scope's and not the body validation's."""
    bodies: dict[str, dict[str, Any]] = {
        "/v1/factories/{factory_id}/consents": {"brand_id": brand_id},
        "/v1/catalogs/{catalog_id}": catalog_doc("UZ"),
        "/v1/assessments/{assessment_id}/transitions": {"to": "in_progress"},
        "/v1/assessments/{assessment_id}/findings": {"findings": []},
        "/v1/assessments/{assessment_id}/findings/{question_code}": {"non_compliant": True},
        "/v1/training-sessions/{session_id}": {"venue": "Toshkent"},
        "/v1/training-sessions/{session_id}/attendance": {"participants": []},
        "/v1/advisory-visits/{visit_id}": {"notes": "Kuzatuv"},
        "/v1/committees/{committee_id}": {"name": "Qo'mita"},
        "/v1/committees/{committee_id}/members": MEMBER,
        "/v1/committees/{committee_id}/members/{member_id}": {"position": "Tikuvchi"},
        "/v1/committees/{committee_id}/meetings": {"meeting_date": "2024-05-05"},
        "/v1/improvement-plans/{plan_id}/items": {"items": [PLAN_ITEM]},
        "/v1/improvement-plans/{plan_id}/items/{item_id}": {"owner": "HR"},
        "/v1/seminars/{seminar_id}": {"topic": "OSH"},
    }
    if method == "GET" or path.endswith(("/publish", "/revoke", "/revisions")):
        return None
    return bodies.get(path, {})


async def every_id(client: httpx.AsyncClient, path: str) -> set[str]:
    """Every id of a collection, as admin (all pages)."""
    ids: set[str] = set()
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        response = await client.get(path, params=params, headers=ADMIN)
        assert response.status_code == 200, (path, response.text)
        ids |= {row["id"] for row in response.json()["items"]}
        cursor = response.json()["next_cursor"]
        if not cursor:
            return ids


async def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return dict(response.json())


async def publication(client: httpx.AsyncClient, country: str) -> str:
    """A frozen edition of the country's 2024 annual report."""
    response = await client.post(PUBLICATIONS, params={"country": country}, headers=ADMIN)
    return str((await created(response))["id"])


async def cambodia(client: httpx.AsyncClient, course_id: str, brand_id: str) -> dict[str, str]:
    """A Cambodian factory with its CAT, a published assessment, one of each training object
    and a published annual report; the path parameters naming them."""
    factory = await new_factory(client, name="Angkor Garments", country="KH", region="Kandal")
    catalog = await publish_catalog(client, country="KH")
    assessment = await published_assessment(client, factory["id"], catalog["id"], {"CO-1-1"})
    consent = await created(
        await client.post(
            f"/v1/factories/{factory['id']}/consents", json={"brand_id": brand_id}, headers=ADMIN
        )
    )
    session = await created(
        await client.post(
            "/v1/training-sessions",
            json={
                "course_id": course_id,
                "start_date": "2024-05-14",
                "end_date": "2024-05-15",
                "delivery": "in_factory",
                "factory_ids": [factory["id"]],
            },
            headers=ADMIN,
        )
    )
    uploaded = await client.put(
        f"/v1/training-sessions/{session['id']}/attendance",
        json={"participants": [attendee(1, factory["id"])]},
        headers={**ADMIN, "if-match": "*"},
    )
    assert uploaded.status_code == 200, uploaded.text
    visit = {"factory_id": factory["id"], "visit_date": "2024-06-01", "advisors": ["Dara"]}
    visit = await created(await client.post("/v1/advisory-visits", json=visit, headers=ADMIN))
    committee = await created(
        await client.post(
            "/v1/committees",
            json={"factory_id": factory["id"], "members": [MEMBER]},
            headers=ADMIN,
        )
    )
    plan = await created(
        await client.post(
            "/v1/improvement-plans",
            json={
                "factory_id": factory["id"],
                "assessment_id": assessment["id"],
                "items": [PLAN_ITEM],
            },
            headers=ADMIN,
        )
    )
    seminar = await created(
        await client.post(
            "/v1/seminars",
            json={
                "kind": "industry_seminar",
                "country": "KH",
                "event_date": "2024-09-01",
                "topic": "OSH",
            },
            headers=ADMIN,
        )
    )
    return {
        "factory_id": factory["id"],
        "consent_id": consent["id"],
        "assessment_id": assessment["id"],
        "catalog_id": catalog["id"],
        "session_id": session["id"],
        "visit_id": visit["id"],
        "committee_id": committee["id"],
        "member_id": committee["members"][0]["id"],
        "plan_id": plan["id"],
        "item_id": plan["items"][0]["id"],
        "seminar_id": seminar["id"],
        "publication_id": await publication(client, "KH"),
    }


@dataclass
class TwoCountries:
    uz: dict[str, str]  # path parameters naming Uzbek objects (and shared ones)
    kh: dict[str, str]  # the same names for Cambodian objects
    uz_ids: set[str]  # every id of an Uzbek object
    kh_ids: set[str]  # every id of a Cambodian object
    brand_id: str


@pytest.fixture
async def countries(
    gateway_client: httpx.AsyncClient,
    world: World,  # noqa: F811
) -> AsyncIterator[TwoCountries]:
    client = gateway_client
    uz = {**world.params_b, "publication_id": await publication(client, "UZ")}
    before = {path: await every_id(client, path) for path in COLLECTIONS}
    kh = {**uz, **await cambodia(client, uz["course_id"], world.brand_x)}
    after = {path: await every_id(client, path) for path in COLLECTIONS}
    kh_ids = set().union(*(after[p] - before[p] for p in COLLECTIONS)) | {
        kh["consent_id"],
        kh["member_id"],
    }
    uz_ids = set().union(*before.values()) | {uz["consent_id"], uz["member_id"]}
    assert {uz[name] for name in COUNTRY_OWNED} <= uz_ids
    assert {kh[name] for name in COUNTRY_OWNED} <= kh_ids
    yield TwoCountries(uz, kh, uz_ids, kh_ids, world.brand_x)


def staff_routes(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [op for op in operations(document) if "staff" in op[2]["x-access"]["roles"]]


def country_owned(path: str) -> bool:
    return bool(set(re.findall(r"\{(\w+)\}", path)) & COUNTRY_OWNED)


async def snapshot(
    client: httpx.AsyncClient, document: dict[str, Any], params: dict[str, str]
) -> dict[str, tuple[int, Any]]:
    """What admin reads of every object named by ``params``: equal before and after means
    nothing changed."""
    reads = {}
    for method, path, _ in operations(document):
        if method == "GET" and country_owned(path) and "/audit/" not in path:
            url = fill(path, params)
            response = await client.get(url, params=QUERIES.get(path), headers=ADMIN)
            body = response.json() if response.status_code == 200 else None
            reads[url] = (response.status_code, body)
    return reads


async def test_staff_of_another_country_get_404_for_every_object_and_change_nothing(
    gateway_client: httpx.AsyncClient, countries: TwoCountries
) -> None:
    client = gateway_client
    document = (await client.get("/openapi.json")).json()
    before = await snapshot(client, document, countries.uz)
    wrong: list[str] = []
    for method, path, _ in staff_routes(document):
        if not country_owned(path):
            continue
        url = fill(path, countries.uz)
        body = valid_body(method, path, countries.brand_id)
        for if_match in ("*", STALE) if method != "GET" else ("*",):
            response = await client.request(
                method,
                url,
                json=body,
                params=QUERIES.get(path),
                headers={**STAFF_KH, "if-match": if_match},
            )
            if response.status_code != 404:
                wrong.append(f"{method} {path} If-Match {if_match}: {response.status_code}")
            elif "etag" in response.headers or ".v" in response.text:
                wrong.append(f"{method} {path}: the 404 hands over a version")
    assert wrong == [], "\n".join(wrong)
    assert await snapshot(client, document, countries.uz) == before


async def test_staff_of_another_country_never_see_its_ids_in_any_answer(
    gateway_client: httpx.AsyncClient, countries: TwoCountries
) -> None:
    client = gateway_client
    document = (await client.get("/openapi.json")).json()
    leaks: list[str] = []
    for headers, params, theirs in (
        (STAFF_KH, countries.uz, countries.uz_ids),
        (STAFF_UZ, countries.kh, countries.kh_ids),
    ):
        for method, path, operation in staff_routes(document):
            if method != "GET":
                continue
            url = fill(path, params)
            queries = [QUERIES.get(path, {})] + [
                {"factory_id": params["factory_id"]}
                for p in operation.get("parameters", [])
                if p["name"] == "factory_id" and p["in"] == "query"
            ]
            for query in queries:
                response = await client.get(url, params=query, headers=headers)
                # A 404 may echo the id asked for; anything else of theirs is a leak.
                shown = {i for i in theirs if i in response.text and i not in url}
                if shown or response.status_code >= 500:
                    leaks.append(f"GET {path} {query}: {response.status_code} {sorted(shown)[:3]}")
    assert leaks == [], "\n".join(leaks)


async def test_staff_of_the_country_read_and_write_its_objects(
    gateway_client: httpx.AsyncClient, countries: TwoCountries
) -> None:
    client = gateway_client
    document = (await client.get("/openapi.json")).json()
    listed = set()
    for path in COLLECTIONS:
        response = await client.get(path, params={"limit": 500}, headers=STAFF_UZ)
        listed |= {row["id"] for row in response.json()["items"]}
    assert listed & countries.uz_ids and not listed & countries.kh_ids
    refused: list[str] = []
    for method, path, operation in staff_routes(document):
        if not country_owned(path):
            continue
        body = valid_body(method, path, countries.brand_id)
        response = await client.request(
            method,
            fill(path, countries.uz),
            json=body,
            params=QUERIES.get(path),
            headers={**STAFF_UZ, "if-match": STALE},
        )
        # In scope: a read answers; a write gets past the scope to If-Match (412), or, for a
        # route that needs none, to its own rules.
        exempt = "x-if-match-exempt" in operation
        if method == "GET":
            as_admin = await client.get(response.request.url, headers=ADMIN)
            if response.status_code != as_admin.status_code:
                refused.append(f"GET {path}: {response.status_code}, admin {as_admin.status_code}")
        elif (method != "GET" and response.status_code in (401, 403, 404)) or (
            response.status_code >= 500
        ):
            refused.append(f"{method} {path}: {response.status_code}")
        elif method != "GET" and not exempt and response.status_code not in (412, 428):
            refused.append(f"{method} {path}: {response.status_code}, expected 412")
    assert refused == [], "\n".join(refused)
    visit = f"/v1/advisory-visits/{countries.uz['visit_id']}"
    changed = await client.patch(
        visit, json={"notes": "Kuzatuv"}, headers={**STAFF_UZ, "if-match": "*"}
    )
    assert changed.status_code == 200 and changed.json()["notes"] == "Kuzatuv"


async def test_every_path_parameter_is_classified_as_country_owned_or_not(
    gateway_client: httpx.AsyncClient,
) -> None:
    """A route added later with a new kind of object cannot slip past this matrix: its path
    parameter must be declared here, country-owned (and walked above) or not."""
    document = (await gateway_client.get("/openapi.json")).json()
    named = {name for path in document["paths"] for name in re.findall(r"\{(\w+)\}", path)}
    assert named - COUNTRY_OWNED - NOT_COUNTRY_OWNED == set()
    assert not COUNTRY_OWNED & NOT_COUNTRY_OWNED
