"""Every error path answers with RFC 9457 problem+json."""

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel, ConfigDict, field_validator

from services.common.app import create_service_app
from services.common.auth import PUBLIC
from services.common.db import Database
from services.common.problems import (
    KINDS,
    PROBLEM_KINDS,
    Problem,
    already_exists,
    conflict,
    json_pointer,
    normalise_errors,
    problem_type,
)
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
    assert {"/body/name", "/body/country"} <= locations


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


# --- one problem type per kind of error (services/common/problems.py, KINDS) -----------------


def test_every_kind_has_its_own_type_and_every_status_a_default() -> None:
    types = [k.type for k in KINDS]
    assert len(types) == len(set(types))
    for registered in KINDS:
        assert problem_type(registered.status) in PROBLEM_KINDS
    assert problem_type(422).endswith("/validation")
    assert problem_type(409).endswith("/state-conflict")


def test_a_problem_of_an_unregistered_type_cannot_be_raised() -> None:
    with pytest.raises(ValueError, match="not registered"):
        Problem(409, "x", type_="https://betterwork.example.org/problems/conflict")
    with pytest.raises(ValueError, match="not registered"):
        Problem(400, "x", kind="already-exists")  # a 409 kind on a 400
    with pytest.raises(ValueError):
        conflict("x", "invalid-sort")
    assert already_exists("x").type.endswith("/already-exists")
    assert Problem(400, "x", kind="invalid-filter").title == "Invalid filter"


@pytest.mark.parametrize(
    ("location", "pointer"),
    [
        ("body.items.0.code", "/body/items/0/code"),
        ("body.participants[3].sex", "/body/participants/3/sex"),
        ("/query/sort", "/query/sort"),
        ("", ""),
    ],
)
def test_error_locations_are_json_pointers(location: str, pointer: str) -> None:
    assert normalise_errors([{"location": location, "message": "m"}])[0]["location"] == pointer


def test_json_pointers_escape_tilde_and_slash() -> None:
    assert json_pointer("body", "meta", "a/b~c", 0) == "/body/meta/a~1b~0c/0"


class Shaped(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str

    @field_validator("code")
    @classmethod
    def upper(cls, value: str) -> str:
        if value != value.upper():
            raise ValueError("codes are upper case")
        return value


class Bulk(BaseModel):
    items: list[Shaped]


@pytest.fixture
def shaped_app(db_dir) -> FastAPI:  # type: ignore[no-untyped-def]
    router = APIRouter()

    @router.post("/bulk", dependencies=[Depends(PUBLIC)])
    async def bulk(body: Bulk) -> dict[str, int]:
        return {"count": len(body.items)}

    @router.post("/state", dependencies=[Depends(PUBLIC)])
    async def state() -> None:
        raise Problem(422, "visit_end is before visit_start.")

    return create_service_app(
        title="shaped",
        description="",
        settings=ServiceSettings(service_name="shaped"),
        routers=[router],
        database=Database(f"sqlite+aiosqlite:///{db_dir / 'shaped.db'}"),
        auth_settings=TEST_AUTH,
    )


async def test_every_422_points_at_each_problem_without_pydantics_prefix(
    shaped_app: FastAPI,
) -> None:
    transport = httpx.ASGITransport(app=shaped_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://shaped") as client:
        bad = await client.post("/bulk", json={"items": [{"code": "OK"}, {"code": "low"}, {}]})
        raised = await client.post("/state")
    body = assert_problem(bad, 422)
    assert body["type"].endswith("/validation")
    by_location = {e["location"]: e["message"] for e in body["errors"]}
    assert by_location["/body/items/1/code"] == "codes are upper case"
    assert "/body/items/2/code" in by_location
    assert not any(m.startswith("Value error") for m in by_location.values())
    # A 422 raised without errors still says where: the request as a whole.
    body = assert_problem(raised, 422)
    assert body["type"].endswith("/validation")
    assert body["errors"] == [{"location": "", "message": "visit_end is before visit_start."}]


async def test_unstorable_text_is_a_validation_problem_with_errors(
    assessment_client: httpx.AsyncClient,
) -> None:
    response = await assessment_client.post(
        "/v1/factories",
        content=b'{"name": "a\\u0000b", "country": "UZ"}',
        headers={**auth_header("admin"), "content-type": "application/json"},
    )
    body = assert_problem(response, 422)
    assert body["type"].endswith("/validation") and body["errors"][0]["location"] == ""
