"""Builders for training tests: a fake assessment service and small request factories."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import jwt

from tests.support import auth_header

STAFF = auth_header("staff")
STAFF_UZ = auth_header("staff", country="UZ")
STAFF_KH = auth_header("staff", country="KH")
ADMIN = auth_header("admin")
PROBLEM = "application/problem+json"


class FakeAssessment:
    """The assessment service's read endpoints, answered from memory; ``down`` refuses calls.
    Factories have a country (A, B, C in Uzbekistan, K in Cambodia); like the real service, a
    country-limited staff token does not see another country's factories."""

    def __init__(self) -> None:
        self.factories: dict[str, str] = {
            "fac_A": "UZ",
            "fac_B": "UZ",
            "fac_C": "UZ",
            "fac_K": "KH",
        }
        self.assessments: dict[str, dict[str, Any]] = {}
        self.down = False
        self.calls: list[str] = []

    def add_assessment(
        self, assessment_id: str, factory_id: str, findings: list[dict[str, Any]]
    ) -> None:
        self.assessments[assessment_id] = {"factory_id": factory_id, "findings": findings}

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request.url.path)
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        assert request.headers["authorization"].startswith("Bearer ")
        parts = request.url.path.strip("/").split("/")
        if parts[:2] == ["v1", "factories"] and len(parts) == 3:
            country = self.factories.get(parts[2])
            if country is not None and _in_scope(request, country):
                return httpx.Response(
                    200, json={"id": parts[2], "name": "Factory", "country": country}
                )
        elif parts[:2] == ["v1", "assessments"] and parts[2] in self.assessments:
            found = self.assessments[parts[2]]
            if len(parts) == 3:
                return httpx.Response(200, json={"id": parts[2], "factory_id": found["factory_id"]})
            if parts[3:] == ["findings"]:
                return httpx.Response(200, json={"items": found["findings"], "next_cursor": None})
        return httpx.Response(404, json={"status": 404, "title": "Not Found"})


def _in_scope(request: httpx.Request, country: str) -> bool:
    token = request.headers["authorization"].removeprefix("Bearer ")
    claims = jwt.decode(token, options={"verify_signature": False})
    return claims.get("role") != "staff" or claims.get("country") in (None, country)


def finding(question: str, point: str, non_compliant: bool | None = True) -> dict[str, Any]:
    return {
        "question_code": question,
        "compliance_point_code": point,
        "cluster_code": point.split(".")[0],
        "non_compliant": non_compliant,
    }


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


async def create_course(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": "SST",
        "title": {
            "en": "Supervisory Skills Training",
            "uz": "Rahbarlik koʻnikmalari treningi",
            "ru": "Тренинг по навыкам руководства",
        },
        "topic": "supervisory_skills",
        "duration_days": 3,
        "audience": ["supervisor"],
    }
    body.update(overrides)
    response = await client.post("/v1/courses", json=body, headers=STAFF)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def create_session(
    client: httpx.AsyncClient, course_id: str, **overrides: Any
) -> httpx.Response:
    body: dict[str, Any] = {
        "course_id": course_id,
        "start_date": "2024-05-14",
        "end_date": "2024-05-16",
        "trainers": ["Dilnoza Karimova"],
        "venue": "Toshkent, Chilonzor tumani",
        "delivery": "multi_factory",
        "factory_ids": ["fac_A", "fac_B"],
    }
    body.update(overrides)
    return await client.post("/v1/training-sessions", json=body, headers=STAFF)


def attendee(
    index: int,
    factory_id: str = "fac_A",
    *,
    sex: str | None = None,
    role: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    roles = ["worker", "worker", "supervisor", "manager", "worker_representative"]
    row: dict[str, Any] = {
        "full_name": f"Ishtirokchi {index}",
        "sex": sex or ("female" if index % 4 else "male"),
        "role": role or roles[index % len(roles)],
        "factory_id": factory_id,
        "attended": True,
        "completed": True,
    }
    row.update(overrides)
    return row


def plan_item(**overrides: Any) -> dict[str, Any]:
    """An improvement-plan item for the OSH.1.1 finding the fake assessment service knows."""
    body: dict[str, Any] = {
        "compliance_point_code": "OSH.1",
        "finding_question_code": "OSH.1.1",
        "action": "Ikkinchi qavatdagi favqulodda chiqish eshigini qulfdan chiqarish",
        "owner": "HR menejeri",
        "due_date": "2024-08-31",
    }
    body.update(overrides)
    return body


async def feed(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await client.get("/internal/v1/changes?limit=1000", headers=auth_header("service"))
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def iso(day: date) -> str:
    return day.isoformat()
