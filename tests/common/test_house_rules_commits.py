"""Each write commits exactly once, walked over every write operation of the merged OpenAPI.

The rule (services/README.md, docs/adr/0003): a service function commits its rows and their
outbox event together, once; a keyed POST (Idempotency-Key) commits once too, the unit of work
holding the write and the remembered response. Two commits would let a crash in between leave a
row without its event, or a key without its write. Counted here as real transaction commits on
each service's engine (a savepoint released inside a unit of work is not one), while an admin
calls every POST, PUT, PATCH and DELETE of the seeded demo with a body built from its schema:
a success must commit exactly once across all three services, a refusal never.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import event

from services.common.db import Database
from tests.gateway.test_access_matrix import World, fill, operations, world  # noqa: F401 - fixture
from tests.gateway.test_preconditions import readable_above, resolve, snapshot
from tests.support import auth_header

ADMIN = auth_header("admin")
WRITES = {"POST", "PUT", "PATCH", "DELETE"}

# Writes that must succeed in the walk, so it cannot pass by refusing everything; one or more
# per resource package, both plain and keyed POSTs, PATCH and PUT.
MUST_SUCCEED = {
    ("POST", "/v1/factories"),
    ("PATCH", "/v1/factories/{factory_id}"),
    ("POST", "/v1/brands"),
    ("PATCH", "/v1/brands/{brand_id}"),
    ("PATCH", "/v1/assessments/{assessment_id}"),
    ("POST", "/v1/assessments/{assessment_id}/transitions"),
    ("PUT", "/v1/assessments/{assessment_id}/findings"),
    ("PUT", "/v1/assessments/{assessment_id}/findings/{question_code}"),
    ("PUT", "/v1/assessments/{assessment_id}/findings/{question_code}"),
    ("POST", "/v1/courses"),
    ("PATCH", "/v1/courses/{course_id}"),
    ("PATCH", "/v1/training-sessions/{session_id}"),
    ("PATCH", "/v1/advisory-visits/{visit_id}"),
    ("PATCH", "/v1/committees/{committee_id}"),
    ("POST", "/v1/seminars"),
    ("PATCH", "/v1/seminars/{seminar_id}"),
    ("PATCH", "/v1/improvement-plans/{plan_id}/items/{item_id}"),
    ("PATCH", "/v1/committees/{committee_id}/members/{member_id}"),
    ("POST", "/v1/committees/{committee_id}/members"),
    ("POST", "/v1/factories/{factory_id}/consents/{consent_id}/revoke"),
    ("PUT", "/v1/training-sessions/{session_id}/attendance"),
}


# Bodies the schema alone would not make valid for the demo's objects.
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/v1/assessments/{assessment_id}/transitions"): {"to": "in_progress"},
    ("PUT", "/v1/assessments/{assessment_id}/findings/{question_code}"): {"non_compliant": False},
}
# Creates whose new object the walk goes on with: the demo's assessment is published, so its
# updates and findings are refused; a new one (scheduled, then in_progress) takes them.
ADOPT = {("POST", "/v1/assessments"): "assessment_id"}
CURRENT_ETAG = re.compile(r"current ETag (\"[^\"]+\")")


class CommitCounter:
    """Counts transaction commits on the engines of the service databases."""

    def __init__(self, databases: dict[str, Database]) -> None:
        self.databases = databases
        self.counts = dict.fromkeys(databases, 0)

    def _listener(self, name: str) -> Any:
        def on_commit(_connection: Any) -> None:
            self.counts[name] += 1

        return on_commit

    @contextmanager
    def listening(self) -> Iterator[CommitCounter]:
        listeners = {name: self._listener(name) for name in self.databases}
        for name, database in self.databases.items():
            event.listen(database.engine.sync_engine, "commit", listeners[name])
        try:
            yield self
        finally:
            for name, database in self.databases.items():
                event.remove(database.engine.sync_engine, "commit", listeners[name])

    def take(self) -> dict[str, int]:
        """The commits since the last call, by service (those with none left out)."""
        taken = {name: count for name, count in self.counts.items() if count}
        self.counts = dict.fromkeys(self.databases, 0)
        return taken


def sample(document: dict[str, Any], schema: dict[str, Any], params: dict[str, str]) -> Any:
    """The smallest value the schema accepts, with ids of the demo's real objects where a
    property names one (``factory_id``, ``factory_ids``), so that creates can succeed."""
    schema = resolve(document, schema)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"]
            return sample(document, options[0], params) if options else None
    if "allOf" in schema:
        return sample(document, schema["allOf"][0], params)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        # A record without factories (a seminar) names its country, or an admin is asked to.
        wanted = [*schema.get("required", []), *(["country"] if "country" in properties else [])]
        return {
            name: named(name, params) or sample(document, properties[name], params)
            for name in dict.fromkeys(wanted)
        }
    if kind == "array":
        return [sample(document, schema["items"], params) for _ in range(schema.get("minItems", 0))]
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
        return "x" + uuid.uuid4().hex[: max(schema.get("minLength", 1), 8) - 1]
    return None


def named(name: str, params: dict[str, str]) -> Any:
    if name in params:
        return params[name]
    if name.endswith("_ids") and name.removesuffix("s") in params:
        return [params[name.removesuffix("s")]]
    return None


def request_body(document: dict[str, Any], method: str, path: str, params: dict[str, str]) -> Any:
    if (method, path) in BODIES:
        return BODIES[(method, path)]
    operation = document["paths"][path][method.lower()]
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema")
    return None if schema is None else sample(document, schema, params)


def current_etag(response: httpx.Response) -> str | None:
    """The current ETag a 412 names in its detail."""
    match = CURRENT_ETAG.search(response.json()["detail"])
    return match.group(1) if match else None


async def test_each_successful_write_commits_exactly_once_and_a_refused_one_never(
    gateway_client: httpx.AsyncClient,
    world: World,  # noqa: F811 - the seeded demo fixture of the access matrix, reused
    assessment_database: Database,
    training_database: Database,
    reporting_database: Database,
) -> None:
    document = (await gateway_client.get("/openapi.json")).json()
    databases = {
        "assessment": assessment_database,
        "training": training_database,
        "reporting": reporting_database,
    }
    succeeded: list[tuple[str, str]] = []
    wrong: list[str] = []
    params = dict(world.params_b)
    with CommitCounter(databases).listening() as commits:
        for method, path, _ in operations(document):
            if method not in WRITES:
                continue
            url = fill(path, params)
            above = [fill(p, params) for p in readable_above(document, path)]
            etag = next(
                (tag for status, tag, _ in await snapshot(gateway_client, above) if tag), ""
            )
            attempts = [{}, {"idempotency-key": uuid.uuid4().hex}] if method == "POST" else [{}]
            for extra in attempts:
                body = request_body(document, method, path, params)
                headers = {**ADMIN, **extra, **({"if-match": etag} if etag else {})}
                response = await gateway_client.request(method, url, json=body, headers=headers)
                if response.status_code == 412 and (
                    match := CURRENT_ETAG.search(response.json()["detail"])
                ):
                    # A child (a committee member) carries its own version: use the one named.
                    headers["if-match"] = match.group(1)
                    commits.take()
                    response = await gateway_client.request(method, url, json=body, headers=headers)
                taken = commits.take()
                label = f"{method} {path}{' (keyed)' if extra else ''} -> {response.status_code}"
                if response.is_success:
                    succeeded.append((method, path))
                    if sum(taken.values()) != 1:
                        wrong.append(f"{label}: commits {taken}, expected exactly one")
                    if (method, path) in ADOPT and not extra:
                        params[ADOPT[(method, path)]] = response.json()["id"]
                elif taken:
                    wrong.append(f"{label}: refused, yet committed {taken}: {response.text[:160]}")
                etag = response.headers.get("etag", etag)
    assert wrong == []
    assert sorted(MUST_SUCCEED - set(succeeded)) == []
    print("Committed once:", *sorted(set(succeeded)), sep="\n  ")
