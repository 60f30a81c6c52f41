"""problem+json, field by field (issue 15): what a raised Problem carries by default, the type
and title each status gets, and what each handler answers (a Problem with its headers and
extra members, Starlette's 404/405 in words, validation and malformed JSON, the logged 500)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel
from starlette.requests import Request

from services.common.problems import (
    PROBLEM_CONTENT_TYPE,
    PROBLEM_TYPE_BASE,
    Problem,
    already_exists,
    conflict,
    install_problem_handlers,
    normalise_errors,
    not_found,
    problem_response,
    problem_type,
)


def test_a_problem_defaults_its_title_type_and_headers_from_the_status() -> None:
    problem = Problem(412, "stale")
    assert (problem.status, problem.detail, str(problem)) == (412, "stale", "stale")
    assert problem.title == "Precondition Failed"
    assert problem.type == PROBLEM_TYPE_BASE + "precondition-failed"
    assert problem.headers == {} and problem.errors is None and problem.extra == {}


def test_a_problem_keeps_what_it_is_given() -> None:
    errors = [{"location": "/body/name", "message": "m"}]
    problem = Problem(
        400, "d", title="T", kind="invalid-filter", errors=errors, headers={"A": "b"}, field="x"
    )
    assert (problem.title, problem.type, problem.errors) == (
        "T",
        PROBLEM_TYPE_BASE + "invalid-filter",
        errors,
    )
    assert problem.headers == {"A": "b"} and problem.extra == {"field": "x"}
    assert Problem(400, "d", type_=PROBLEM_TYPE_BASE + "invalid-sort").title == "Invalid sort"


@pytest.mark.parametrize(
    ("status", "slug"),
    [
        (400, "bad-request"),
        (409, "state-conflict"),
        (413, "content-too-large"),
        (422, "validation"),
        (404, "not-found"),
        (503, "service-unavailable"),
    ],
)
def test_each_status_has_its_default_problem_type(status: int, slug: str) -> None:
    assert problem_type(status) == PROBLEM_TYPE_BASE + slug
    assert Problem(status, "d").type == PROBLEM_TYPE_BASE + slug


def test_a_status_without_a_kind_has_no_default() -> None:
    with pytest.raises(ValueError, match="no default problem type for 418"):
        problem_type(418)


def test_a_kind_of_another_status_is_refused() -> None:
    with pytest.raises(ValueError, match="not registered for 400"):
        Problem(400, "d", kind="precondition-failed")


def test_not_found_and_conflict_say_what() -> None:
    missing = not_found("Factory", "fac_1")
    assert (missing.status, missing.title) == (404, "Factory not found")
    assert missing.detail == "Factory 'fac_1' does not exist."
    assert missing.type == PROBLEM_TYPE_BASE + "not-found"
    clash = conflict("Already published.", status_now="published")
    assert (clash.status, clash.detail, clash.extra) == (
        409,
        "Already published.",
        {"status_now": "published"},
    )
    assert (clash.type, clash.title) == (
        PROBLEM_TYPE_BASE + "state-conflict",
        "Not allowed in this state",
    )
    moved = conflict("Moved.", "illegal-transition")
    assert moved.type == PROBLEM_TYPE_BASE + "illegal-transition"
    with pytest.raises(ValueError, match="not a kind of 409"):
        conflict("x", "precondition-failed")


def test_a_response_without_a_request_has_no_instance() -> None:
    response = problem_response(None, 400, "bad", headers={"X-A": "1"})
    assert response.media_type == PROBLEM_CONTENT_TYPE
    assert response.headers["x-a"] == "1"
    assert response.body == (
        b'{"type":"' + (PROBLEM_TYPE_BASE + "bad-request").encode() + b'","title":"Bad Request",'
        b'"status":400,"detail":"bad"}'
    )
    unprocessable = problem_response(None, 422, "nothing fits")
    assert b'"errors":[{"location":"","message":"nothing fits"}]' in unprocessable.body


class Shape(BaseModel):
    name: str
    size: int


def problem_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.middleware("http")
    async def request_id(request: Request, call_next: Any) -> Any:
        request.state.request_id = request.headers.get("x-request-id")
        return await call_next(request)

    @app.get("/problem")
    async def raise_problem() -> None:
        raise conflict(
            "Taken.", title="Conflict here", headers={"Retry-After": "3"}, status_now="draft"
        )

    @app.get("/http/{kind}")
    async def raise_http(kind: str) -> None:
        if kind == "list":
            raise HTTPException(403, detail=["not", "a", "string"])
        if kind == "missing":
            raise HTTPException(404, detail="Gone elsewhere.")
        if kind == "teapot":
            raise HTTPException(418, detail="Short and stout.")
        if kind == "sort":
            raise Problem(400, "No such order.", kind="invalid-sort")
        raise HTTPException(401, detail="Who?", headers={"WWW-Authenticate": "Bearer"})

    @app.post("/shape")
    async def shape(body: Shape) -> dict[str, str]:
        return {"name": body.name}

    @app.get("/crash")
    async def crash() -> None:
        raise RuntimeError("secret internals")

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=problem_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://p") as client:
        yield client


def body_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


async def test_a_raised_problem_answers_with_all_it_carries(client: httpx.AsyncClient) -> None:
    response = await client.get("/problem", headers={"x-request-id": "req-1"})
    assert body_of(response, 409) == {
        "type": PROBLEM_TYPE_BASE + "state-conflict",
        "title": "Conflict here",
        "status": 409,
        "detail": "Taken.",
        "instance": "/problem",
        "request_id": "req-1",
        "status_now": "draft",
    }
    assert response.headers["retry-after"] == "3"


async def test_an_unknown_path_is_404_naming_the_path(client: httpx.AsyncClient) -> None:
    body = body_of(await client.get("/nowhere"), 404)
    assert body["detail"] == "No resource at /nowhere."
    assert body["title"] == "Not Found" and body["instance"] == "/nowhere"
    assert "request_id" not in body


async def test_a_404_with_its_own_words_keeps_them(client: httpx.AsyncClient) -> None:
    assert body_of(await client.get("/http/missing"), 404)["detail"] == "Gone elsewhere."


async def test_a_wrong_method_is_405_naming_method_and_path(client: httpx.AsyncClient) -> None:
    body = body_of(await client.delete("/problem"), 405)
    assert body["detail"] == "DELETE is not allowed on /problem."
    assert body["type"] == PROBLEM_TYPE_BASE + "method-not-allowed"


async def test_an_http_error_keeps_its_headers_and_words(client: httpx.AsyncClient) -> None:
    response = await client.get("/http/auth")
    assert body_of(response, 401)["detail"] == "Who?"
    assert response.headers["www-authenticate"] == "Bearer"


async def test_an_http_error_with_no_words_says_its_status_phrase(
    client: httpx.AsyncClient,
) -> None:
    assert body_of(await client.get("/http/list"), 403)["detail"] == "Forbidden"


async def test_a_body_of_the_wrong_shape_is_422_listing_each_error(
    client: httpx.AsyncClient,
) -> None:
    body = body_of(await client.post("/shape", json={"size": "big"}), 422)
    assert body["title"] == "Validation failed"
    assert body["type"] == PROBLEM_TYPE_BASE + "validation"
    assert body["detail"] == "The request does not match the expected shape; see errors."
    assert body["instance"] == "/shape"
    errors = {e["location"]: e for e in body["errors"]}
    assert errors["/body/name"]["type"] == "missing"
    assert errors["/body/name"]["message"] == "Field required"
    assert errors["/body/size"]["type"] == "int_parsing"
    assert set(errors["/body/size"]) == {"location", "message", "type"}


async def test_a_body_that_is_not_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/shape", content=b'{"name": ', headers={"content-type": "application/json"}
    )
    body = body_of(response, 400)
    assert body["title"] == "Malformed request"
    assert body["type"] == PROBLEM_TYPE_BASE + "malformed-json"
    assert body["detail"] == "The request body is not valid JSON."
    assert [e["type"] for e in body["errors"]] == ["json_invalid"]


async def test_an_unhandled_error_is_a_logged_500_without_internals(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="bw.problems"):
        response = await client.get("/crash")
    body = body_of(response, 500)
    assert body["detail"] == "An unexpected error occurred; it has been logged."
    assert "secret" not in response.text
    [record] = [r for r in caplog.records if r.name == "bw.problems"]
    assert record.getMessage() == "unhandled error"
    assert record.path == "/crash"  # type: ignore[attr-defined]
    assert record.exc_info is not None


def test_an_error_without_a_location_is_about_the_whole_request() -> None:
    assert normalise_errors([{"message": "Value error, too many"}]) == [
        {"location": "", "message": "too many"}
    ]


def test_already_exists_is_its_own_409_and_keeps_its_members() -> None:
    taken = already_exists("Taken.", field="name")
    assert (taken.type, taken.extra) == (PROBLEM_TYPE_BASE + "already-exists", {"field": "name"})


async def test_a_raised_problem_keeps_its_specific_kind(client: httpx.AsyncClient) -> None:
    body = body_of(await client.get("/http/sort"), 400)
    assert (body["type"], body["title"]) == (PROBLEM_TYPE_BASE + "invalid-sort", "Invalid sort")


async def test_an_http_error_of_a_status_without_a_kind_is_about_blank_and_logged(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="bw.problems"):
        body = body_of(await client.get("/http/teapot"), 418)
    assert (body["type"], body["title"]) == ("about:blank", "I'm a Teapot")
    [record] = [r for r in caplog.records if r.name == "bw.problems"]
    assert record.getMessage() == "unregistered problem type"
    assert record.problem_type == "about:blank"  # type: ignore[attr-defined]
