"""No lost updates, walked over every operation of the merged OpenAPI document.

Every operation that changes an existing resource (PUT, PATCH and DELETE on a path with a path
parameter, and POST under one) must, as admin on a real object of the seeded demo, with an
otherwise valid body, answer 428 without If-Match and 412 with a stale and with a garbage one,
and change nothing: every resource above it reads back the same and no service's change feed
gains an event. The only way out is ``openapi_extra=if_match_exempt("reason")`` on the route
(``x-if-match-exempt`` in the document); EXEMPT below pins which routes take it, so a new
exemption is a visible change to this file.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.common.etag import IF_MATCH_EXEMPT
from tests.gateway.test_access_matrix import World, fill, operations, world  # noqa: F401 - fixture
from tests.support import auth_header

ADMIN = auth_header("admin")
CHANGING = {"PUT", "PATCH", "DELETE", "POST"}
GARBAGE = '"garbage"'

# Routes that act under an existing resource yet take no If-Match; each says why in its route.
EXEMPT = {
    ("POST", "/v1/factories/{factory_id}/consents"),
    ("POST", "/v1/factories/{factory_id}/consents/{consent_id}/revoke"),
    ("POST", "/v1/assessments/{assessment_id}/revisions"),
    ("POST", "/v1/committees/{committee_id}/members"),
    ("POST", "/v1/committees/{committee_id}/meetings"),
    ("POST", "/v1/improvement-plans/{plan_id}/items"),
    ("POST", "/v1/reports/annual/{year}/publications"),
    ("POST", "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"),
}

# A valid body where the one built from the schema would be refused (422) before the
# precondition is looked at; keyed by (method, path).
BODIES: dict[tuple[str, str], Any] = {}


def changes_existing(method: str, path: str) -> bool:
    return method in CHANGING and "{" in path


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def sample(document: dict[str, Any], schema: dict[str, Any]) -> Any:
    """The smallest value the schema accepts: required properties only, minItems items."""
    schema = resolve(document, schema)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"]
            return sample(document, options[0]) if options else None
    if "allOf" in schema:
        return sample(document, schema["allOf"][0])
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        return {name: sample(document, properties[name]) for name in schema.get("required", [])}
    if kind == "array":
        return [sample(document, schema["items"]) for _ in range(schema.get("minItems", 0))]
    if kind in ("integer", "number"):
        return max(schema.get("minimum", 1), schema.get("exclusiveMinimum", 0) + 1)
    if kind == "boolean":
        return False
    if kind == "string":
        if schema.get("format") == "date":
            return "2024-06-03"
        if schema.get("format") == "date-time":
            return "2024-06-03T09:00:00Z"
        if schema.get("pattern") == "^[A-Z]{2}$":
            return "UZ"
        return "X" * max(schema.get("minLength", 1), 1)
    return None


def body_for(document: dict[str, Any], method: str, path: str, operation: dict[str, Any]) -> Any:
    if (method, path) in BODIES:
        return BODIES[(method, path)]
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema")
    return None if schema is None else sample(document, schema)


def readable_above(document: dict[str, Any], path: str) -> list[str]:
    """Path templates with a GET from ``path`` up to its first path parameter, nearest first:
    the resource itself and the ones it belongs to (whose ETag governs it)."""
    segments = path.split("/")
    found = []
    for end in range(len(segments), 1, -1):
        candidate = "/".join(segments[:end])
        if "{" not in candidate:
            break
        if "get" in document["paths"].get(candidate, {}):
            found.append(candidate)
    return found


def stale(etag: str) -> str:
    """The ETag of the version before (``"id.vN"`` -> ``"id.vN-1"``)."""
    match = re.fullmatch(r'(W/)?"(.*)\.v(\d+)"', etag)
    if match is None:
        return etag[:-1] + '-before"'
    return f'"{match.group(2)}.v{int(match.group(3)) - 1}"'


@pytest.fixture
async def feeds(
    assessment_app: FastAPI, training_app: FastAPI, reporting_app: FastAPI
) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """The services' change feeds (not routed by the gateway), read in-process."""
    apps = {"assessment": assessment_app, "training": training_app, "reporting": reporting_app}
    clients = {
        name: httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}")
        for name, app in apps.items()
    }
    yield clients
    for client in clients.values():
        await client.aclose()


