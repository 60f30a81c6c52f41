"""The merged OpenAPI document is a contract clients are generated from (docs/api-conventions.md):
readable operation ids by one rule, named schemas, enums, and on each operation the headers and
errors it really has, checked here against the rule and against real responses."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from services.common.etag import IF_MATCH_EXEMPT
from services.common.problems import PROBLEM_CONTENT_TYPE, problem_type
from tests.assessment.builders import new_assessment, published_catalog
from tests.gateway.test_access_matrix import operations
from tests.gateway.test_preconditions import changes_existing
from tests.support import auth_header

ADMIN = auth_header("admin")
ALL_ROLES = {"admin", "staff", "factory", "brand", "constituent", "service"}
VERBS = {"GET": {"list", "get"}, "PUT": {"replace"}, "PATCH": {"update"}, "DELETE": {"delete"}}
CONTRACT_HEADERS = ("etag", "location", "idempotent-replayed", "retry-after", "x-request-id")


@pytest.fixture
async def document(gateway_client: httpx.AsyncClient) -> dict[str, Any]:
    response = await gateway_client.get("/openapi.json")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def header_params(operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "header"}


def success_schema(operation: dict[str, Any]) -> str:
    for status in ("200", "201"):
        content = operation["responses"].get(status, {}).get("content", {})
        ref = content.get("application/json", {}).get("schema", {}).get("$ref", "")
        if ref:
            return str(ref.rsplit("/", 1)[-1])
    return ""


def nouns(path: str) -> list[str]:
    return [s for s in path.split("/") if s and s != "v1" and not s.startswith("{")]


def camel(segment: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_]", segment))


# --- names -----------------------------------------------------------------------------------


async def test_operation_ids_are_unique_and_follow_the_one_rule(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in operations(document)]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    for method, path, operation in operations(document):
        op_id = operation["operationId"]
        verb = re.match(r"[a-z]+", op_id)
        assert verb is not None and re.fullmatch(r"[a-z]+(?:[A-Z][a-z0-9]*)+", op_id), op_id
        action = path.rsplit("/", 1)[-1]
        if method == "POST":
            expected = {action} if not action.endswith("s") and "{" not in action else {"create"}
        else:
            expected = VERBS[method]
        assert verb.group(0) in expected, (method, path, op_id)
        if method == "GET":
            is_page = success_schema(operation).endswith("Page")
            assert (verb.group(0) == "list") == is_page, (path, op_id, success_schema(operation))
        # Every resource noun of the path appears, in order, singular or plural.
        words = [n for n in nouns(path) if n != verb.group(0)]
        pattern = "".join(re.escape(re.sub("(ies|s)$", "", camel(n))) + "[a-z]*" for n in words)
        assert re.fullmatch(verb.group(0) + pattern, op_id), (path, op_id)


async def test_the_ids_a_frontend_calls_read_as_what_they_do(document: dict[str, Any]) -> None:
    by_route = {(m, p): op["operationId"] for m, p, op in operations(document)}
    assert by_route[("GET", "/v1/factories")] == "listFactories"
    assert by_route[("POST", "/v1/factories")] == "createFactory"
    assert by_route[("GET", "/v1/factories/{factory_id}")] == "getFactory"
    assert by_route[("PATCH", "/v1/factories/{factory_id}")] == "updateFactory"
    transitions = "/v1/assessments/{assessment_id}/transitions"
    assert by_route[("POST", transitions)] == "createAssessmentTransition"
    revoke = "/v1/factories/{factory_id}/consents/{consent_id}/revoke"
    assert by_route[("POST", revoke)] == "revokeFactoryConsent"
    assert by_route[("POST", "/v1/catalogs/{catalog_id}/publish")] == "publishCatalog"


async def test_schemas_have_names_a_generated_client_can_use(document: dict[str, Any]) -> None:
    names = set(document["components"]["schemas"])
    assert not [n for n in names if not re.fullmatch(r"[A-Z][A-Za-z0-9]*", n)]
    assert {"FactoryPage", "AssessmentPage", "ClusterRateReport", "AssessmentStatus"} <= names
    assert "Status" not in names


async def test_internal_routes_and_their_schemas_are_not_published(
    document: dict[str, Any],
) -> None:
    assert not [p for p in document["paths"] if p.startswith("/internal")]
    assert not {"ChangeEvent", "ChangePage"} & set(document["components"]["schemas"])


async def test_read_models_type_their_enumerations(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assessment = schemas["AssessmentRead"]["properties"]
    assert assessment["status"] == {"$ref": "#/components/schemas/AssessmentStatus"}
    assert assessment["allowed_transitions"]["items"] == {
        "$ref": "#/components/schemas/AssessmentStatus"
    }
    assert assessment["visit_type"] == {"$ref": "#/components/schemas/VisitType"}
    assert schemas["AssessmentStatus"]["enum"] == [
        "scheduled", "in_progress", "draft", "factory_review", "published", "cancelled"
    ]  # fmt: skip
    factory = schemas["FactoryRead"]["properties"]
    assert factory["participation_status"] == {"$ref": "#/components/schemas/ParticipationStatus"}


# --- headers and errors, by the rule ---------------------------------------------------------


def expected_errors(method: str, path: str, operation: dict[str, Any]) -> set[str]:
    """The rule of docs/api-conventions.md, restated from what the document says of a route."""
    params = operation.get("parameters", [])
    has_body = "requestBody" in operation
    has_query = any(p["in"] == "query" for p in params)
    has_path = "{" in path
    access = operation["x-access"]
    keyed = method == "POST"  # the Idempotency-Key middleware answers any keyed POST
    # 400: every route refuses a query parameter it does not declare.
    errors = {"400", "401", "429", "503", "504"}
    if not (access["anonymous"] and set(access["roles"]) >= ALL_ROLES):
        errors.add("403")
    if has_path:
        errors.add("404")
    if method != "GET":
        errors |= {"409", "502"}  # 502: from the gateway, a write's answer cut off
    if changes_existing(method, path) and IF_MATCH_EXEMPT not in operation:
        errors |= {"412", "428"}
    if has_body:
        errors.add("413")
    if has_body or has_query or has_path or keyed:
        errors.add("422")
    return errors


async def test_each_operation_declares_the_headers_and_errors_it_has(
    document: dict[str, Any],
) -> None:
    failures: list[str] = []
    for method, path, operation in operations(document):
        where = f"{method} {path}"
        responses = operation["responses"]
        headers = header_params(operation)
        errors = {s for s in responses if int(s) >= 400}
        if errors != expected_errors(method, path, operation):
            failures.append(f"{where}: errors {sorted(errors)}")
        conditional = changes_existing(method, path) and IF_MATCH_EXEMPT not in operation
        if conditional != headers.get("If-Match", {}).get("required", False):
            failures.append(f"{where}: If-Match declared {('If-Match' in headers)}")
        creates = method == "POST" and "201" in responses
        if creates != ("Idempotency-Key" in headers):
            failures.append(f"{where}: Idempotency-Key declared {'Idempotency-Key' in headers}")
        if "X-Request-ID" not in headers:
            failures.append(f"{where}: no X-Request-ID parameter")
        for status, response in responses.items():
            declared = set(response.get("headers", {}))
            if "X-Request-ID" not in declared:
                failures.append(f"{where} {status}: no X-Request-ID header")
            if status in ("429", "503") and "Retry-After" not in declared:
                failures.append(f"{where} {status}: no Retry-After header")
            if int(status) >= 400:
                media = response["content"][PROBLEM_CONTENT_TYPE]
                if media["example"]["type"] != problem_type(int(status)):
                    failures.append(f"{where} {status}: problem type {media['example']['type']}")
        success = responses.get("201") or responses.get("200") or {}
        if creates and not {"Location", "Idempotent-Replayed", "ETag"} <= set(success["headers"]):
            failures.append(f"{where}: a create without Location/Idempotent-Replayed/ETag")
        if conditional and "ETag" not in success.get("headers", {}):
            failures.append(f"{where}: a conditional write that does not answer its ETag")
    assert not failures, "\n".join(failures)


# --- against real responses ------------------------------------------------------------------


def operation_for(document: dict[str, Any], method: str, url: str) -> tuple[str, dict[str, Any]]:
    """The operation a request reached: the matching path template with fewest parameters."""
    path = httpx.URL(url).path
    matches = [
        (template, item[method.lower()])
        for template, item in document["paths"].items()
        if method.lower() in item and re.fullmatch(re.sub(r"\{\w+\}", "[^/]+", template), path)
    ]
    assert matches, f"no operation for {method} {path}"
    return min(matches, key=lambda match: match[0].count("{"))


def undeclared(document: dict[str, Any], response: httpx.Response) -> list[str]:
    """What a real response shows that its operation does not declare."""
    method, url = response.request.method, str(response.request.url)
    template, operation = operation_for(document, method, url)
    where = f"{method} {template} -> {response.status_code}"
    declared = operation["responses"].get(str(response.status_code))
    if declared is None:
        return [f"{where}: status not declared"]
    missing = [
        f"{where}: header {name} not declared"
        for name in CONTRACT_HEADERS
        if name in response.headers and name not in {h.lower() for h in declared.get("headers", {})}
    ]
    if response.status_code == 428 and "If-Match" not in header_params(operation):
        missing.append(f"{where}: answers 428 yet declares no If-Match")
    return missing


async def test_real_responses_carry_only_what_their_operation_declares(
    gateway_client: httpx.AsyncClient, document: dict[str, Any]
) -> None:
    client = gateway_client
    seen: list[httpx.Response] = []
    key = {**ADMIN, "idempotency-key": "contract-check-factory-1"}
    body = {"name": "Contract Tekstil", "country": "UZ"}
    first = await client.post("/v1/factories", json=body, headers=key)
    replayed = await client.post("/v1/factories", json=body, headers=key)
    assert replayed.headers.get("idempotent-replayed") == "true", replayed.headers
    factory = first.json()
    url = f"/v1/factories/{factory['id']}"
    catalog = await published_catalog(client)
    assessment = await new_assessment(client, factory["id"], catalog["id"])
    transitions = f"/v1/assessments/{assessment.json()['id']}/transitions"
    seen += [first, replayed, assessment]
    seen += [
        await client.get(url, headers={**ADMIN, "x-request-id": "contract-check"}),
        await client.patch(url, json={"region": "Fergana"}, headers=ADMIN),  # 428
        await client.patch(url, json={"region": "Fergana"}, headers={**ADMIN, "if-match": '"x"'}),
        await client.post(transitions, json={"to": "in_progress"}, headers=ADMIN),  # 428
        await client.post(
            transitions,
            json={"to": "in_progress"},
            headers={**ADMIN, "if-match": assessment.headers["etag"]},
        ),
        await client.get("/v1/factories/fac_missing", headers=ADMIN),  # 404
        await client.get("/v1/factories", params={"limit": 0}, headers=ADMIN),  # 422
        await client.get("/v1/factories", params={"cursor": "%%%"}, headers=ADMIN),  # 400
        await client.post(
            "/v1/brands", json={"name": "X"}, headers=auth_header("brand", brand_id="b")
        ),
        await client.get("/v1/reports/freshness", headers={"authorization": "Bearer nope"}),
        await client.get("/v1/factories"),  # 401
    ]
    statuses = {r.status_code for r in seen}
    assert {200, 201, 400, 401, 403, 404, 412, 422, 428} <= statuses, statuses
    assert seen[3].headers["x-request-id"] == "contract-check"
    failures = [problem for response in seen for problem in undeclared(document, response)]
    assert not failures, "\n".join(failures)


async def test_if_match_is_declared_exactly_where_the_precondition_walk_expects_428(
    document: dict[str, Any],
) -> None:
    """tests/gateway/test_preconditions.py proves each of these answers 428 without If-Match."""
    walked = {
        (method, path)
        for method, path, operation in operations(document)
        if changes_existing(method, path) and IF_MATCH_EXEMPT not in operation
    }
    declaring = {
        (method, path)
        for method, path, operation in operations(document)
        if "If-Match" in header_params(operation)
    }
    assert walked == declaring
    assert ("POST", "/v1/assessments/{assessment_id}/transitions") in declaring
