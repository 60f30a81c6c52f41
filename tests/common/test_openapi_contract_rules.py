"""The OpenAPI contract's rules (services/common/openapi_contract.py), each on a small app built
here so one operation of each shape is checked whole: its id, its header parameters in order,
and per response its headers and problem types. The merged document's walk
(tests/gateway/test_openapi_contract.py) checks that the real services follow the same rules;
this file pins the rules themselves, including the shapes no real route has yet."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, Query
from pydantic import BaseModel

from services.common.app import publish_access, publish_contract
from services.common.auth import PUBLIC, Access, Role
from services.common.etag import if_match_exempt
from services.common.openapi_contract import (
    HEADERS,
    PROBLEM_TYPES_EXTENSION,
    header_parameter,
    operation_id,
)
from services.common.openapi_schemas import REF_PREFIX
from services.common.pagination import Page, PageParams, Sorting, page_params
from services.common.problems import PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE
from tests.common.notes_app import Note

ADMIN = Access(Role.ADMIN)
SORTING = Sorting(Note.id, text=Note.text)


class WidgetIn(BaseModel):
    name: str
    size: int = 3


class WidgetRead(BaseModel):
    id: str
    name: str


def make_router() -> APIRouter:
    """New routes for each document: FastAPI keeps an included router's routes, and the
    contract names them once, so a shared router would be named by the first test only."""
    router = APIRouter(prefix="/v1")

    # First: an unpublished route must not stop the walk over the routes after it.
    @router.get("/hidden/{thing_id}", include_in_schema=False)
    async def hidden(thing_id: str, _: Any = Depends(ADMIN)) -> None: ...

    @router.get("/widgets", response_model=Page[WidgetRead])
    async def list_widgets(
        page: PageParams = Depends(SORTING.page_params),
        date_from: date | None = Query(None),
        _: Any = Depends(ADMIN),
    ) -> Any: ...

    @router.post("/widgets", status_code=201, response_model=WidgetRead)
    async def create_widget(body: WidgetIn, _: Any = Depends(ADMIN)) -> Any: ...

    @router.get("/widgets/{widget_id}", response_model=WidgetRead)
    async def get_widget(widget_id: str, _: Any = Depends(Access(*Role))) -> Any: ...

    @router.patch("/widgets/{widget_id}", response_model=WidgetRead)
    async def update_widget(
        widget_id: str,
        body: WidgetIn,
        if_match: str | None = Header(None, alias="If-Match"),
        x_trace: str | None = Header(None, alias="X-Trace"),
        _: Any = Depends(ADMIN),
    ) -> Any: ...

    @router.delete("/widgets/{widget_id}", status_code=204)
    async def delete_widget(widget_id: str, _: Any = Depends(ADMIN)) -> None: ...

    @router.post("/widgets/{widget_id}/transitions", response_model=WidgetRead)
    async def move_widget(widget_id: str, body: WidgetIn, _: Any = Depends(ADMIN)) -> Any: ...

    @router.post(
        "/widgets/{widget_id}/archive",
        response_model=WidgetRead,
        openapi_extra=if_match_exempt("archiving adds a copy, it changes nothing"),
    )
    async def archive_widget(widget_id: str, _: Any = Depends(ADMIN)) -> Any: ...

    @router.api_route("/widgets/{widget_id}/preview", methods=["OPTIONS"])
    async def preview_widget(widget_id: str, _: Any = Depends(ADMIN)) -> None: ...

    @router.put(
        "/logs/{log_id}",
        response_model=WidgetRead,
        openapi_extra=if_match_exempt("a log is replaced whole, never edited"),
    )
    async def replace_log(log_id: str, body: WidgetIn, _: Any = Depends(ADMIN)) -> Any: ...

    @router.get("/logs/{log_id}", response_model=WidgetRead)
    async def get_log(log_id: str, _: Any = Depends(ADMIN)) -> Any: ...

    @router.get(
        "/status",
        responses={
            200: {"headers": {"X-Served-By": {"schema": {"type": "string"}}}},
            418: {"description": "never answered: not derived, so not published"},
            202: {"description": "Accepted: still warming up"},  # after the 418: still kept
        },
    )
    async def status(_: Any = Depends(PUBLIC)) -> Any: ...

    @router.get("/entries")
    async def get_entries(
        page: PageParams = Depends(page_params), _: Any = Depends(ADMIN)
    ) -> Any: ...

    @router.get("/probe")
    async def probe(
        verbose: int = Query(0, include_in_schema=False), _: Any = Depends(PUBLIC)
    ) -> Any: ...

    @router.get("/business/{business_id}/compliance-points/{point_id}/sub_items")
    async def get_sub_items(business_id: str, point_id: str, _: Any = Depends(PUBLIC)) -> Any: ...

    @router.post("/search")
    async def search(body: WidgetIn, _: Any = Depends(ADMIN)) -> Any: ...

    @router.post("/factories/{factory_id}/categories", status_code=201)
    async def create_category(factory_id: str, body: WidgetIn, _: Any = Depends(ADMIN)) -> Any: ...

    return router


@pytest.fixture
def document() -> dict[str, Any]:
    app = FastAPI(generate_unique_id_function=operation_id)
    app.include_router(make_router())
    publish_access(app)
    publish_contract(app)
    return app.openapi()


def slugs(response: dict[str, Any]) -> list[str] | None:
    types = response.get(PROBLEM_TYPES_EXTENSION)
    return None if types is None else [t.removeprefix(PROBLEM_TYPE_BASE) for t in types]


def shape(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    """One operation as the rules see it: id, header parameters, each response's headers and
    problem types (None on a success)."""
    operation = document["paths"][path][method]
    return {
        "id": operation["operationId"],
        "headers": [
            (p["name"], p["required"]) for p in operation["parameters"] if p["in"] == "header"
        ],
        "responses": {
            status: (sorted(response.get("headers", {})), slugs(response))
            for status, response in operation["responses"].items()
        },
    }


RID = ("X-Request-ID", False)
BAD = ["bad-request", "unknown-query-parameter"]
KEYED_BAD = [*BAD, "malformed-json", "invalid-idempotency-key"]
AUTH = (["WWW-Authenticate", "X-Request-ID"], ["unauthorized"])


def only(slug: str) -> tuple[list[str], list[str]]:
    """An error response with the X-Request-ID header and one problem type."""
    return ["X-Request-ID"], [slug]


F403, N404, V422 = only("forbidden"), only("not-found"), only("validation")
P412, C413, R428 = (
    only("precondition-failed"),
    only("content-too-large"),
    only("precondition-required"),
)
WRITE_409 = ["state-conflict", "request-in-progress"]


def test_a_list_declares_paging_sorting_and_filter_errors(document: dict[str, Any]) -> None:
    assert shape(document, "get", "/v1/widgets") == {
        "id": "listWidgets",
        "headers": [RID],
        "responses": {
            "200": (["X-Request-ID"], None),  # a page has no ETag
            "400": (["X-Request-ID"], [*BAD, "invalid-cursor", "invalid-sort", "invalid-filter"]),
            "401": AUTH,
            "403": F403,
            "422": V422,
        },
    }


def test_a_create_declares_its_key_its_location_and_its_conflicts(
    document: dict[str, Any],
) -> None:
    success = ["ETag", "Idempotent-Replayed", "Location", "X-Request-ID"]
    assert shape(document, "post", "/v1/widgets") == {
        "id": "createWidget",
        "headers": [("Idempotency-Key", False), RID],
        "responses": {
            "201": (success, None),
            "400": (["X-Request-ID"], KEYED_BAD),
            "401": AUTH,
            "403": F403,
            "409": (
                ["X-Request-ID"],
                ["state-conflict", "already-exists", "concurrent-change", "request-in-progress"],
            ),
            "413": C413,
            "422": (["X-Request-ID"], ["validation", "idempotency-key-reused"]),
        },
    }
    assert shape(document, "post", "/v1/factories/{factory_id}/categories")["id"] == (
        "createFactoryCategory"
    )


def test_a_read_of_a_changing_resource_answers_its_etag_and_304(
    document: dict[str, Any],
) -> None:
    assert shape(document, "get", "/v1/widgets/{widget_id}") == {
        "id": "getWidget",
        "headers": [("If-None-Match", False), RID],
        "responses": {
            "200": (["ETag", "X-Request-ID"], None),
            "304": (["ETag", "X-Request-ID"], None),
            "400": (["X-Request-ID"], BAD),
            "401": AUTH,
            "403": F403,  # every role, but not anonymous
            "404": N404,
            "422": V422,
        },
    }
    assert document["paths"]["/v1/widgets/{widget_id}"]["get"]["responses"]["304"] == {
        "description": "Not modified: the If-None-Match ETag is still current; no body.",
        "headers": {"X-Request-ID": HEADERS["X-Request-ID"], "ETag": HEADERS["ETag"]},
    }
    # Changed only by an exempt write: no ETag to send back, so no If-None-Match either.
    assert shape(document, "get", "/v1/logs/{log_id}") == {
        "id": "getLog",
        "headers": [RID],
        "responses": {
            "200": (["X-Request-ID"], None),
            "400": (["X-Request-ID"], BAD),
            "401": AUTH,
            "403": F403,
            "404": N404,
            "422": V422,
        },
    }


def test_a_conditional_write_takes_if_match_and_replaces_declared_headers(
    document: dict[str, Any],
) -> None:
    """The route's own If-Match header is replaced by the contract's (required, described);
    other header parameters stay where they were."""
    assert shape(document, "patch", "/v1/widgets/{widget_id}") == {
        "id": "updateWidget",
        "headers": [("X-Trace", False), ("If-Match", True), RID],
        "responses": {
            "200": (["ETag", "X-Request-ID"], None),
            "400": (["X-Request-ID"], [*BAD, "malformed-json"]),
            "401": AUTH,
            "403": F403,
            "404": N404,
            "409": (["X-Request-ID"], ["state-conflict"]),
            "412": P412,
            "413": C413,
            "422": V422,
            "428": R428,
        },
    }
    parameters = document["paths"]["/v1/widgets/{widget_id}"]["patch"]["parameters"]
    assert [p for p in parameters if p["name"] == "If-Match"] == [header_parameter("If-Match")]
    assert shape(document, "delete", "/v1/widgets/{widget_id}")["responses"]["409"] == (
        ["X-Request-ID"],
        ["state-conflict"],
    )
    assert shape(document, "delete", "/v1/widgets/{widget_id}")["id"] == "deleteWidget"


def test_transitions_and_exempt_actions(document: dict[str, Any]) -> None:
    moved = shape(document, "post", "/v1/widgets/{widget_id}/transitions")
    assert moved["id"] == "createWidgetTransition"
    assert moved["headers"] == [("If-Match", True), RID]
    assert moved["responses"]["409"] == (
        ["X-Request-ID"],
        ["state-conflict", "illegal-transition", "request-in-progress"],
    )
    assert moved["responses"]["200"] == (["ETag", "X-Request-ID"], None)
    assert moved["responses"]["422"] == (["X-Request-ID"], ["validation", "idempotency-key-reused"])
    archived = shape(document, "post", "/v1/widgets/{widget_id}/archive")
    assert archived == {
        "id": "archiveWidget",
        "headers": [RID],
        "responses": {
            "200": (["X-Request-ID"], None),
            "400": (["X-Request-ID"], [*BAD, "invalid-idempotency-key"]),
            "401": AUTH,
            "403": F403,
            "404": N404,
            "409": (["X-Request-ID"], WRITE_409),
            "422": (["X-Request-ID"], ["validation", "idempotency-key-reused"]),
        },
    }
    replaced = shape(document, "put", "/v1/logs/{log_id}")
    assert replaced["id"] == "replaceLog" and replaced["headers"] == [RID]
    assert "412" not in replaced["responses"] and "428" not in replaced["responses"]


def test_an_open_route_has_no_403_and_drops_errors_it_cannot_give(
    document: dict[str, Any],
) -> None:
    """Its own success headers stay; a declared error the rule does not derive (418) goes."""
    assert shape(document, "get", "/v1/status") == {
        "id": "getStatus",
        "headers": [RID],
        "responses": {
            "200": (["X-Request-ID", "X-Served-By"], None),
            "202": (["X-Request-ID"], None),
            "400": (["X-Request-ID"], BAD),
            "401": AUTH,
        },
    }


def test_query_parameters_count_whether_declared_directly_or_published(
    document: dict[str, Any],
) -> None:
    """Paging from a dependency (published, not the route's own) and a parameter left out
    of the document (the route's own) both make a 422 possible."""
    entries = shape(document, "get", "/v1/entries")
    assert entries["id"] == "getEntries"
    assert entries["responses"]["400"] == (["X-Request-ID"], [*BAD, "invalid-cursor"])
    assert set(entries["responses"]) == {"200", "400", "401", "403", "422"}
    probe = shape(document, "get", "/v1/probe")
    assert set(probe["responses"]) == {"200", "400", "401", "422"}
    nested = shape(
        document, "get", "/v1/business/{business_id}/compliance-points/{point_id}/sub_items"
    )
    assert nested["id"] == "getBusinessCompliancePointSubItems"
    assert set(nested["responses"]) == {"200", "400", "401", "404", "422"}


def test_other_shapes_of_id_and_the_unpublished(document: dict[str, Any]) -> None:
    lone = shape(document, "post", "/v1/search")
    assert lone["id"] == "createSearch"  # one noun: a create, not the verb "search"
    assert lone["headers"] == [RID]  # answers 200: not a create, so no Idempotency-Key
    preview = shape(document, "options", "/v1/widgets/{widget_id}/preview")
    assert preview["id"] == "optionsWidgetPreview"
    assert set(preview["responses"]) == {"200", "400", "401", "403", "404", "422"}
    assert not [path for path in document["paths"] if path.startswith("/v1/hidden")]


def test_sort_is_an_enumeration_with_member_names(document: dict[str, Any]) -> None:
    parameters = document["paths"]["/v1/widgets"]["get"]["parameters"]
    [sort] = [p for p in parameters if p["name"] == "sort"]
    assert sort["in"] == "query" and sort["required"] is False
    assert sort["schema"] == {
        "type": "string",
        "enum": ["id", "-id", "text", "-text"],
        "title": "Sort",
        "x-enum-varnames": ["ID", "ID_DESC", "TEXT", "TEXT_DESC"],
    }
    [limit] = [p for p in parameters if p["name"] == "limit"]
    assert "enum" not in limit["schema"]


def test_request_defaults_move_to_the_description_and_problem_details_is_published(
    document: dict[str, Any],
) -> None:
    schemas = document["components"]["schemas"]
    size = schemas["WidgetIn"]["properties"]["size"]
    assert "default" not in size and size["description"] == "Default when left out: `3`."
    assert schemas["ProblemDetails"]["title"] == "ProblemDetails"
    assert "WidgetPage" in schemas and "Page_WidgetRead_" not in schemas
    listed = document["paths"]["/v1/widgets"]["get"]["responses"]["200"]
    assert listed["content"]["application/json"]["schema"] == {"$ref": REF_PREFIX + "WidgetPage"}


def test_a_document_without_schemas_still_gets_the_problem_schema_its_errors_use() -> None:
    app = FastAPI(generate_unique_id_function=operation_id)
    router = APIRouter()

    @router.get("/v1/ping")
    async def ping(_: Any = Depends(PUBLIC)) -> Any: ...

    app.include_router(router)
    publish_access(app)
    publish_contract(app)
    document = app.openapi()
    problem = document["paths"]["/v1/ping"]["get"]["responses"]["401"]
    assert problem["content"][PROBLEM_CONTENT_TYPE]["schema"] == {
        "$ref": REF_PREFIX + "ProblemDetails"
    }
    assert list(document["components"]["schemas"]) == ["ProblemDetails"]


def test_a_read_declared_on_the_app_itself_is_named_without_its_response_model_yet() -> None:
    """FastAPI calls the id function before the route has a response model: the rule must not
    need one to name it (a GET declared on the app used to raise AttributeError)."""
    app = FastAPI(generate_unique_id_function=operation_id)

    @app.get("/v1/notes/{note_id}/summary")
    async def summary(note_id: str) -> dict[str, str]:
        return {"id": note_id}

    assert app.openapi()["paths"]["/v1/notes/{note_id}/summary"]["get"]["operationId"] == (
        "getNoteSummary"
    )
