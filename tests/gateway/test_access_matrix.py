"""Who may call what, walked over every operation of the merged OpenAPI document.

ACCESS is the table of record: every public operation and the roles allowed to call it. A
route missing from the table, or whose declared access differs from it, fails; every role
outside a route's audience is refused (401/403), every role inside is let through; and a
factory or brand caller asking for another factory's objects sees nothing of them.
Country-limited staff get the same walk in test_access_matrix_countries.py (its own world: the
demo plus a factory of another country), which reuses this module's world and helpers.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.assessment.seeding import seed_demo as seed_assessment
from services.common.db import Database
from services.training.seed import seed_demo as seed_training
from tests.support import auth_header

EVERYONE = "admin staff service constituent factory brand"
READ_OBJECTS = "admin staff service factory brand"
OPS = "admin staff service factory"
WRITE = "admin staff"
PUBLIC = EVERYONE + " anonymous"
HOOKS = "admin service brand"

ACCESS: dict[tuple[str, str], str] = {
    ("POST", "/v1/factories"): WRITE,
    ("GET", "/v1/factories"): READ_OBJECTS,
    ("GET", "/v1/factories/{factory_id}"): READ_OBJECTS,
    ("PATCH", "/v1/factories/{factory_id}"): WRITE,
    ("POST", "/v1/factories/{factory_id}/consents"): "admin staff factory",
    ("GET", "/v1/factories/{factory_id}/consents"): "admin staff service factory",
    ("POST", "/v1/factories/{factory_id}/consents/{consent_id}/revoke"): "admin staff factory",
    ("POST", "/v1/brands"): WRITE,
    ("GET", "/v1/brands"): READ_OBJECTS,
    ("GET", "/v1/brands/{brand_id}"): READ_OBJECTS,
    ("PATCH", "/v1/brands/{brand_id}"): WRITE,
    ("POST", "/v1/catalogs"): WRITE,
    ("GET", "/v1/catalogs"): EVERYONE,
    ("GET", "/v1/catalogs/{catalog_id}"): EVERYONE,
    ("PUT", "/v1/catalogs/{catalog_id}"): WRITE,
    ("GET", "/v1/catalogs/{catalog_id}/thresholds/{name}"): EVERYONE,
    ("POST", "/v1/catalogs/{catalog_id}/publish"): WRITE,
    ("POST", "/v1/assessments"): WRITE,
    ("GET", "/v1/assessments"): READ_OBJECTS,
    ("GET", "/v1/assessments/{assessment_id}"): READ_OBJECTS,
    ("PATCH", "/v1/assessments/{assessment_id}"): WRITE,
    ("POST", "/v1/assessments/{assessment_id}/transitions"): WRITE,
    ("GET", "/v1/assessments/{assessment_id}/transitions"): "admin staff service",
    ("POST", "/v1/assessments/{assessment_id}/revisions"): WRITE,
    ("PUT", "/v1/assessments/{assessment_id}/findings"): WRITE,
    ("GET", "/v1/assessments/{assessment_id}/findings"): READ_OBJECTS,
    ("PUT", "/v1/assessments/{assessment_id}/findings/{question_code}"): WRITE,
    ("GET", "/v1/assessments/{assessment_id}/findings/{question_code}"): READ_OBJECTS,
    ("GET", "/v1/assessments/{assessment_id}/results"): READ_OBJECTS,
    ("GET", "/v1/audit/assessment/events"): "admin",
    ("POST", "/v1/courses"): WRITE,
    ("GET", "/v1/courses"): EVERYONE,
    ("GET", "/v1/courses/{course_id}"): EVERYONE,
    ("PATCH", "/v1/courses/{course_id}"): WRITE,
    ("POST", "/v1/training-sessions"): WRITE,
    ("GET", "/v1/training-sessions"): OPS,
    ("GET", "/v1/training-sessions/{session_id}"): OPS,
    ("PATCH", "/v1/training-sessions/{session_id}"): WRITE,
    ("PUT", "/v1/training-sessions/{session_id}/attendance"): WRITE,
    ("GET", "/v1/training-sessions/{session_id}/attendance"): OPS,
    ("GET", "/v1/training-sessions/{session_id}/participant-counts"): OPS,
    ("POST", "/v1/advisory-visits"): WRITE,
    ("GET", "/v1/advisory-visits"): OPS,
    ("GET", "/v1/advisory-visits/{visit_id}"): OPS,
    ("PATCH", "/v1/advisory-visits/{visit_id}"): WRITE,
    ("POST", "/v1/committees"): WRITE,
    ("GET", "/v1/committees"): OPS,
    ("GET", "/v1/committees/{committee_id}"): OPS,
    ("PATCH", "/v1/committees/{committee_id}"): WRITE,
    ("POST", "/v1/committees/{committee_id}/members"): WRITE,
    ("PATCH", "/v1/committees/{committee_id}/members/{member_id}"): WRITE,
    ("POST", "/v1/committees/{committee_id}/meetings"): WRITE,
    ("GET", "/v1/committees/{committee_id}/meetings"): OPS,
    ("POST", "/v1/improvement-plans"): WRITE,
    ("GET", "/v1/improvement-plans"): OPS,
    ("GET", "/v1/improvement-plans/items"): OPS,
    ("GET", "/v1/improvement-plans/{plan_id}"): OPS,
    ("POST", "/v1/improvement-plans/{plan_id}/items"): WRITE,
    ("GET", "/v1/improvement-plans/{plan_id}/items"): OPS,
    ("PATCH", "/v1/improvement-plans/{plan_id}/items/{item_id}"): "admin staff factory",
    ("POST", "/v1/seminars"): WRITE,
    ("GET", "/v1/seminars"): "admin staff service constituent",
    ("GET", "/v1/seminars/{seminar_id}"): "admin staff service constituent",
    ("PATCH", "/v1/seminars/{seminar_id}"): WRITE,
    ("GET", "/v1/audit/training/events"): "admin",
    ("GET", "/v1/reports/freshness"): PUBLIC,
    ("GET", "/v1/reports/non-compliance/clusters"): PUBLIC,
    ("GET", "/v1/reports/non-compliance/compliance-points"): PUBLIC,
    ("GET", "/v1/reports/non-compliance/questions"): PUBLIC,
    ("GET", "/v1/reports/non-compliance/trends"): PUBLIC,
    ("GET", "/v1/reports/activity"): PUBLIC,
    ("GET", "/v1/reports/annual/{year}"): PUBLIC,
    ("POST", "/v1/reports/annual/{year}/publications"): WRITE,
    ("GET", "/v1/reports/annual/{year}/publications"): PUBLIC,
    ("GET", "/v1/reports/annual/{year}/publications/{publication_id}"): PUBLIC,
    ("GET", "/v1/audit/reporting/events"): "admin",
    ("GET", "/v1/webhooks/event-types"): HOOKS,
    ("POST", "/v1/webhooks"): HOOKS,
    ("GET", "/v1/webhooks"): HOOKS,
    ("GET", "/v1/webhooks/{webhook_id}"): HOOKS,
    ("PATCH", "/v1/webhooks/{webhook_id}"): HOOKS,
    ("DELETE", "/v1/webhooks/{webhook_id}"): HOOKS,
    ("POST", "/v1/webhooks/{webhook_id}/rotate"): HOOKS,
    ("GET", "/v1/webhooks/{webhook_id}/deliveries"): HOOKS,
    ("GET", "/v1/webhooks/{webhook_id}/attempts"): HOOKS,
    ("POST", "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"): HOOKS,
}

ROLES = ["anonymous", "admin", "staff", "service", "constituent", "factory", "brand"]
# Path parameters that name an object belonging to one factory.
FACTORY_OWNED = {
    "factory_id",
    "consent_id",
    "assessment_id",
    "session_id",
    "visit_id",
    "committee_id",
    "member_id",
    "plan_id",
    "item_id",
}
METHODS = {"get", "post", "put", "patch", "delete"}


@dataclass
class World:
    """Demo data, seen from factory A (the caller's own) and factory B (someone else's)."""

    factory_a: str
    factory_b: str
    brand_x: str  # shares with A only
    params_b: dict[str, str]  # path parameters naming B's objects (or shared ones)
    secrets_b: set[str]  # ids of B's objects that A's and X's callers must never see

    def headers(self, role: str) -> dict[str, str]:
        if role == "anonymous":
            return {}
        if role == "factory":
            return auth_header("factory", factory_id=self.factory_a)
        if role == "brand":
            return auth_header("brand", brand_id=self.brand_x)
        return auth_header(role)


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


async def items(client: httpx.AsyncClient, path: str) -> list[dict[str, Any]]:
    response = await client.get(path, headers=auth_header("admin"))
    assert response.status_code == 200, (path, response.text)
    return response.json()["items"]  # type: ignore[no-any-return]


@pytest.fixture
async def world(
    gateway_client: httpx.AsyncClient,
    assessment_database: Database,
    training_database: Database,
) -> AsyncIterator[World]:
    demo = await seed_assessment(assessment_database, 2024)
    await seed_training(training_database, demo.factories, demo.assessments, seed=2024)
    client = gateway_client
    factories = [f["id"] for f in demo.factories]
    consents = {f: await items(client, f"/v1/factories/{f}/consents") for f in factories}
    active = {
        f: {c["brand_id"] for c in cs if not c.get("revoked_at")} for f, cs in consents.items()
    }
    # A brand that A shares with and B does not.
    factory_a, factory_b, brand_x = next(
        (a, b, x)
        for a in factories
        for b in factories
        if a != b
        for x in sorted(active[a] - active[b])
    )
    assessment_b = next(a["id"] for a in demo.assessments if a["factory_id"] == factory_b)
    session_b = next(
        s
        for s in await items(client, f"/v1/training-sessions?factory_id={factory_b}&limit=200")
        if s["factory_ids"] == [factory_b]
    )
    visit_b = (await items(client, f"/v1/advisory-visits?factory_id={factory_b}"))[0]
    committee_b = (await items(client, f"/v1/committees?factory_id={factory_b}"))[0]
    committee_b = (
        await client.get(f"/v1/committees/{committee_b['id']}", headers=auth_header("admin"))
    ).json()
    plan_b = (await items(client, f"/v1/improvement-plans?factory_id={factory_b}"))[0]
    item_b = (await items(client, f"/v1/improvement-plans/{plan_b['id']}/items"))[0]
    consent_b = consents[factory_b][0]
    params_b = {
        "factory_id": factory_b,
        "consent_id": consent_b["id"],
        "assessment_id": assessment_b,
        "question_code": "CL-1-1",
        "session_id": session_b["id"],
        "visit_id": visit_b["id"],
        "committee_id": committee_b["id"],
        "member_id": committee_b["members"][0]["id"],
        "plan_id": plan_b["id"],
        "item_id": item_b["id"],
        "catalog_id": demo.catalog_id or "",
        "name": "minimum_wage",
        "brand_id": brand_x,
        "course_id": (await items(client, "/v1/courses"))[0]["id"],
        "seminar_id": (await items(client, "/v1/seminars"))[0]["id"],
        "year": "2024",
        "publication_id": "pub_does_not_exist",
        "webhook_id": await admin_webhook(client),
        "delivery_id": "msg_does_not_exist",
    }
    secrets = {
        factory_b,
        assessment_b,
        session_b["id"],
        visit_b["id"],
        committee_b["id"],
        plan_b["id"],
        item_b["id"],
        consent_b["id"],
    }
    yield World(factory_a, factory_b, brand_x, params_b, secrets)


async def admin_webhook(client: httpx.AsyncClient) -> str:
    """A subscription of the admin's (a public IP literal: nothing is sent in-process)."""
    body = {"url": "https://93.184.215.14/hook", "event_types": ["factory.changed"]}
    response = await client.post("/v1/webhooks", json=body, headers=auth_header("admin"))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def fill(path: str, params: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: params[m.group(1)], path)


