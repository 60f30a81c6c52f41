"""CORS: under BW_ENV=development a frontend's dev server on localhost:3000 or :5173 works with
no setting; anywhere else only the origins in GATEWAY_CORS_ORIGINS may call from a browser."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from gateway.app import create_app
from gateway.settings import DEVELOPMENT_ORIGINS, GatewaySettings
from tests.support import TEST_AUTH, auth_header

PREFLIGHT = {
    "access-control-request-method": "PATCH",
    "access-control-request-headers": "authorization, content-type, if-match, idempotency-key",
}
# What a service may answer a write with; X-Feed-Event stands for any header added later.
WRITE_HEADERS = {
    "etag": '"3"',
    "location": "/v1/courses/crs_1",
    "idempotent-replayed": "true",
    "x-feed-event": "42",
}


def service(request: httpx.Request) -> httpx.Response:
    return httpx.Response(201, json={"id": "crs_1"}, headers=WRITE_HEADERS)


def gateway(**settings: object) -> httpx.AsyncClient:
    app = create_app(
        GatewaySettings(**settings),  # type: ignore[arg-type]
        TEST_AUTH,
        transports={
            n: httpx.MockTransport(service) for n in ("assessment", "training", "reporting")
        },
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")


@pytest.fixture
def development(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BW_ENV", "development")
    monkeypatch.delenv("GATEWAY_CORS_ORIGINS", raising=False)


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BW_ENV", raising=False)
    monkeypatch.delenv("GATEWAY_CORS_ORIGINS", raising=False)


def test_the_development_origins_are_the_usual_dev_servers() -> None:
    assert sorted(DEVELOPMENT_ORIGINS) == [
        "http://127.0.0.1:3000",
        "http://127.0.0.1:5173",
        "http://localhost:3000",
        "http://localhost:5173",
    ]


@pytest.mark.usefixtures("development")
@pytest.mark.parametrize("origin", DEVELOPMENT_ORIGINS)
async def test_in_development_a_local_frontend_passes_the_preflight(origin: str) -> None:
    async with gateway() as client:
        response = await client.options(
            "/v1/courses/crs_1", headers={"origin": origin, **PREFLIGHT}
        )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == origin
    allowed = {h.strip() for h in response.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "if-match", "idempotency-key"} <= allowed
    assert "PATCH" in response.headers["access-control-allow-methods"]
    assert "Origin" in response.headers["vary"]


@pytest.mark.usefixtures("development")
async def test_in_development_a_write_exposes_every_header_a_client_reads() -> None:
    async with gateway() as client:
        response = await client.post(
            "/v1/courses",
            json={"code": "SST"},
            headers={**auth_header("staff"), "origin": "http://localhost:5173"},
        )
    assert response.status_code == 201
    assert response.headers["access-control-allow-origin"] == "http://localhost:5173"
    exposed = {h.strip() for h in response.headers["access-control-expose-headers"].split(",")}
    expected = {"etag", "location", "idempotent-replayed", "x-request-id", "retry-after"}
    assert expected | {"x-feed-event"} <= exposed
    assert "content-type" not in exposed  # safelisted: readable anyway


@pytest.mark.usefixtures("development")
async def test_a_refusal_is_readable_too_so_a_frontend_can_show_it() -> None:
    async with gateway(rate_limit_per_minute=60, rate_limit_burst=1) as client:
        origin = {"origin": "http://127.0.0.1:3000"}
        await client.get("/v1/reports/freshness", headers=origin)
        limited = await client.get("/v1/reports/freshness", headers=origin)
    assert limited.status_code == 429
    assert limited.headers["access-control-allow-origin"] == "http://127.0.0.1:3000"
    assert "retry-after" in limited.headers["access-control-expose-headers"]


@pytest.mark.usefixtures("development")
async def test_a_preflight_for_a_header_the_api_does_not_take_is_refused() -> None:
    async with gateway() as client:
        response = await client.options(
            "/v1/courses",
            headers={
                "origin": "http://localhost:3000",
                "access-control-request-method": "POST",
                "access-control-request-headers": "x-custom-thing",
            },
        )
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert "x-custom-thing" in response.json()["detail"]
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.usefixtures("production")
@pytest.mark.parametrize("origin", ["http://localhost:3000", "http://localhost:5173"])
async def test_outside_development_no_origin_is_allowed_without_the_setting(origin: str) -> None:
    async with gateway() as client:
        preflight = await client.options("/v1/courses", headers={"origin": origin, **PREFLIGHT})
        read = await client.get("/v1/reports/freshness", headers={"origin": origin})
    assert preflight.status_code == 403
    assert "access-control-allow-origin" not in preflight.headers
    assert read.status_code == 201  # the answer is made; only the browser withholds it
    assert "access-control-allow-origin" not in read.headers


@pytest.mark.usefixtures("development")
async def test_an_explicit_setting_replaces_the_development_origins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "GATEWAY_CORS_ORIGINS", "https://portal.betterwork.example/, https://x.example"
    )
    assert GatewaySettings().cors_origins == [
        "https://portal.betterwork.example",
        "https://x.example",
    ]
    async with gateway(**{"cors_origins": GatewaySettings().cors_origins}) as client:
        portal = await client.options(
            "/v1/courses", headers={"origin": "https://portal.betterwork.example", **PREFLIGHT}
        )
        local = await client.options(
            "/v1/courses", headers={"origin": "http://localhost:3000", **PREFLIGHT}
        )
    assert portal.headers["access-control-allow-origin"] == "https://portal.betterwork.example"
    assert local.status_code == 403


async def test_through_the_real_services_a_keyed_create_is_readable_from_a_local_frontend(
    monkeypatch: pytest.MonkeyPatch, assessment_app: FastAPI
) -> None:
    monkeypatch.setenv("BW_ENV", "development")
    monkeypatch.delenv("GATEWAY_CORS_ORIGINS", raising=False)
    app = create_app(
        GatewaySettings(rate_limit_per_minute=100_000, rate_limit_burst=100_000),
        TEST_AUTH,
        transports={"assessment": httpx.ASGITransport(app=assessment_app)},
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        headers = {
            **auth_header("admin"),
            "origin": "http://localhost:3000",
            "idempotency-key": "cors-create-1",
        }
        body = {"name": "Toshkent Tikuv", "country": "UZ"}
        first = await client.post("/v1/factories", json=body, headers=headers)
        again = await client.post("/v1/factories", json=body, headers=headers)
    assert first.status_code == 201 and again.status_code == 201
    for answer in (first, again):
        assert answer.headers["access-control-allow-origin"] == "http://localhost:3000"
        exposed = answer.headers["access-control-expose-headers"].split(", ")
        assert {"etag", "location", "x-request-id"} <= set(exposed)
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" in again.headers["access-control-expose-headers"]
