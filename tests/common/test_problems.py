"""Every error path answers with RFC 9457 problem+json."""

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI

from services.common.app import create_service_app
from services.common.auth import PUBLIC
from services.common.db import Database
from services.common.settings import ServiceSettings
from tests.support import TEST_AUTH, auth_header

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    assert body["title"] and body["type"].startswith("https://")
    assert "detail" in body and "instance" in body
    return body


async def test_unknown_path_is_404_problem(assessment_client: httpx.AsyncClient) -> None:
    body = assert_problem(await assessment_client.get("/v1/nothing-here"), 404)
    assert body["instance"] == "/v1/nothing-here"


async def test_wrong_method_is_405_problem(assessment_client: httpx.AsyncClient) -> None:
    assert_problem(
        await assessment_client.delete("/v1/factories", headers=auth_header("admin")), 405
    )


async def test_validation_error_names_the_field(assessment_client: httpx.AsyncClient) -> None:
    response = await assessment_client.post(
        "/v1/factories", json={"name": "", "country": "uzb"}, headers=auth_header("admin")
    )
    body = assert_problem(response, 422)
    locations = {error["location"] for error in body["errors"]}
    assert {"body.name", "body.country"} <= locations


async def test_malformed_json_is_400_problem(assessment_client: httpx.AsyncClient) -> None:
    response = await assessment_client.post(
        "/v1/factories",
        content=b'{"name": "x", ',
        headers={**auth_header("admin"), "content-type": "application/json"},
    )
    assert_problem(response, 400)


async def test_oversized_body_is_413_problem(assessment_client: httpx.AsyncClient) -> None:
    huge = b'{"name": "' + b"x" * (6 * 1024 * 1024) + b'", "country": "UZ"}'
    response = await assessment_client.post(
        "/v1/factories",
        content=huge,
        headers={**auth_header("admin"), "content-type": "application/json"},
    )
    assert_problem(response, 413)


@pytest.fixture
def crashing_app(db_dir) -> FastAPI:  # type: ignore[no-untyped-def]
    router = APIRouter()

    @router.get("/boom", dependencies=[Depends(PUBLIC)])
    async def boom() -> None:
        raise RuntimeError("secret internals")

    settings = ServiceSettings(service_name="crashy")
    database = Database(f"sqlite+aiosqlite:///{db_dir / 'crashy.db'}")
    return create_service_app(
        title="crashy",
        description="",
        settings=settings,
        routers=[router],
        database=database,
        auth_settings=TEST_AUTH,
    )


async def test_unhandled_error_is_500_problem_without_internals(crashing_app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=crashing_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://crashy") as client:
        response = await client.get("/boom", headers={"x-request-id": "req-123"})
    body = assert_problem(response, 500)
    assert "secret internals" not in response.text
    assert body["request_id"] == "req-123"
