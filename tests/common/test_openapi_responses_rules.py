"""The pieces the OpenAPI contract is assembled from (services/common/openapi_contract.py): an
error response naming its problem types, the header parameters handed out, and the two
predicates that decide If-Match and Idempotency-Key."""

from __future__ import annotations

from services.common.etag import if_match_exempt
from services.common.openapi_contract import (
    HEADERS,
    PROBLEM_TYPES_EXTENSION,
    creates,
    header_parameter,
    needs_if_match,
    problem_response,
)
from services.common.openapi_schemas import REF_PREFIX
from services.common.problems import PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE


def test_a_problem_response_names_its_types_and_shows_the_default_one() -> None:
    response = problem_response(409, "Retry-After", kinds=("already-exists", "state-conflict"))
    base = PROBLEM_TYPE_BASE
    assert response == {
        "description": "Conflicts with the resource's current state, or a request with this "
        f"Idempotency-Key is still in progress. Problem types ({base}...): "
        "`already-exists`, `state-conflict`.",
        "headers": {
            "X-Request-ID": HEADERS["X-Request-ID"],
            "Retry-After": HEADERS["Retry-After"],
        },
        "content": {
            PROBLEM_CONTENT_TYPE: {
                "schema": {"$ref": REF_PREFIX + "ProblemDetails"},
                "example": {
                    "type": base + "state-conflict",
                    "title": "Not allowed in this state",
                    "status": 409,
                    "detail": "Conflicts with the resource's current state, or a request with "
                    "this Idempotency-Key is still in progress.",
                },
            }
        },
        PROBLEM_TYPES_EXTENSION: [base + "already-exists", base + "state-conflict"],
    }


def test_a_problem_response_without_its_default_type_shows_the_first_named() -> None:
    response = problem_response(400, kinds=("invalid-cursor", "invalid-sort"))
    example = response["content"][PROBLEM_CONTENT_TYPE]["example"]
    assert example["type"] == PROBLEM_TYPE_BASE + "invalid-cursor"
    assert example["title"] == "Invalid cursor"
    assert list(response["headers"]) == ["X-Request-ID"]
    default = problem_response(404)
    assert default[PROBLEM_TYPES_EXTENSION] == [PROBLEM_TYPE_BASE + "not-found"]
    assert default["description"].endswith(f"Problem types ({PROBLEM_TYPE_BASE}...): `not-found`.")


def test_headers_handed_out_are_copies() -> None:
    """A caller editing one operation's parameter must not change every other operation's."""
    first = header_parameter("If-Match")
    first["required"] = False
    assert header_parameter("If-Match")["required"] is True


def test_if_match_and_create_rules() -> None:
    assert needs_if_match("PATCH", "/v1/widgets/{widget_id}", {})
    assert not needs_if_match("GET", "/v1/widgets/{widget_id}", {})
    assert not needs_if_match("PATCH", "/v1/widgets", {})
    assert not needs_if_match("PATCH", "/v1/widgets/{widget_id}", if_match_exempt("reason"))
    assert creates("POST", {"responses": {"201": {}}})
    assert not creates("POST", {"responses": {"200": {}}})
    assert not creates("PUT", {"responses": {"201": {}}})
    assert not creates("POST", {})
