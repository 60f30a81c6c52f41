"""The gateway routes each public prefix to its service and passes the answer through."""

import httpx
from fastapi import FastAPI

from tests.support import auth_header

ADMIN = auth_header("admin")


async def test_each_service_is_reached_through_the_gateway(
    gateway_client: httpx.AsyncClient,
) -> None:
    factories = await gateway_client.get("/v1/factories", headers=ADMIN)
    courses = await gateway_client.get("/v1/courses", headers=ADMIN)
    freshness = await gateway_client.get("/v1/reports/freshness")
    assert factories.status_code == 200 and "items" in factories.json()
    assert courses.status_code == 200 and "items" in courses.json()
    assert freshness.status_code == 200 and "feeds" in freshness.json()


async def test_write_passes_status_headers_and_request_id(
    gateway_client: httpx.AsyncClient, assessment_client: httpx.AsyncClient
) -> None:
    response = await gateway_client.post(
        "/v1/factories",
        json={"name": "Farg'ona To'qimachilik", "country": "UZ", "region": "Fergana"},
        headers={**ADMIN, "x-request-id": "trace-abc-123"},
    )
    assert response.status_code == 201
    assert response.headers["x-request-id"] == "trace-abc-123"
    assert response.json()["name"] == "Farg'ona To'qimachilik"
    feed = await assessment_client.get("/internal/v1/changes", headers=auth_header("service"))
    event = feed.json()["items"][-1]
    assert event["aggregate_id"] == response.json()["id"]


async def test_query_string_reaches_the_service(gateway_client: httpx.AsyncClient) -> None:
    for name, country in [("A", "UZ"), ("B", "KH"), ("C", "UZ")]:
        await gateway_client.post(
            "/v1/factories", json={"name": name, "country": country}, headers=ADMIN
        )
    response = await gateway_client.get("/v1/factories?country=KH&limit=5", headers=ADMIN)
    assert [f["name"] for f in response.json()["items"]] == ["B"]


async def test_internal_routes_are_not_public(gateway_client: httpx.AsyncClient) -> None:
    response = await gateway_client.get("/internal/v1/changes", headers=auth_header("service"))
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_unknown_prefix_is_404_problem(gateway_client: httpx.AsyncClient) -> None:
    response = await gateway_client.get("/v2/anything")
    assert response.status_code == 404
    assert response.json()["status"] == 404


async def test_security_headers_are_set(gateway_client: httpx.AsyncClient) -> None:
    response = await gateway_client.get("/v1/reports/freshness")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"


async def test_merged_openapi_has_every_service_and_no_internal_paths(
    gateway_client: httpx.AsyncClient,
) -> None:
    document = (await gateway_client.get("/openapi.json")).json()
    paths = document["paths"]
    assert "/v1/factories" in paths and "/v1/courses" in paths and "/v1/reports/freshness" in paths
    assert not any(p.startswith(("/internal", "/health")) for p in paths)
    # every $ref resolves inside the merged document
    text = str(document)
    import re

    for name in set(re.findall(r"#/components/schemas/([\w.-]+)", text)):
        assert name in document["components"]["schemas"], name
    docs = await gateway_client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


async def test_gateway_health_reports_each_service(gateway_client: httpx.AsyncClient) -> None:
    body = (await gateway_client.get("/health/ready")).json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"assessment", "training", "reporting"}


async def test_services_reject_oversized_bodies_at_the_gateway(gateway_app: FastAPI) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=gateway_app), base_url="http://gateway"
    ) as client:
        response = await client.post(
            "/v1/factories",
            content=b"x" * (6 * 1024 * 1024),
            headers={**ADMIN, "content-type": "application/json"},
        )
    assert response.status_code == 413


async def test_gateway_own_calls_leave_the_proxy_pool_usable(
    gateway_client: httpx.AsyncClient,
) -> None:
    assert (await gateway_client.get("/health/ready")).status_code == 200
    assert (await gateway_client.get("/openapi.json")).status_code == 200
    again = await gateway_client.get("/v1/factories", headers=ADMIN)
    assert again.status_code == 200