async def call(
    client: httpx.AsyncClient, method: str, path: str, headers: dict[str, str]
) -> httpx.Response:
    body = {} if method in {"POST", "PUT", "PATCH"} else None
    return await client.request(method, path, json=body, headers={**headers, "if-match": "*"})


async def test_the_table_lists_every_public_operation_with_its_declared_access(
    gateway_client: httpx.AsyncClient,
) -> None:
    document = (await gateway_client.get("/openapi.json")).json()
    declared = {
        (method, path): " ".join(
            sorted(op["x-access"]["roles"] + (["anonymous"] if op["x-access"]["anonymous"] else []))
        )
        for method, path, op in operations(document)
    }
    expected = {key: " ".join(sorted(value.split())) for key, value in ACCESS.items()}
    assert sorted(set(declared) - set(expected)) == [], "routes missing from ACCESS"
    assert sorted(set(expected) - set(declared)) == [], "ACCESS lists routes that do not exist"
    assert {k: v for k, v in declared.items() if v != expected[k]} == {}


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_is_refused_outside_its_routes_and_let_in_within(
    gateway_client: httpx.AsyncClient, world: World, role: str, gateway_app: FastAPI
) -> None:
    wrong: list[str] = []
    for (method, path), audience in ACCESS.items():
        response = await call(
            gateway_client, method, fill(path, world.params_b), world.headers(role)
        )
        allowed = role in audience.split()
        refused = response.status_code in (401, 403)
        if role == "anonymous" and not allowed and response.status_code != 401:
            wrong.append(f"{method} {path}: anonymous got {response.status_code}, expected 401")
        elif role != "anonymous" and not allowed and response.status_code != 403:
            wrong.append(f"{method} {path}: {role} got {response.status_code}, expected 403")
        elif allowed and refused:
            wrong.append(
                f"{method} {path}: {role} is in the audience but got {response.status_code}"
            )
        elif response.status_code >= 500:
            wrong.append(f"{method} {path}: {role} got {response.status_code}")
    assert wrong == []


