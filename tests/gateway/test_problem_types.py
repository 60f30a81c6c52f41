"""One problem type per kind of error, walked over the merged OpenAPI document: every error an
operation documents names problem types of the registry (services/common/problems.py, KINDS),
and real 409s through the gateway carry the specific kind their operation documents."""

from __future__ import annotations

from typing import Any

import httpx

from services.common.openapi_contract import PROBLEM_TYPES_EXTENSION
from services.common.problems import PROBLEM_CONTENT_TYPE, PROBLEM_KINDS
from tests.assessment.builders import grant, move, new_assessment, new_brand, new_factory
from tests.assessment.builders import published_catalog as new_published_catalog
from tests.gateway.test_access_matrix import operations
from tests.support import auth_header

ADMIN = auth_header("admin")


async def test_every_documented_problem_type_is_one_of_the_registry(
    gateway_client: httpx.AsyncClient,
) -> None:
    document = (await gateway_client.get("/openapi.json")).json()
    wrong: list[str] = []
    documented: set[str] = set()
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            types = response.get(PROBLEM_TYPES_EXTENSION, [])
            example = response["content"][PROBLEM_CONTENT_TYPE]["example"]["type"]
            documented |= set(types)
            if not types or example not in types:
                wrong.append(f"{method} {path} {status}: types {types}, example {example}")
            for problem_type in types:
                kind = PROBLEM_KINDS.get(problem_type)
                if kind is None or kind.status != int(status):
                    wrong.append(f"{method} {path} {status}: {problem_type} not registered so")
                elif problem_type.rsplit("/", 1)[-1] not in response["description"]:
                    wrong.append(f"{method} {path} {status}: description omits {problem_type}")
    assert wrong == [], "\n".join(wrong)
    # The specific kinds are documented somewhere, not only the generic ones.
    assert {PROBLEM_KINDS[t].slug for t in documented if PROBLEM_KINDS[t].status == 409} == {
        "already-exists",
        "illegal-transition",
        "state-conflict",
        "concurrent-change",
        "request-in-progress",
    }


def documented_types(document: dict[str, Any], method: str, path: str, status: int) -> list[str]:
    response = document["paths"][path][method.lower()]["responses"][str(status)]
    return list(response[PROBLEM_TYPES_EXTENSION])


async def test_each_409_has_its_specific_type_and_its_operation_documents_it(
    gateway_client: httpx.AsyncClient,
) -> None:
    client = gateway_client
    document = (await client.get("/openapi.json")).json()
    factory = await new_factory(client)
    brand = await new_brand(client)
    consent = await grant(client, factory["id"], brand["id"])
    seen: dict[str, tuple[str, str, httpx.Response]] = {}

    again = await client.post(
        f"/v1/factories/{factory['id']}/consents", json={"brand_id": brand["id"]}, headers=ADMIN
    )
    seen["already-exists"] = ("POST", "/v1/factories/{factory_id}/consents", again)
    revoke = f"/v1/factories/{factory['id']}/consents/{consent['id']}/revoke"
    assert (await client.post(revoke, headers=ADMIN)).status_code == 200
    twice = await client.post(revoke, headers=ADMIN)
    seen["state-conflict"] = (
        "POST",
        "/v1/factories/{factory_id}/consents/{consent_id}/revoke",
        twice,
    )
    catalog = await new_published_catalog(client)
    assessment = await new_assessment(client, factory["id"], catalog["id"])
    assert assessment.status_code == 201, assessment.text
    illegal = await move(client, assessment.json()["id"], "published")
    seen["illegal-transition"] = ("POST", "/v1/assessments/{assessment_id}/transitions", illegal)

    for slug, (method, path, response) in seen.items():
        assert response.status_code == 409, (slug, response.text)
        assert response.headers["content-type"].startswith(PROBLEM_CONTENT_TYPE)
        body = response.json()
        assert body["type"].endswith("/" + slug), (slug, body)
        assert body["title"] == PROBLEM_KINDS[body["type"]].title
        assert body["type"] in documented_types(document, method, path, 409), (slug, path)
