"""Builders for assessment-service tests: small catalogues and API calls that set things up."""

from __future__ import annotations

import copy
from typing import Any

import httpx

from tests.support import auth_header

ADMIN = auth_header("admin")
PROBLEM = "application/problem+json"


def catalog_doc(country: str = "UZ", **overrides: Any) -> dict[str, Any]:
    """Two clusters, three CPs, six questions (one information-only) with a dated threshold."""
    doc: dict[str, Any] = {
        "country": country,
        "meta": {"title": "Test CAT"},
        "clusters": [
            {
                "code": "CL",
                "name": "Child Labour",
                "category": "core_labour_standards",
                "compliance_points": [
                    {
                        "code": "CL-1",
                        "name": "Child Labourers",
                        "questions": [
                            {"code": "CL-1-1", "text": "Any worker under age?"},
                            {
                                "code": "CL-1-2",
                                "text": {
                                    "en": "Children working off-site?",
                                    "uz": "Bolalar uyda ishlaydimi?",
                                    "ru": "Работают ли дети на дому?",
                                },
                            },
                        ],
                    }
                ],
            },
            {
                "code": "CO",
                "name": "Compensation",
                "category": "working_conditions",
                "compliance_points": [
                    {
                        "code": "CO-1",
                        "name": "Minimum Wages",
                        "questions": [
                            {
                                "code": "CO-1-1",
                                "text": "Are workers paid below the minimum wage?",
                                "text_uz": "Ishchilarga eng kam ish haqidan kam to'lanadimi?",
                                "text_ru": "Платят ли работникам ниже минимальной зарплаты?",
                                "noncompliant_answer": "yes",
                                "legal_basis": "Presidential decree",
                                "thresholds": [
                                    {
                                        "name": "minimum_monthly_wage",
                                        "value": "1050000",
                                        "unit": "UZS",
                                        "valid_from": "2023-12-01",
                                        "valid_to": "2024-07-31",
                                    },
                                    {
                                        "name": "minimum_monthly_wage",
                                        "value": "1155000",
                                        "unit": "UZS",
                                        "valid_from": "2024-08-01",
                                    },
                                ],
                            },
                            {"code": "CO-1-2", "text": "Piece-rate below minimum?"},
                        ],
                    },
                    {
                        "code": "CO-2",
                        "name": "Overtime Wages",
                        "questions": [
                            {"code": "CO-2-1", "text": "Overtime paid below double?"},
                            {
                                "code": "CO-2-9",
                                "text": "How many workers did overtime last month?",
                                "kind": "information",
                            },
                        ],
                    },
                ],
            },
        ],
    }
    doc.update(overrides)
    return copy.deepcopy(doc)


FINDING_CODES = ["CL-1-1", "CL-1-2", "CO-1-1", "CO-1-2", "CO-2-1"]


def all_findings(non_compliant: set[str] | None = None) -> list[dict[str, Any]]:
    bad = non_compliant or set()
    items: list[dict[str, Any]] = [
        {"question_code": code, "non_compliant": code in bad} for code in FINDING_CODES
    ]
    items.append({"question_code": "CO-2-9", "value": 42})
    return items


async def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def new_factory(
    client: httpx.AsyncClient, headers: dict[str, str] | None = None, **fields: Any
) -> dict[str, Any]:
    body = {"name": "Ipak Yo'li Tekstil", "country": "UZ", "region": "Tashkent", **fields}
    return await created(await client.post("/v1/factories", json=body, headers=headers or ADMIN))


async def new_brand(client: httpx.AsyncClient, name: str = "Nordic Apparel") -> dict[str, Any]:
    return await created(await client.post("/v1/brands", json={"name": name}, headers=ADMIN))


async def grant(client: httpx.AsyncClient, factory_id: str, brand_id: str) -> dict[str, Any]:
    return await created(
        await client.post(
            f"/v1/factories/{factory_id}/consents", json={"brand_id": brand_id}, headers=ADMIN
        )
    )


async def published_catalog(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    response = await client.post("/v1/catalogs", json=catalog_doc(**overrides), headers=ADMIN)
    catalog = await created(response)
    published = await client.post(
        f"/v1/catalogs/{catalog['id']}/publish",
        headers={**ADMIN, "if-match": response.headers["etag"]},
    )
    assert published.status_code == 200, published.text
    return published.json()  # type: ignore[no-any-return]


async def new_assessment(
    client: httpx.AsyncClient, factory_id: str, catalog_id: str, **fields: Any
) -> httpx.Response:
    body = {
        "factory_id": factory_id,
        "catalog_id": catalog_id,
        "visit_type": "unannounced",
        "visit_start": "2024-05-14",
        "visit_end": "2024-05-15",
        "assessors": ["Dilnoza Karimova", "Jasur Toshmatov"],
        "person_days": 4,
        "process_integrity": {"workers_interviewed": 24, "access_restricted": False},
        **fields,
    }
    return await client.post("/v1/assessments", json=body, headers=ADMIN)


async def current_etag(client: httpx.AsyncClient, assessment_id: str) -> str:
    """The assessment's ETag now: what every change to it or to its findings must send."""
    response = await client.get(f"/v1/assessments/{assessment_id}", headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.headers["etag"]


async def move(
    client: httpx.AsyncClient, assessment_id: str, to: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    """One transition, with the current ETag read first."""
    return await client.post(
        f"/v1/assessments/{assessment_id}/transitions",
        json={"to": to},
        headers={**(headers or ADMIN), "if-match": await current_etag(client, assessment_id)},
    )


async def submit_findings(
    client: httpx.AsyncClient,
    assessment_id: str,
    findings: list[dict[str, Any]],
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """The bulk submission, with the assessment's current ETag read first."""
    return await client.put(
        f"/v1/assessments/{assessment_id}/findings",
        json={"findings": findings},
        headers={**(headers or ADMIN), "if-match": await current_etag(client, assessment_id)},
    )


async def record_finding(
    client: httpx.AsyncClient,
    assessment_id: str,
    question_code: str,
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """One finding, with the assessment's current ETag read first."""
    return await client.put(
        f"/v1/assessments/{assessment_id}/findings/{question_code}",
        json=body,
        headers={**(headers or ADMIN), "if-match": await current_etag(client, assessment_id)},
    )


async def walk(client: httpx.AsyncClient, assessment_id: str, *statuses: str) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for status in statuses:
        response = await move(client, assessment_id, status)
        assert response.status_code == 200, response.text
        body = response.json()
    return body


async def published_assessment(
    client: httpx.AsyncClient, factory_id: str, catalog_id: str, bad: set[str] | None = None
) -> dict[str, Any]:
    assessment = await created(await new_assessment(client, factory_id, catalog_id))
    await walk(client, assessment["id"], "in_progress")
    submitted = await submit_findings(client, assessment["id"], all_findings(bad))
    assert submitted.status_code == 200, submitted.text
    return await walk(client, assessment["id"], "draft", "published")


async def feed(client: httpx.AsyncClient, after: int = 0) -> list[dict[str, Any]]:
    response = await client.get(
        "/internal/v1/changes", params={"after": after, "limit": 1000}, headers=ADMIN
    )
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body