@pytest.mark.parametrize("role", ["factory", "brand"])
async def test_factory_and_brand_callers_see_nothing_of_another_factory(
    gateway_client: httpx.AsyncClient, world: World, role: str
) -> None:
    leaks: list[str] = []
    for (method, path), audience in ACCESS.items():
        if role not in audience.split():
            continue
        names = set(re.findall(r"\{(\w+)\}", path))
        url = fill(path, world.params_b)
        response = await call(gateway_client, method, url, world.headers(role))
        # An error may echo the id the caller sent; anything else of B's is a leak.
        secrets = {secret for secret in world.secrets_b if secret not in url}
        if names & FACTORY_OWNED:
            hidden = {404} if method == "GET" else {404, 422}
            if response.status_code not in hidden:
                leaks.append(f"{method} {path}: {response.status_code} for B's object")
        if method == "GET" and any(secret in response.text for secret in secrets):
            leaks.append(f"{method} {path}: the response names one of B's objects")
    assert leaks == []


async def test_a_brand_sees_the_factory_that_shares_with_it(
    gateway_client: httpx.AsyncClient, world: World
) -> None:
    brand = world.headers("brand")
    own = await gateway_client.get(f"/v1/factories/{world.factory_a}", headers=brand)
    other = await gateway_client.get(f"/v1/factories/{world.factory_b}", headers=brand)
    listed = await gateway_client.get("/v1/factories", headers=brand)
    assert own.status_code == 200 and other.status_code == 404
    assert world.factory_a in {f["id"] for f in listed.json()["items"]}
    assert world.factory_b not in listed.text