async def last_event_ids(feeds: dict[str, httpx.AsyncClient]) -> dict[str, str]:
    """Each feed's cursor after its last event (an id on SQLite, ``<txid>.<id>`` on PostgreSQL)."""
    last = {}
    for name, client in feeds.items():
        after, more = "0", True
        while more:
            page = await client.get(
                "/internal/v1/changes", params={"after": after, "limit": 1000}, headers=ADMIN
            )
            assert page.status_code == 200, page.text
            after, more = page.json()["next_cursor"], page.json()["has_more"]
        last[name] = after
    return last


async def services_with_new_events(
    feeds: dict[str, httpx.AsyncClient], last: dict[str, str]
) -> list[str]:
    changed = []
    for name, client in feeds.items():
        page = await client.get(
            "/internal/v1/changes", params={"after": last[name], "limit": 1}, headers=ADMIN
        )
        assert page.status_code == 200, page.text
        if page.json()["items"]:
            changed.append(name)
    return changed


async def snapshot(client: httpx.AsyncClient, urls: list[str]) -> list[tuple[int, str, Any]]:
    responses = [await client.get(url, headers=ADMIN) for url in urls]
    return [(r.status_code, r.headers.get("etag", ""), r.text) for r in responses]


async def test_every_change_to_an_existing_resource_needs_a_current_etag(
    gateway_client: httpx.AsyncClient,
    world: World,  # noqa: F811 - the seeded demo fixture of the access matrix, reused
    feeds: dict[str, httpx.AsyncClient],
) -> None:
    document = (await gateway_client.get("/openapi.json")).json()
    exempt: dict[tuple[str, str], Any] = {}
    checked: list[tuple[str, str]] = []
    failures: list[str] = []
    events = await last_event_ids(feeds)
    for method, path, operation in operations(document):
        if not changes_existing(method, path):
            continue
        if IF_MATCH_EXEMPT in operation:
            exempt[(method, path)] = operation[IF_MATCH_EXEMPT]
            continue
        checked.append((method, path))
        url = fill(path, world.params_b)
        above = [fill(p, world.params_b) for p in readable_above(document, path)]
        before = await snapshot(gateway_client, above)
        governing = next((etag for status, etag, _ in before if status == 200 and etag), None)
        if governing is None:
            failures.append(f"{method} {path}: no ETag on it or on any resource it belongs to")
            continue
        body = body_for(document, method, path, operation)
        for if_match, expected in ((None, 428), (stale(governing), 412), (GARBAGE, 412)):
            headers = ADMIN if if_match is None else {**ADMIN, "if-match": if_match}
            response = await gateway_client.request(method, url, json=body, headers=headers)
            if response.status_code != expected:
                failures.append(
                    f"{method} {path} with If-Match {if_match}: {response.status_code}, "
                    f"expected {expected}: {response.text[:200]}"
                )
            elif not response.headers["content-type"].startswith("application/problem+json"):
                failures.append(f"{method} {path}: {expected} is not problem+json")
        if await snapshot(gateway_client, above) != before:
            failures.append(f"{method} {path}: a refused write changed {above}")
        if changed := await services_with_new_events(feeds, events):
            failures.append(f"{method} {path}: a refused write added events to {changed}")
            events = await last_event_ids(feeds)
    assert failures == []
    # Exemptions are few, pinned and explained.
    assert set(exempt) == EXEMPT, "exemptions changed: review them, then update EXEMPT"
    unexplained = [route for route, reason in exempt.items() if not str(reason or "").strip()]
    assert unexplained == []
    # The walk covered the routes that matter, not nothing.
    assert ("PUT", "/v1/assessments/{assessment_id}/findings") in checked
    assert ("PATCH", "/v1/factories/{factory_id}") in checked
    print("If-Match required:", *sorted(checked), sep="\n  ")
    print(
        "If-Match exempt:", *(f"{m} {p}: {r}" for (m, p), r in sorted(exempt.items())), sep="\n  "
    )
